"""The ledger holds one DuckDB connection per run and lets go of it when the run is done."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from accord.consensus.records import Attempt, Decision, Verdict
from accord.errors import ConfigError
from accord.ledger import Ledger, list_runs
from accord.ledger.reader import open_readonly
from accord.ledger.schema import MIGRATIONS, apply_migrations, migrate
from tests.conftest import ROOT


def _decision(task: str, role: str | None = "r") -> Decision:
    attempt = Attempt(
        task_id=task,
        role=role,  # type: ignore[arg-type]
        model="scripted",
        answer="a",
        raw="a",
        prompt_tokens=3,
        completion_tokens=1,
        model_ms=1.0,
        seed=0,
        temperature=0.0,
        verdict=Verdict(True),
    )
    return Decision(
        task_id=task,
        answer="a",
        confidence=0.9,
        path="single",
        stop_reason="confident",
        status="accepted",
        policy="single",
        attempts=(attempt,),
        wall_ms=1.0,
    )


def _count(path: Path, run: str) -> int:
    with open_readonly(path) as db:
        row = db.execute("SELECT count(*) FROM decisions WHERE run_id = ?", [run]).fetchone()
    assert row is not None
    return int(row[0])


def _existing(path: Path) -> Path:
    """A ledger file as a project has it (created, migrated, closed)."""
    Ledger(path).close()
    return path


def test_a_new_ledger_file_is_created_and_migrated_at_once(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path)
    assert ledger._held is not None and ledger._held.opens == 1 and not ledger._held.is_open
    with open_readonly(ledger_path) as db:
        rows = db.execute("SELECT count(*) FROM schema_migrations").fetchall()
    assert rows == [(len(MIGRATIONS),)]
    with ledger.connect() as db:  # a use outside a run (memory, audit) opens and lets go
        db.execute("SELECT 1")
    assert not ledger._held.is_open and ledger._held.opens == 2


def test_a_run_opens_the_file_once_and_lets_go_when_it_finishes(ledger_path: Path) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=3, flush_seconds=3600, idle_s=60, max_hold_s=60)
    run = ledger.start_run("c")
    for i in range(10):  # three full batches are written on the way
        ledger.record(run, _decision(f"t{i}"))
    assert _count(ledger_path, run) == 9  # an in-process reader joins the open instance
    assert ledger._held is not None and ledger._held.opens == 1 and ledger._held.is_open
    with ledger.connect() as db:  # a use inside the run (memory, audit) keeps the file
        db.execute("SELECT 1")
    assert ledger._held.is_open
    ledger.finish_run(run)
    assert not ledger._held.is_open and ledger._held.opens == 1
    # the file is free again: even a raw read-only connection of this process opens it
    db = duckdb.connect(str(ledger_path), read_only=True)
    try:
        assert db.execute("SELECT status FROM runs").fetchall() == [("finished",)]
        assert db.execute("SELECT count(*) FROM decisions").fetchall() == [(10,)]
    finally:
        db.close()


def test_an_idle_ledger_lets_go_of_the_file(ledger_path: Path) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, flush_seconds=3600, idle_s=0.05, max_hold_s=60)
    run = ledger.start_run("c")
    assert ledger._held is not None and ledger._held.is_open
    deadline = time.monotonic() + 5
    while ledger._held.is_open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not ledger._held.is_open
    ledger.record(run, _decision("t1"))
    ledger.flush()  # reopens for the write
    assert ledger._held.opens == 2
    ledger.finish_run(run)
    assert _count(ledger_path, run) == 1


def test_a_connection_held_past_max_hold_is_closed_when_given_back(ledger_path: Path) -> None:
    ledger = Ledger(_existing(ledger_path), flush_seconds=3600, idle_s=60, max_hold_s=0.0)
    assert ledger._held is not None and not ledger._held.is_open
    run = ledger.start_run("c")
    assert not ledger._held.is_open and ledger._held.opens == 1
    ledger.record(run, _decision("t1"))
    ledger.flush()
    assert not ledger._held.is_open and ledger._held.opens == 2
    ledger.finish_run(run)


def test_another_process_waits_for_the_idle_release_then_reads(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, flush_seconds=3600, idle_s=0.5, max_hold_s=60)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    ledger.flush()
    started = time.monotonic()
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from accord.ledger import list_runs; "
            "print(list_runs(sys.argv[1])[0]['decisions'])",
            str(ledger_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "1"
    assert not ledger._held.is_open  # the reader got in because the writer let go
    assert time.monotonic() - started >= 0.3
    ledger.finish_run(run)


def test_a_failed_flush_on_a_file_rolls_back_and_the_connection_stays_usable(
    ledger_path: Path,
) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600, idle_s=60, max_hold_s=60)
    run = ledger.start_run("c")
    ledger.record(run, _decision("good"))
    ledger.record(run, _decision("bad", role=None))  # attempts.role is NOT NULL
    with pytest.raises(duckdb.ConstraintException):
        ledger.flush()
    assert _count(ledger_path, run) == 0
    ledger.record(run, _decision("after"))
    ledger.finish_run(run)
    assert _count(ledger_path, run) == 1
    assert ledger._held is not None and ledger._held.opens == 1


def test_a_new_run_written_by_another_ledger_too_is_still_recorded_once(
    ledger_path: Path,
) -> None:
    """Replays of a run started here are caught in memory; if another writer wrote the same
    run meanwhile, the primary key catches it and the keys are looked up instead."""
    first = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    run = first.start_run("c")
    first.record(run, _decision("t1"))
    first.flush()
    first.record(run, _decision("t1"))  # a replay: skipped without a lookup
    assert first.flush() == 0
    other = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    other.record(run, _decision("t2"))
    assert other.flush() == 1
    first.record(run, _decision("t2"))
    first.record(run, _decision("t3"))
    assert first.flush() == 1
    first.finish_run(run)
    other.close()
    assert _count(ledger_path, run) == 3
    assert [r["status"] for r in list_runs(ledger_path)] == ["finished"]


def test_a_current_schema_is_not_migrated_again_and_a_new_migration_is_applied() -> None:
    db = duckdb.connect(":memory:")
    assert len(migrate(db)) == len(MIGRATIONS)
    assert migrate(db) == []

    def m_extra(conn: duckdb.DuckDBPyConnection) -> None:
        conn.execute("CREATE TABLE extra (x INTEGER)")

    assert apply_migrations(db, [*MIGRATIONS, ("m_extra", m_extra)], "schema_migrations") == [
        "m_extra"
    ]
    assert db.execute("SELECT count(*) FROM extra").fetchall() == [(0,)]


def test_keep_open_serves_back_to_back_runs_with_one_open(ledger_path: Path) -> None:
    ledger = Ledger(_existing(ledger_path), idle_s=0.2, max_hold_s=60, keep_open=True)
    runs = []
    for _ in range(3):
        run = ledger.start_run("c")
        ledger.record(run, _decision("t1"))
        ledger.finish_run(run)
        runs.append(run)
    assert ledger._held is not None and ledger._held.opens == 1 and ledger._held.is_open
    assert [_count(ledger_path, r) for r in runs] == [1, 1, 1]
    deadline = time.monotonic() + 5
    while ledger._held.is_open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not ledger._held.is_open  # idle: other processes get the file back
    ledger.start_run("c")
    ledger.close()
    assert not ledger._held.is_open and ledger._held.opens == 2


HOLDER = """
import sys, time, duckdb
db = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
db.close()
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that holds the ledger file for `seconds` (returns once it holds it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_a_flush_that_cannot_open_the_file_keeps_its_rows_for_the_next(ledger_path: Path) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    ledger.release()  # let go of the file, then another process takes it for 3 s
    holder = _hold(ledger_path, 3)
    assert ledger._held is not None
    ledger._held.timeout_s = 0.3
    with pytest.raises(Exception, match="cannot open the ledger"):
        ledger.flush()
    holder.wait(timeout=30)
    ledger._held.timeout_s = 30
    ledger.record(run, _decision("t2"))
    ledger.finish_run(run)
    assert _count(ledger_path, run) == 2  # t1 was kept through the failed flush


def test_an_in_process_reader_during_a_run_reads_but_cannot_write(ledger_path: Path) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600, idle_s=60, max_hold_s=60)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    ledger.flush()
    with open_readonly(ledger_path) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
        with pytest.raises(duckdb.TransactionException):
            db.execute("DELETE FROM runs")
    ledger.record(run, _decision("t2"))
    ledger.finish_run(run)
    assert _count(ledger_path, run) == 2
    assert [r["run_id"] for r in list_runs(ledger_path)] == [run]


