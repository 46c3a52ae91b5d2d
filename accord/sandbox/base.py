"""The sandbox seam: limits, the result of one run, the `Sandbox` protocol and its registry."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from accord.registry import Registry

Isolation = Literal["bubblewrap", "unsafe-local"]
LimitHit = Literal["wall_time", "cpu", "memory", "processes", "file_size", "open_files", "output"]
Files = Mapping[str, bytes | str]

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use; every field is enforced by the kernel or by the runner.

    wall_seconds ends the run (every process of it) when it passes. With a cgroup (see
    cgroup.py and `SandboxResult.enforcement`) memory_bytes bounds the memory of the whole run
    (every process, shared memory and tmpfs files included), max_processes its processes
    together, and cpu_seconds its total CPU time; without one they bind each process alone
    (rlimits; max_processes then counts per host uid and does not bind root). memory_bytes is
    also each process's address space, and file_size_bytes and open_files are per-process
    rlimits. output_bytes caps each of stdout and stderr and ends the run when exceeded;
    workdir_bytes sizes the tmpfs work dir and /tmp. Every field is a finite number > 0 and at
    most its `MAXIMA` entry; anything else is a ConfigError.
    """

    wall_seconds: float = 30.0
    cpu_seconds: int = 10
    memory_bytes: int = 512 * MiB
    max_processes: int = 64
    file_size_bytes: int = 16 * MiB
    open_files: int = 256
    output_bytes: int = 1 * MiB
    workdir_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            problem = _limit_problem(name, value)
            if problem:
                from accord.errors import ConfigError

                raise ConfigError(
                    f"sandbox limit {name} {problem}, got {value!r}",
                    hint=f"use a number in (0, {MAXIMA[name]:g}]",
                )


DAY = 86_400
TiB = 1 << 40
MAXIMA: dict[str, float] = {
    "wall_seconds": DAY,
    "cpu_seconds": DAY,
    "memory_bytes": TiB,
    "max_processes": 1 << 16,
    "file_size_bytes": TiB,
    "open_files": 1 << 20,
    "output_bytes": 1 << 30,
    "workdir_bytes": TiB,
}


def _limit_problem(name: str, value: object) -> str | None:
    """Why `value` is no valid limit `name` (None when it is)."""
    whole = name != "wall_seconds"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if whole and not isinstance(value, int):
        return "must be a whole number"
    if not math.isfinite(value) or value <= 0:
        return "must be a finite number > 0"
    if value > MAXIMA[name]:
        return f"must be at most {MAXIMA[name]:g}"
    return None


@dataclass(frozen=True)
class SandboxResult:
    """What came out of one run: exit code, captured output and which limit (if any) was hit.

    `isolation` says how the run was contained; an "unsafe-local" run is the one the ledger and
    audit trail must record (see `Sandbox.run`). `enforcement` says plainly what bounded the
    whole run on this machine (a cgroup, or per-process rlimits only) and `memory_peak_bytes`
    the most memory the run held at once (None without a cgroup). `cpu_seconds` counts every
    process of the run where a cgroup measures it, else the processes that were waited for.
    """

    exit_code: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    limit_hit: LimitHit | None = None
    signal: int | None = None
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    isolation: Isolation = "bubblewrap"
    argv: tuple[str, ...] = field(default=())
    memory_peak_bytes: int | None = None
    enforcement: str = ""

    @property
    def ok(self) -> bool:
        """The program exited with 0 and hit no limit."""
        return self.exit_code == 0 and self.limit_hit is None

    @property
    def text(self) -> str:
        """stdout decoded (invalid bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted programs; `argv` or `python_code`, with `files` in a fresh work dir."""

    name: str

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python_code: str | None = None,
        files: Files | None = None,
        limits: Limits | None = None,
        stdin: bytes | None = None,
    ) -> SandboxResult:
        """Run `argv` (or `python_code` as main.py, `argv` then being its arguments)."""
        ...

    def check(self) -> None:
        """Raise SandboxRefused unless this backend can isolate a run on this machine."""
        ...


sandboxes: Registry[Sandbox] = Registry("sandbox")
