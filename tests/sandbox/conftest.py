"""Escape-suite fixtures: a real bubblewrap sandbox with small limits, and host-side probes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from accord.sandbox import Limits, Sandbox, SandboxResult, open_sandbox

SANDBOX_UNDER_TEST = "bubblewrap"
MiB = 1 << 20
SMALL = Limits(
    wall_seconds=5,
    cpu_seconds=2,
    memory_bytes=256 * MiB,
    max_processes=16,
    file_size_bytes=1 * MiB,
    open_files=64,
    output_bytes=64 * 1024,
    workdir_bytes=8 * MiB,
)


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """The real bubblewrap backend; refuses loudly (the suite fails) when bwrap is unusable.

    SANDBOX_UNDER_TEST may name another registered backend. Never point the whole suite at
    "unsafe-local" as root: the attempts would then really kill, write and rename on the host.
    """
    return open_sandbox(SANDBOX_UNDER_TEST)


@pytest.fixture
def run(sandbox: Sandbox) -> Callable[..., SandboxResult]:
    """Run Python code under SMALL limits (override with keyword limits)."""

    def _run(code: str, *args: str, limits: Limits = SMALL, **kw: object) -> SandboxResult:
        return sandbox.run(list(args), python_code=code, limits=limits, **kw)  # type: ignore[arg-type]

    return _run


def report(result: SandboxResult) -> dict:
    """The JSON object the program printed last (fails the test with its stderr otherwise)."""
    lines = result.stdout.decode().strip().splitlines()
    assert lines, f"no output; exit {result.exit_code}; stderr: {result.stderr.decode()[-2000:]}"
    return json.loads(lines[-1])


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_gone(marker: str, seconds: float = 1.5) -> list[int]:
    """Wait for processes carrying `marker` to disappear; the ones still there."""
    deadline = time.monotonic() + seconds
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def victim() -> Iterator[int]:
    """A host process the sandbox will try to kill or trace."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()
