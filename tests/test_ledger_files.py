"""Database files opened through the process's one DuckDB instance (accord.ledger.files)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from accord.errors import ConfigError
from accord.ledger import files
from accord.ledger.locking import connect, opened
from accord.ledger.reader import open_readonly
from accord.ledger.writer import Ledger


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql).fetchall()


def test_handles_share_one_attachment_and_the_last_close_frees_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    first = connect(path)
    first.conn.execute("CREATE TABLE t (x INTEGER)")
    second = connect(path)
    second.conn.execute("INSERT INTO t VALUES (1)")
    assert first.conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(duckdb.Error):  # held here: a raw connection is refused, not a 2nd open
        duckdb.connect(str(path))
    first.close()
    assert files.attached_count() == 1
    second.close()
    assert files.attached_count() == 0
    assert not Path(f"{path}.wal").exists()  # detaching checkpointed every commit
    assert _rows(path, "SELECT x FROM t") == [(1,)]


def test_a_reader_of_a_file_written_here_sees_commits_and_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with opened(path) as writer:
        writer.execute("CREATE TABLE t (x INTEGER)")
        writer.execute("INSERT INTO t VALUES (7)")
        with opened(path, read_only=True) as reader:
            assert reader.execute("SELECT x FROM t").fetchall() == [(7,)]
            with pytest.raises(duckdb.Error):
                reader.execute("INSERT INTO t VALUES (8)")
    assert _rows(path, "SELECT x FROM t") == [(7,)]


def test_a_writer_is_refused_while_the_file_is_attached_read_only(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with opened(path) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
    with opened(path, read_only=True), pytest.raises(duckdb.ConnectionException):
        connect(path, timeout_s=0)
    with opened(path) as db:  # and allowed once the readers are gone
        db.execute("INSERT INTO t VALUES (1)")


def test_a_file_held_by_a_raw_connection_here_is_shared_with_it(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE t (x INTEGER)")
    try:
        with opened(path) as db:  # DuckDB refuses an attach; accord joins the raw instance
            db.execute("INSERT INTO t VALUES (3)")
        assert raw.execute("SELECT x FROM t").fetchall() == [(3,)]
    finally:
        raw.close()


def test_open_readonly_looks_for_the_ledger_tables_in_its_own_file_only(tmp_path: Path) -> None:
    ledger_path, other = tmp_path / "ledger.duckdb", tmp_path / "other.duckdb"
    with opened(other) as db:
        db.execute("CREATE TABLE unrelated (x INTEGER)")
    ledger = Ledger(ledger_path)
    run_id = ledger.start_run("c")  # the ledger file stays attached while the run is on
    try:
        with pytest.raises(ConfigError, match="not an accord ledger"), open_readonly(other):
            pass
    finally:
        ledger.finish_run(run_id)


def test_threads_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with opened(path) as db:
        db.execute("CREATE TABLE t (thread INTEGER, i INTEGER)")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                with opened(path) as db:
                    db.execute("INSERT INTO t VALUES (?, ?)", [n, i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert files.attached_count() == 0
    assert _rows(path, "SELECT count(*), count(DISTINCT (thread, i)) FROM t") == [(100, 100)]


def test_a_file_still_open_at_exit_is_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    code = (
        "from accord.ledger.locking import connect\n"
        f"h = connect({str(path)!r})\n"
        "h.conn.execute('CREATE TABLE t (x INTEGER)')\n"
        "h.conn.execute('INSERT INTO t VALUES (5)')\n"  # never closed: exit detaches it
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert not Path(f"{path}.wal").exists()
    assert _rows(path, "SELECT x FROM t") == [(5,)]


def test_a_handle_dropped_without_close_lets_the_file_go(tmp_path: Path) -> None:
    import gc

    from accord.memory.store import MemoryStore

    path = tmp_path / "ledger.duckdb"
    store = MemoryStore(path, embedder="hash", keep_open=True)  # holds a handle until close()
    store.remember("a fact", crew="c")
    del store
    gc.collect()
    assert files.attached_count() == 0
    code = (
        f"import duckdb; db = duckdb.connect({str(path)!r}); "
        "print(db.execute('SELECT count(*) FROM memory_items').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "1", out.stderr


def _child_opens(path: str) -> None:
    ledger = Ledger(path)
    ledger.finish_run(ledger.start_run("child"))


def test_a_child_forked_while_another_thread_opens_or_closes_a_file_can_open_files(
    tmp_path: Path,
) -> None:
    import multiprocessing

    held, done = threading.Event(), threading.Event()

    def busy() -> None:  # as a thread attaching or detaching (checkpointing) a file would be
        with files._lock:
            held.set()
            done.wait(60)

    thread = threading.Thread(target=busy)
    thread.start()
    held.wait(10)
    try:
        child = multiprocessing.get_context("fork").Process(
            target=_child_opens, args=(str(tmp_path / "other.duckdb"),)
        )
        child.start()
        child.join(30)
        if child.is_alive():
            child.kill()
    finally:
        done.set()
        thread.join()
    assert child.exitcode == 0  # it did not wait forever for a lock held by no thread of its own
    rows = _rows(tmp_path / "other.duckdb", "SELECT crew, status FROM runs")
    assert rows == [("child", "finished")]


def test_files_created_here_get_small_blocks_and_others_keep_theirs(tmp_path: Path) -> None:
    new, made_elsewhere = tmp_path / "new.duckdb", tmp_path / "elsewhere.duckdb"
    duckdb.connect(str(made_elsewhere)).close()  # DuckDB's default block size
    for path in (new, made_elsewhere):
        with opened(path) as db:
            db.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    size = "SELECT block_size FROM pragma_database_size()"
    assert _rows(new, size) == [(files.NEW_FILE_BLOCK_SIZE,)]
    assert _rows(made_elsewhere, size) == [(262_144,)]
    assert _rows(new, "SELECT count(*) FROM t") == [(1000,)]


def test_a_dropped_ledgers_release_does_not_deadlock_with_its_idle_timer(tmp_path: Path) -> None:
    """The garbage collector may run a dropped Ledger's finalizer on a thread that holds the
    file registry's lock, while that Ledger's idle timer holds its own lock and waits for the
    registry's: the finalizer must not wait."""
    code = f"""
import faulthandler, gc, time
from accord.ledger import files
from accord.ledger.writer import Ledger
ledger = Ledger({str(tmp_path / "x.duckdb")!r}, idle_s=0.05, keep_open=True)
with ledger.connect():
    pass  # the file is held, the idle timer armed
ledger.cycle = ledger  # only the cyclic garbage collector frees it
del ledger
faulthandler.dump_traceback_later(20, exit=True)
with files._lock:  # as inside attach()
    time.sleep(0.2)  # the idle timer fires and waits for files._lock
    gc.collect()  # the finalizer runs here
print("no deadlock")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "no deadlock" in done.stdout, done.stderr[-2000:]


def test_a_forked_child_leaving_normally_does_not_checkpoint_the_parents_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.duckdb"
    code = f"""
import os, sys
from accord.ledger.locking import connect
handle = connect({str(path)!r})
handle.conn.execute("CREATE TABLE t (x INTEGER)")
for i in range(50):
    handle.conn.execute("INSERT INTO t VALUES (?)", [i])
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit: interpreter shutdown frees what is left
os.waitpid(pid, 0)
for i in range(50, 100):
    handle.conn.execute("INSERT INTO t VALUES (?)", [i])  # committed to the WAL
os._exit(0)  # the parent dies before its own checkpoint
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert _rows(path, "SELECT count(*) FROM t") == [(100,)]  # the WAL was the parent's to keep