def test_a_run_starts_while_the_file_opens_in_the_background(ledger_path: Path) -> None:
    """`open_in_background` (what `Crew.run` calls): `start_run` and the first records do not
    wait for the file, here held by another process for a while; `finish_run` writes it all."""
    _existing(ledger_path)
    holder = _hold(ledger_path, 1.5)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    ledger.open_in_background()
    started = time.monotonic()
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    assert time.monotonic() - started < 1.0  # nothing waited for the holder
    assert ledger._held is not None and not ledger._held.is_open
    ledger.finish_run(run)  # waits for the file, then writes the run, its decision, its end
    holder.wait(timeout=30)
    assert ledger._held.opens == 1 and not ledger._held.is_open
    assert _count(ledger_path, run) == 1
    assert [(r["run_id"], r["status"]) for r in list_runs(ledger_path)] == [(run, "finished")]


def test_a_background_open_that_fails_is_raised_by_the_run(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.duckdb"
    not_a_database.write_text("these are my notes, not a DuckDB file\n")
    ledger = Ledger(not_a_database, flush_seconds=3600)
    ledger.open_in_background()
    with pytest.raises(ConfigError, match="cannot open the ledger"):
        run = ledger.start_run("c")  # raises here if the open has failed already
        deadline = time.monotonic() + 10
        while ledger._held is not None and ledger._held.open_error() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ledger.record(run, _decision("t1"))  # otherwise the first record raises it
    assert not_a_database.read_text() == "these are my notes, not a DuckDB file\n"


def test_a_crew_run_on_a_file_that_is_not_a_database_fails_cleanly(tmp_path: Path) -> None:
    from accord.crews.crew import Crew

    not_a_database = tmp_path / "notes.duckdb"
    not_a_database.write_text("notes\n")
    crew = Crew.from_yaml(ROOT / "configs" / "scripted.yaml")
    with pytest.raises(ConfigError, match="cannot open the ledger"):
        crew.run(db=not_a_database, pool="local")
    assert not_a_database.read_text() == "notes\n"


def test_the_run_row_is_written_as_soon_as_the_background_open_is_done(ledger_path: Path) -> None:
    """Another process sees the run while it is running (so `--resume` has a row to find
    even if this process dies before its first flush)."""
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600, idle_s=0.05)
    ledger.open_in_background()
    run = ledger.start_run("c")
    deadline = time.monotonic() + 10
    while (ledger._pending or ledger._held is None or ledger._held.opening) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert not ledger._pending
    assert [(r["run_id"], r["status"]) for r in list_runs(ledger_path)] == [(run, "running")]
    ledger.finish_run(run)
    assert [r["status"] for r in list_runs(ledger_path)] == ["finished"]


