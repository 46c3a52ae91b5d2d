"""What users rely on from the ledger's file handling: the file is free between writes and
after a run, other processes read it, a busy or broken file is a clear error, nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from accord.consensus.records import Attempt, Decision, Verdict
from accord.errors import ConfigError
from accord.ledger import Ledger, list_runs
from accord.ledger.database import Database, opened
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


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """`sql` through a plain read-only DuckDB connection: it opens only a file nobody holds."""
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql).fetchall()


def _count(path: Path, run: str) -> int:
    with open_readonly(path) as db:
        row = db.execute("SELECT count(*) FROM decisions WHERE run_id = ?", [run]).fetchone()
    assert row is not None
    return int(row[0])


HOLDER = """
import sys, time, duckdb
while True:  # until the file is free
    try:
        db = duckdb.connect(sys.argv[1])
        break
    except duckdb.Error:
        time.sleep(0.01)
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


def test_a_new_ledger_file_is_created_migrated_and_left_free(ledger_path: Path) -> None:
    Ledger(ledger_path)
    assert _raw(ledger_path, "SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]
    Ledger(ledger_path).close()  # an existing file is not migrated twice
    assert _raw(ledger_path, "SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]


def test_after_a_run_the_file_alone_holds_it(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, batch_size=3, flush_seconds=3600)
    run = ledger.start_run("c")
    for i in range(10):
        ledger.record(run, _decision(f"t{i}"))
    ledger.finish_run(run)
    assert not Path(f"{ledger_path}.wal").exists()
    assert _raw(ledger_path, "SELECT status FROM runs") == [("finished",)]
    assert _raw(ledger_path, "SELECT count(*) FROM decisions") == [(10,)]


def test_a_full_batch_is_written_without_waiting_for_the_flush_time(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, batch_size=3, flush_seconds=3600)
    run = ledger.start_run("c")
    for i in range(7):
        ledger.record(run, _decision(f"t{i}"))
    deadline = time.monotonic() + 30
    while _count(ledger_path, run) < 6:  # in the background: no flush asked for
        assert time.monotonic() < deadline, "full batches were not written"
        time.sleep(0.02)
    ledger.close()
    assert _count(ledger_path, run) == 7


def test_the_run_row_is_written_before_any_flush(ledger_path: Path) -> None:
    """Another process sees the run while it runs (so `--resume` finds it after a SIGKILL)."""
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    deadline = time.monotonic() + 30
    while not list_runs(ledger_path):
        assert time.monotonic() < deadline, "the run's row was not written"
        time.sleep(0.02)
    assert [(r["run_id"], r["status"]) for r in list_runs(ledger_path)] == [(run, "running")]
    ledger.finish_run(run)


def test_a_write_waits_for_another_process_to_let_go(ledger_path: Path) -> None:
    Ledger(ledger_path).close()
    holder = _hold(ledger_path, 1.0)
    ledger = Ledger(ledger_path)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    ledger.finish_run(run)  # waits for the holder, then writes everything
    holder.wait(timeout=30)
    assert _raw(ledger_path, "SELECT status FROM runs") == [("finished",)]
    assert _count(ledger_path, run) == 1


def test_a_file_held_too_long_is_a_clear_error_and_nothing_is_lost(ledger_path: Path) -> None:
    Ledger(ledger_path).close()
    ledger = Ledger(Database(ledger_path, timeout_s=0.3), flush_seconds=3600)
    holder = _hold(ledger_path, 60)
    try:
        with pytest.raises(ConfigError, match="cannot open the ledger"):
            ledger.start_run("never")  # a run that cannot start says so at once
    finally:
        holder.kill()
        holder.wait(timeout=30)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    holder = _hold(ledger_path, 60)  # once the writer lets go between writes
    try:
        with pytest.raises(ConfigError, match="cannot open the ledger"):
            ledger.finish_run(run, "interrupted")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    second = ledger.start_run("c")  # the next use writes what was kept, exactly once
    ledger.record(second, _decision("t2"))
    ledger.finish_run(second)
    ledger.finish_run(second)  # a repeated end is harmless
    runs = {r["run_id"]: (r["crew"], r["status"]) for r in list_runs(ledger_path)}
    assert runs == {run: ("c", "interrupted"), second: ("c", "finished")}
    assert _count(ledger_path, run) == 1 and _count(ledger_path, second) == 1


def test_a_crew_run_on_a_file_that_is_not_a_database_fails_cleanly(tmp_path: Path) -> None:
    from accord.crews.crew import Crew

    not_a_database = tmp_path / "notes.duckdb"
    not_a_database.write_text("notes\n")
    crew = Crew.from_yaml(ROOT / "configs" / "scripted.yaml")
    with pytest.raises(ConfigError, match="cannot open the ledger"):
        crew.run(db=not_a_database, pool="local")
    assert not_a_database.read_text() == "notes\n"


def test_an_in_process_reader_during_a_run_reads_but_cannot_write(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t1"))
    ledger.flush()
    with open_readonly(ledger_path) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            db.execute("DELETE FROM runs")
    ledger.record(run, _decision("t2"))
    ledger.finish_run(run)
    assert _count(ledger_path, run) == 2


def test_two_owners_of_one_file_in_one_process_take_turns(ledger_path: Path) -> None:
    first, other = (Ledger(ledger_path, batch_size=1, flush_seconds=3600) for _ in range(2))
    runs = [first.start_run("a"), other.start_run("b")]
    for i in range(20):
        first.record(runs[0], _decision(f"t{i}"))
        other.record(runs[1], _decision(f"t{i}"))
    first.finish_run(runs[0])
    other.finish_run(runs[1])
    assert [_count(ledger_path, r) for r in runs] == [20, 20]


def test_keep_open_holds_the_file_until_close(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, keep_open=True)
    for _ in range(3):
        run = ledger.start_run("c")
        ledger.record(run, _decision("t1"))
        ledger.finish_run(run)
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(ledger_path), read_only=True)  # held between runs
    ledger.close()
    assert _raw(ledger_path, "SELECT count(*) FROM decisions") == [(3,)]


def test_threads_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    database = Database(path)
    with database.cursor() as db:
        db.execute("CREATE TABLE t (thread INTEGER, i INTEGER)")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                with database.cursor() as db:
                    db.execute("INSERT INTO t VALUES (?, ?)", [n, i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _raw(path, "SELECT count(*), count(DISTINCT (thread, i)) FROM t") == [(100, 100)]


def test_rows_queued_at_exit_are_written_and_the_file_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_ledger_database import _decision
from accord.ledger import Ledger
ledger = Ledger({str(path)!r}, keep_open=True, flush_seconds=3600)
run = ledger.start_run("c")
ledger.record(run, _decision("t1"))  # neither flushed nor closed
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)
    assert not Path(f"{path}.wal").exists()
    assert _raw(path, "SELECT count(*) FROM decisions") == [(1,)]


def test_a_forked_child_leaving_normally_does_not_checkpoint_the_parents_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.duckdb"
    code = f"""
import os, sys
from accord.ledger.database import Database
database = Database({str(path)!r})
hold = database.hold(); hold.__enter__()
with database.cursor() as db:
    db.execute("CREATE TABLE t (x INTEGER)")
    for i in range(50):
        db.execute("INSERT INTO t VALUES (?)", [i])
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit: interpreter shutdown frees what is left
os.waitpid(pid, 0)
with database.cursor() as db:
    for i in range(50, 100):
        db.execute("INSERT INTO t VALUES (?)", [i])  # committed to the WAL
os._exit(0)  # the parent dies before its own checkpoint
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert _raw(path, "SELECT count(*) FROM t") == [(100,)]  # the WAL was the parent's to keep


def test_files_created_here_get_small_blocks_and_others_keep_theirs(tmp_path: Path) -> None:
    new, made_elsewhere = tmp_path / "new.duckdb", tmp_path / "elsewhere.duckdb"
    duckdb.connect(str(made_elsewhere)).close()  # DuckDB's default block size
    for path in (new, made_elsewhere):
        with opened(path) as db:
            db.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    size = "SELECT block_size FROM pragma_database_size()"
    assert _raw(new, size) == [(16_384,)]
    assert _raw(made_elsewhere, size) == [(262_144,)]
    assert _raw(new, "SELECT count(*) FROM t") == [(1000,)]


def test_open_readonly_looks_for_the_ledger_tables_in_its_own_file_only(tmp_path: Path) -> None:
    ledger_file, other = tmp_path / "ledger.duckdb", tmp_path / "other.duckdb"
    Ledger(ledger_file).close()
    with opened(other) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
    with (
        Database(ledger_file).cursor(),  # another file in use here meanwhile
        pytest.raises(ConfigError, match="not an accord ledger"),
        open_readonly(other),
    ):
        pass


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


def test_a_new_ledger_opens_in_the_duckdb_1_5_cli_format(ledger_path: Path) -> None:
    """duckdb-cli 1.5.x (the newest on PyPI) refuses files in DuckDB 2.0's format; a new ledger
    is written in 1.5's (checked by hand with duckdb 1.5.6 reading a crew run's ledger)."""
    Ledger(ledger_path).close()
    rows = _raw(ledger_path, "SELECT * FROM duckdb_databases() WHERE NOT internal")
    versions = [v.get("storage_version") for row in rows for v in row if isinstance(v, dict)]
    assert "v1.5.0+" in versions, rows


def test_a_database_that_is_not_a_ledger_gets_no_ledger_tables(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(theirs)) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(ConfigError, match=r"not an accord ledger.*customers"):
        Ledger(theirs).start_run("c")
    tables = _raw(theirs, "SELECT table_name FROM duckdb_tables() ORDER BY 1")
    assert tables == [("customers",)]
    bench_first = tmp_path / "bench.duckdb"  # accord's own tables are no reason to refuse
    from accord.bench.store import BenchStore

    BenchStore(bench_first)
    ledger = Ledger(bench_first)
    ledger.finish_run(ledger.start_run("c"))
    assert _raw(bench_first, "SELECT status FROM runs") == [("finished",)]


def test_out_of_range_counts_from_a_server_are_clamped_and_say_so(ledger_path: Path) -> None:
    from dataclasses import replace

    plain = _decision("t1")
    wild = replace(plain.attempts[0], prompt_tokens=10**30, completion_tokens=-5, seed=2**70)
    ledger = Ledger(ledger_path)
    run = ledger.start_run("c")
    ledger.record(run, replace(plain, attempts=(wild,)))
    ledger.record(run, _decision("t2"))
    ledger.finish_run(run)
    assert ledger.rejected == []
    row = _raw(
        ledger_path,
        "SELECT a.prompt_tokens, a.completion_tokens, a.seed, a.verdict_reason, d.prompt_tokens "
        "FROM attempts a JOIN decisions d USING (run_id, task_id) WHERE task_id = 't1'",
    )[0]
    assert row[:3] == (2**53, 0, 2**70 % 2**63) and row[4] == 2**53
    assert "clamped" in str(row[3]) and "completion_tokens=-5" in str(row[3])
    assert _count(ledger_path, run) == 2
