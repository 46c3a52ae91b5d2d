"""The `accord` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

ACCORD = [sys.executable, "-m", "accord.cli"]


def accord(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(
        [*ACCORD, *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=300
    )


def test_run_then_ledger_shows_the_run(tmp_path) -> None:
    db = tmp_path / "l.duckdb"
    run = accord("run", "configs/scripted.yaml", "--db", str(db), "--pool", "local")
    assert run.returncode == 0, run.stderr
    assert "escalated" in run.stdout and "confident" in run.stdout
    assert "4 decisions, 2 escalated to a vote" in run.stdout
    listing = accord("ledger", "--db", str(db))
    assert listing.returncode == 0 and "scripted-demo" in listing.stdout
    shown = accord("ledger", "latest", "--db", str(db))
    assert shown.returncode == 0 and "escalated" in shown.stdout and "42" in shown.stdout


def test_user_mistakes_exit_2_with_one_line_and_no_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nroles:\n  - name: a\n    gaol: typo\n")
    for args in (
        ["validate", str(bad)],
        ["run", str(bad)],
        ["ledger", "--db", str(tmp_path / "none.duckdb")],
        ["run", str(tmp_path / "missing.yaml")],
    ):
        result = accord(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stderr.startswith("error: ")
    result = accord("validate", str(bad))
    assert f"{bad}:4:5: roles[0].gaol: unknown key 'gaol'" in result.stderr
    assert "did you mean 'goal'?" in result.stderr


def test_validate_accepts_every_shipped_config() -> None:
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        result = accord("validate", str(path))
        assert result.returncode == 0, (path, result.stderr)
        assert ": ok (" in result.stdout


def test_a_duckdb_file_that_is_not_a_ledger_is_a_clear_error(tmp_path) -> None:
    import duckdb

    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE results (x INTEGER)")
    con.close()
    for command in (["ledger"], ["audit", "verify"], ["calibrate", "--target-accuracy", "0.5"]):
        done = accord(*command, "--db", str(other))
        assert done.returncode == 2, (command, done.stderr)
        assert "not an accord ledger" in done.stderr and "Traceback" not in done.stderr


def test_a_mistyped_option_or_command_is_a_usage_error_not_a_traceback() -> None:
    for args, message in (
        (["run", "configs/scripted.yaml", "--pol", "local"], "No such option: --pol"),
        (["bench", "--limit", "many"], "Invalid value for '--limit'"),
        (["ledgr"], "No such command 'ledgr'"),
    ):
        done = accord(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
        assert "-h' for help" in done.stderr  # the usage line says where to look


def test_a_run_that_fails_before_it_starts_exits_2_cleanly(tmp_path) -> None:
    """The ledger file is opening in the background when the agents fail to start: the
    process still exits with the one-line error (it used to abort in DuckDB at exit)."""
    done = accord(
        "run", "configs/scripted.yaml", "--backend", "nosuch", "--pool", "local", "--db",
        str(tmp_path / "l.duckdb"),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "unknown backend 'nosuch'" in done.stderr
    assert "terminate called" not in done.stderr and "Traceback" not in done.stderr


def _children(pid: int) -> list[int]:
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_for_child(pid: int, deadline_s: float = 120.0) -> None:
    """Block until process `pid` has started a child (the sandbox), or the deadline passes."""
    import time

    end = time.monotonic() + deadline_s
    while not _children(pid) and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(0.5)  # the child is past its own start: the CLI waits on it


def test_ctrl_c_exits_130_and_a_closed_prompt_is_aborted_not_a_traceback(tmp_path) -> None:
    import signal

    program = tmp_path / "sleep.py"
    program.write_text("import time\ntime.sleep(60)\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    running = subprocess.Popen(
        [*ACCORD, "sandbox", "run", str(program), "--db", str(tmp_path / "ledger.duckdb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    _wait_for_child(running.pid)  # interrupt the program's run, not the CLI's start-up
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == 130, stderr  # it was 0: typer returned the code unseen
    assert "interrupted" in stderr
    prompt = subprocess.run(
        [
            *ACCORD,
            "agent",
            "run",
            str(ROOT / "configs" / "refund.yaml"),
            "--interactive",
            "--db",
            str(tmp_path / "a.duckdb"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )  # cwd: the crew keeps its shop at .accord/shop.duckdb
    assert prompt.returncode == 1 and "aborted" in prompt.stderr, prompt.stderr[-2000:]
    assert "Traceback" not in prompt.stderr