def test_releasing_does_not_wait_for_an_open_held_up_by_another_process(
    ledger_path: Path,
) -> None:
    _existing(ledger_path)
    holder = _hold(ledger_path, 1.5)
    ledger = Ledger(ledger_path)
    ledger.open_in_background()
    started = time.monotonic()
    ledger.release_unless_running()  # e.g. the agents failed to start: no run to write
    assert time.monotonic() - started < 0.5
    assert ledger._held is not None
    deadline = time.monotonic() + 10
    while ledger._held._abandoned and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder.poll() is None  # the abandoned open gave up without waiting for the lock
    assert not ledger._held.is_open and not ledger._held._abandoned
    holder.wait(timeout=30)
    db = duckdb.connect(str(ledger_path), read_only=True)  # nothing of ours holds the file
    db.close()


def test_a_run_whose_end_cannot_be_written_is_finished_by_the_next_use(ledger_path: Path) -> None:
    _existing(ledger_path)
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    first = ledger.start_run("c")
    ledger.record(first, _decision("t1"))
    ledger.release()
    holder = _hold(ledger_path, 2)
    assert ledger._held is not None
    ledger._held.timeout_s = 0.3
    with pytest.raises(ConfigError, match="cannot open the ledger"):
        ledger.finish_run(first, "interrupted")
    holder.wait(timeout=30)
    ledger._held.timeout_s = 30
    second = ledger.start_run("c")  # the next use writes what was kept, exactly once
    ledger.finish_run(second)
    ledger.finish_run(second)  # nothing queued twice: a repeated end is harmless
    runs = {r["run_id"]: r["status"] for r in list_runs(ledger_path)}
    assert runs == {first: "interrupted", second: "finished"}
    assert _count(ledger_path, first) == 1 and not ledger._pending


EXITS = """
import sys
from accord.crews.crew import Crew
from accord.errors import ConfigError
from accord.ledger import Ledger
crew = Crew.from_yaml(sys.argv[2])
if sys.argv[3] == "failed-run":  # the agents fail to start; the ledger keeps its file
    try:
        crew.run(ledger=Ledger(sys.argv[1], keep_open=True), backend="nosuch", pool="local")
    except ConfigError:
        pass
else:  # a program that starts an open and ends at once
    Ledger(sys.argv[1]).open_in_background()
"""


@pytest.mark.parametrize("case", ["failed-run", "open-then-exit"])
def test_an_open_held_up_by_another_process_does_not_hold_up_exit(
    ledger_path: Path, case: str
) -> None:
    _existing(ledger_path)
    holder = _hold(ledger_path, 8)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXITS, str(ledger_path), str(ROOT / "configs/scripted.yaml"), case],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    took = time.monotonic() - started
    holder.kill()
    assert done.returncode == 0, done.stderr[-2000:]
    assert took < 6, f"exit waited {took:.1f} s for the other process's lock"
