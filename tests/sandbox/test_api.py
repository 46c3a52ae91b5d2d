"""The sandbox API: results, files, argv, stdin, registry, refusal, and the unsafe-local opt-in."""

from __future__ import annotations

import dataclasses
import os

import pytest

from accord.errors import ConfigError, RunError, SandboxRefused, UnknownNameError
from accord.sandbox import (
    BubblewrapSandbox,
    Limits,
    Sandbox,
    UnsafeLocalSandbox,
    open_sandbox,
    sandboxes,
)
from tests.sandbox.conftest import SMALL


def test_python_code_with_files_and_args(sandbox) -> None:
    code = "import sys, helper\nprint(helper.double(int(sys.argv[1])))\nsys.exit(4)"
    result = sandbox.run(
        ["21"], python_code=code, files={"helper.py": "def double(x): return 2*x"}, limits=SMALL
    )
    assert (result.stdout, result.exit_code, result.limit_hit) == (b"42\n", 4, None)
    assert result.isolation == "bubblewrap" and not result.ok


def test_argv_with_nested_files_and_stdin(sandbox) -> None:
    result = sandbox.run(
        ["python3", "pkg/tool.py"],
        files={
            "pkg/tool.py": b"import sys\nprint(sys.stdin.read().upper())",
            "pkg/__init__.py": "",
        },
        stdin=b"hi there",
        limits=SMALL,
    )
    assert result.ok and result.text == "HI THERE\n"


def test_plain_commands_run(sandbox) -> None:
    result = sandbox.run(["sh", "-c", "echo $HOME; pwd; id -u"], limits=SMALL)
    home, cwd, uid = result.text.split()
    assert (home, cwd) == ("/work", "/work") and result.ok
    assert os.geteuid() != 0 or uid != "0"


def test_each_run_gets_a_fresh_work_dir(sandbox) -> None:
    sandbox.run(python_code="open('left.txt', 'w').write('x')", limits=SMALL)
    result = sandbox.run(python_code="import os; print(sorted(os.listdir('.')))", limits=SMALL)
    assert result.text.strip() == "['main.py']"


def test_stderr_and_signals_are_reported(sandbox) -> None:
    result = sandbox.run(
        python_code="import os, sys\nsys.stderr.write('boom')\nos.abort()", limits=SMALL
    )
    assert result.stderr.startswith(b"boom") and result.signal == 6 and result.exit_code == -6


def test_cpu_and_wall_time_are_measured(sandbox) -> None:
    result = sandbox.run(python_code="sum(range(3_000_000))", limits=SMALL)
    assert 0.01 < result.cpu_seconds < SMALL.cpu_seconds


def test_python_code_needs_something_to_run(sandbox) -> None:
    with pytest.raises(ConfigError):
        sandbox.run()
    with pytest.raises(ConfigError):
        sandbox.run(python_code="1", files={"main.py": "2"})


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="cpu_seconds"):
        Limits(cpu_seconds=0)


def test_limits_reject_what_is_not_a_finite_bounded_number() -> None:
    bad = [
        {"wall_seconds": float("inf")},
        {"wall_seconds": float("nan")},
        {"wall_seconds": 1e308},
        {"wall_seconds": -1},
        {"wall_seconds": True},
        {"cpu_seconds": 1.5},
        {"cpu_seconds": float("inf")},
        {"memory_bytes": 10**30},
        {"output_bytes": "1"},
    ]
    for fields in bad:
        with pytest.raises(ConfigError, match=next(iter(fields))):
            Limits(**fields)  # type: ignore[arg-type]
    assert Limits(wall_seconds=0.5, cpu_seconds=1).wall_seconds == 0.5


def test_code_tests_timeout_is_checked_when_the_crew_is_built() -> None:
    from accord.consensus.validators import build_validator

    for timeout in (float("inf"), float("nan"), 1e308, 0):
        with pytest.raises(ConfigError, match="code_tests timeout"):
            build_validator({"code_tests": {"tests": "pass", "timeout": timeout}})


def test_registry_names_and_protocol() -> None:
    assert sandboxes.names() == ["bubblewrap", "unsafe-local"]
    assert isinstance(BubblewrapSandbox(), Sandbox) and isinstance(UnsafeLocalSandbox(), Sandbox)
    with pytest.raises(UnknownNameError, match="bubblewrap"):
        open_sandbox("bublewrap")


def test_missing_bwrap_is_refused_not_bypassed() -> None:
    box = BubblewrapSandbox(bwrap="")
    with pytest.raises(SandboxRefused, match="not installed") as info:
        box.run(python_code="print('ran anyway')")
    assert isinstance(info.value, RunError) and info.value.exit_code == 1
    assert "make system-deps" in str(info.value)


def test_unusable_bwrap_is_refused(tmp_path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    with pytest.raises(SandboxRefused, match="No permissions to create new namespace"):
        BubblewrapSandbox(bwrap=str(broken)).run(python_code="print('ran anyway')")


def test_unsafe_local_is_explicit_and_labelled() -> None:
    box = open_sandbox(unsafe_local=True)
    result = box.run(python_code="import os; print(os.getcwd())", limits=SMALL)
    assert result.ok and result.isolation == "unsafe-local"
    assert "accord-unsafe-" in result.text and not os.path.exists(result.text.strip())


def test_unsafe_local_still_applies_limits_and_timeout() -> None:
    box = UnsafeLocalSandbox()
    spin = box.run(
        python_code="while True: pass",
        limits=dataclasses.replace(SMALL, cpu_seconds=1, wall_seconds=10),
    )
    assert spin.limit_hit == "cpu" and not spin.timed_out
    sleep = box.run(
        python_code="import time; time.sleep(30)",
        limits=dataclasses.replace(SMALL, wall_seconds=0.5),
    )
    assert sleep.timed_out and sleep.limit_hit == "wall_time"
    memory = box.run(python_code="bytearray(1 << 30)", limits=SMALL)
    assert memory.limit_hit == "memory"


def test_bwrap_setup_failure_is_a_refusal_not_a_program_exit(sandbox) -> None:
    # a name bwrap cannot create (a folder and a file of the same name): the program never runs
    with pytest.raises(SandboxRefused, match="bwrap: "):
        sandbox.run(["true"], files={"pkg": b"x", "pkg/mod.py": b"y"}, limits=SMALL)


def test_posix_shared_memory_works(sandbox) -> None:
    code = (
        "import multiprocessing as mp\n"
        "q = mp.Queue()\np = mp.Process(target=q.put, args=(5,))\np.start()\n"
        "print(q.get())\np.join()"
    )
    result = sandbox.run(python_code=code, limits=SMALL)
    assert result.ok and result.text == "5\n", result.stderr
