"""One consistent CLI: --pool, -h, --version, latest, help texts as written, clear refusals."""

from __future__ import annotations

import re

import typer

from accord.cli.app import app
from tests.test_cli import accord


def test_version_and_short_help() -> None:
    from importlib.metadata import version

    done = accord("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"accord {version('accord')}"
    for args in (["-h"], ["run", "-h"], ["agent", "run", "-h"], ["sql", "-h"]):
        shown = accord(*args)
        assert shown.returncode == 0 and "Usage:" in shown.stdout, (args, shown.stderr)


def test_pool_is_one_option_everywhere_and_old_flags_still_work(tmp_path) -> None:
    db = str(tmp_path / "l.duckdb")
    for command in (["run", "-h"], ["agent", "run", "-h"], ["bench", "-h"]):
        assert "--pool" in accord(*command).stdout, command
    assert "--local" not in accord("run", "-h").stdout  # a hidden, deprecated alias
    old = accord("run", "configs/scripted.yaml", "--db", db, "--local")
    assert old.returncode == 0 and "--local is deprecated: write --pool local" in old.stderr
    clash = accord("run", "configs/scripted.yaml", "--db", db, "--local", "--pool", "ray")
    assert clash.returncode == 2 and "contradicts" in clash.stderr
    bad = accord("run", "configs/scripted.yaml", "--db", db, "--pool", "gpu")
    assert bad.returncode == 2 and "unknown pool 'gpu'" in bad.stderr


def test_latest_is_the_default_run_and_resumes(tmp_path) -> None:
    db = str(tmp_path / "l.duckdb")
    empty = accord("show", "--db", db)
    assert empty.returncode == 2 and "no ledger here" in empty.stderr
    assert accord("run", "configs/scripted.yaml", "--db", db, "--pool", "local").returncode == 0
    resumed = accord(
        "run",
        "configs/scripted.yaml",
        "--db",
        db,
        "--pool",
        "local",
        "--resume",
        "latest",
        "--json",
    )
    assert resumed.returncode == 0, resumed.stderr
    runs = accord("sql", "--db", db, "SELECT count(*) AS n FROM runs", "--json").stdout
    assert '"n": 1' in runs  # resumed the one run instead of starting another


def test_run_on_an_agent_crew_says_to_use_agent_run(tmp_path) -> None:
    done = accord("run", "configs/refund.yaml", "--db", str(tmp_path / "l.duckdb"))
    assert done.returncode == 2, done.stdout
    assert "has goals but no tasks" in done.stderr
    assert "accord agent run configs/refund.yaml" in done.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: e\nroles: [{name: a}]\n")
    nothing = accord("run", str(empty), "--db", str(tmp_path / "l.duckdb"))
    assert nothing.returncode == 2 and "has no tasks to run" in nothing.stderr


def _commands(group, path=()):
    for name, command in getattr(group, "commands", {}).items():
        yield (*path, name), command
        yield from _commands(command, (*path, name))


def test_every_help_text_is_shown_as_written() -> None:
    """Rich markup must not eat text such as 'accord[crewai]' from any option's help."""
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        texts = [p.help for p in command.params if getattr(p, "help", None) and not p.hidden]
        if not texts:
            continue
        shown = accord(*path, "--help")
        assert shown.returncode == 0, (path, shown.stderr)
        flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown.stdout).split())
        for text in texts:
            assert " ".join(text.split()) in flat, (path, text)


def test_an_unreachable_cluster_address_is_a_clear_error_not_a_hang(tmp_path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = tmp_path / "l.duckdb"
    done = accord("run", "configs/scripted.yaml", "--db", str(db), "--address", f"127.0.0.1:{port}")
    assert done.returncode == 2, done.stderr
    assert f"--address: cannot reach the Ray cluster at '127.0.0.1:{port}'" in done.stderr
    assert "--pool local" in done.stderr and "gcs" not in done.stderr.lower()
    assert done.stderr.count("\n") == 1  # one line, no log spam


def test_sandbox_options_are_read_wherever_written_and_after_dashdash_go_to_the_program(
    tmp_path,
) -> None:
    program = tmp_path / "argv.py"
    program.write_text("import sys\nprint(sys.argv[1:])\n")
    db = tmp_path / "l.duckdb"
    trailing = accord("sandbox", "run", str(program), "one", "--unsafe-local", "--db", str(db))
    assert trailing.returncode == 0, trailing.stderr
    assert trailing.stdout.strip() == "['one']"  # the option was the sandbox's, not the program's
    assert "isolation: unsafe-local" in trailing.stderr and db.exists()  # and it is on record
    audit = accord("audit", "show", "--db", str(db))  # `latest` by default, as everywhere
    assert audit.returncode == 0 and "audit trail of run" in audit.stdout, audit.stderr
    passed = accord("sandbox", "run", str(program), "one", "--", "--unsafe-local", "--cpu", "3")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip() == "['one', '--unsafe-local', '--cpu', '3']"
    assert "isolation: unsafe-local" not in passed.stderr


def test_ray_failing_to_start_is_one_error_naming_the_way_out(monkeypatch) -> None:
    import pytest
    import ray

    from accord.errors import RunError
    from accord.roles.actor import ensure_ray

    def busy(**_: object) -> None:  # what Ray raises when its node does not come up in time
        raise Exception("The current node timed out during startup. This could happen ...")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", busy)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(
        RunError, match=r"Ray did not start: The current node timed out.*--pool local"
    ):
        ensure_ray()
