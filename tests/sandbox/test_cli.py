"""`accord sandbox run FILE [ARGS...]` through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCORD = [sys.executable, "-c", "from accord.cli.app import main; main()"]


def accord(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACCORD, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )


def test_runs_the_example_with_its_arguments() -> None:
    done = accord("sandbox", "run", "examples/hello.py", "Ada")
    assert done.returncode == 0, done.stderr
    assert "hello, Ada, from 'sandbox'" in done.stdout
    assert "network: unreachable" in done.stdout
    assert "exit code 0" in done.stderr and "limit hit: none" in done.stderr
    assert "isolation: bubblewrap" in done.stderr


def test_program_options_and_exit_code_pass_through(tmp_path: Path) -> None:
    prog = tmp_path / "argv.py"
    prog.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(7)\n")
    done = accord("sandbox", "run", str(prog), "-x", "y", "--", "--unsafe-local")
    assert done.returncode == 7
    assert "['-x', 'y', '--unsafe-local']" in done.stdout
    assert "isolation: bubblewrap" in done.stderr  # the flag after -- went to the program


def test_limit_hit_is_shown(tmp_path: Path) -> None:
    prog = tmp_path / "sleepy.py"
    prog.write_text("import time\ntime.sleep(30)\n")
    done = accord("sandbox", "run", "--timeout", "0.5", str(prog))
    assert done.returncode == 137
    assert "limit hit: wall_time" in done.stderr


def test_unsafe_local_warns(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.duckdb")  # an unsafe-local run is audited in the ledger
    done = accord("sandbox", "run", "--unsafe-local", "--db", ledger, "examples/hello.py")
    assert done.returncode == 0
    assert "without isolation" in done.stderr and "isolation: unsafe-local" in done.stderr


def test_out_of_range_limits_are_a_one_line_error() -> None:
    for flag, value in [
        ("--timeout", "inf"),
        ("--timeout", "nan"),
        ("--timeout", "1e308"),
        ("--timeout", "-1"),
        ("--memory-mb", "100000000"),
        ("--cpu", "0"),
    ]:
        done = accord("sandbox", "run", flag, value, "examples/hello.py")
        assert done.returncode == 2, (flag, value, done.stderr)
        assert flag in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


HOSTILE = (
    "import sys\n"
    "sys.stdout.write('ok\\x1b]52;c;aGVsbG8=\\x07\\r\\x1b[2Kforged line\\x9b1A\\u202eevil\\n')\n"
    "sys.stderr.write('err\\x1b[31m\\x00\\tend\\n')\n"
)


def test_terminal_escapes_in_output_are_shown_not_sent(tmp_path: Path) -> None:
    prog = tmp_path / "hostile.py"
    prog.write_text(HOSTILE)
    done = accord("sandbox", "run", str(prog))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("ok\\x1b]52;c;aGVsbG8=\\x07\\x0d\\x1b[2Kforged line\\x9b1A\\u202eevil\n")
    assert "err\\x1b[31m\\x00\tend\n" in done.stderr
    assert not any(c in done.stdout + done.stderr for c in "\x1b\x07\r\x00\x9b\u202e")
    raw = subprocess.run(
        [*ACCORD, "sandbox", "run", "--raw", str(prog)], capture_output=True, cwd=ROOT, timeout=60
    )
    assert raw.stdout.startswith(b"ok\x1b]52;c;aGVsbG8=\x07\r")  # --raw: byte for byte


CREW = """\
name: t
models:
  fake: {backend: scripted, options: {default: "def f(): return 1"}}
roles:
  - {name: coder, model: fake, goal: write code}
tasks:
  - id: code
    question: Write f.
    validators:
      - code_tests: {tests: "assert f() == 1", timeout: %s}
"""


def test_out_of_range_code_tests_timeout_is_a_crew_file_error(tmp_path: Path) -> None:
    for value in (".inf", ".nan", "1.0e+308", "-1"):
        crew = tmp_path / "crew.yaml"
        crew.write_text(CREW % value)
        for command in ("validate", "run"):
            done = accord(
                command, str(crew), *(["--db", str(tmp_path / "l.db")] * (command == "run"))
            )
            assert done.returncode == 2, (value, command, done.stdout, done.stderr)
            assert f"{crew}:10:" in done.stderr and "timeout" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
