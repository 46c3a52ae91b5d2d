"""A sandboxed run dies with its caller, however the caller dies (issue 20, items 2 and 9).

Each test starts a real caller process (the `accord sandbox run` CLI, or Python using the API
or the `code_tests` validator), waits until the sandboxed program and its `setsid` daemon are
running, kills the caller with a signal and checks, by a bounded poll, that no process of the
sandbox is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sandbox.conftest import processes_with, wait_gone

# The program: a setsid daemon, then a long sleep; both carry the marker in their argv.
PROGRAM = """\
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("started", flush=True)
time.sleep(120)
"""

API_CALLER = """\
import sys
from accord.sandbox import Limits, open_sandbox
box = open_sandbox(unsafe_local=sys.argv[1] == "unsafe")
box.run([sys.argv[2]], python_code=open(sys.argv[3]).read(), limits=Limits(wall_seconds=120))
"""

VALIDATOR_CALLER = """\
import sys
from accord.consensus.code_tests import CodeTests
from accord.consensus.records import Task
check = CodeTests(tests="pass", unsafe_local=sys.argv[1] == "unsafe", timeout=120)
check.check(Task(id="t", prompt="p"), open(sys.argv[2]).read())
"""

# The answer the validator tests: imported by the test runner, it starts the same two processes.
ANSWER = """\
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", {marker!r}],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", {marker!r}])
"""


def _caller(kind: str, isolation: str, marker: str, tmp_path: Path) -> list[str]:
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM)
    python = [sys.executable, "-c"]
    if kind == "cli":
        unsafe = ["--unsafe-local", "--db", str(tmp_path / "l.duckdb")]
        return [
            *python,
            "from accord.cli.app import main; main()",
            "sandbox",
            "run",
            "--timeout",
            "120",
            *(unsafe if isolation == "unsafe" else []),
            str(program),
            marker,
        ]
    if kind == "api":
        return [*python, API_CALLER, isolation, marker, str(program)]
    answer = tmp_path / "answer.py"
    answer.write_text(ANSWER.format(marker=marker))
    return [*python, VALIDATOR_CALLER, isolation, str(answer)]


def _describe(pids: list[int]) -> list[str]:
    found = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            groups = Path(f"/proc/{pid}/cgroup").read_text().replace("\n", " ")
        except OSError:
            continue
        found.append(f"{pid}: {cmd} [{groups}]")
    return found


def _wait_started(marker: str, count: int, caller: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len([p for p in processes_with(marker) if p != caller.pid]) < count:
        assert caller.poll() is None, caller.communicate()
        assert time.monotonic() < deadline, f"the sandboxed program never started ({marker})"
        time.sleep(0.05)


def _cases() -> list[object]:
    """Every caller x signal x isolation; the CLI killed by SIGKILL runs in `make test` too."""
    cases = []
    for kind, sig in [
        ("cli", signal.SIGKILL),
        ("cli", signal.SIGTERM),
        ("cli", signal.SIGINT),
        ("api", signal.SIGKILL),
        ("validator", signal.SIGKILL),
    ]:
        for isolation in ("bubblewrap", "unsafe"):
            fast = kind == "cli" and sig == signal.SIGKILL
            marks = () if fast else (pytest.mark.slow,)
            cases.append(pytest.param(kind, sig, isolation, marks=marks))
    return cases


@pytest.mark.parametrize(("kind", "sig", "isolation"), _cases())
def test_sandbox_dies_with_its_caller(kind: str, sig: int, isolation: str, tmp_path) -> None:
    marker = f"accord-orphan-{uuid.uuid4().hex}"
    argv = _caller(kind, isolation, marker, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    caller = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_started(marker, 2, caller)  # the program and its setsid daemon
        caller.send_signal(sig)
        caller.wait(timeout=30)
        left = wait_gone(marker, seconds=15)
        assert left == [], f"survived the caller's {sig!r}: {_describe(left)}"
    finally:
        caller.kill()
        caller.wait()
        for pid in processes_with(marker):  # do not leave them behind if the test failed
            os.kill(pid, signal.SIGKILL)
