"""One owner per DuckDB file: `Database` holds the file and hands out cursors.

DuckDB lets one process write a file, or several processes read it, never both at once
(another process's open fails with a lock conflict, measured with DuckDB 2.0.1). So a
`Database` attaches its file only while someone uses it (a `cursor()` block, or a `hold()`)
and detaches it when the last user leaves: the detach checkpoints, so between uses the file
alone holds every commit (no `.wal` beside it) and other processes can open it read-only.
Opening a busy file retries for `timeout_s` (another process reading it, or another owner in
this process); a file that cannot be opened is a `ConfigError`.

Files are attached to one in-memory DuckDB engine per process: creating an engine costs
~13 ms, attaching a file to it ~0.5 ms. The engine is shared, the files are not: each
`Database` attaches its own file under its own alias, and two owners of one file in one
process take turns like two processes do.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from accord.errors import ConfigError

LOCK_TIMEOUT_S = 30.0
# New files get 16 kB blocks (DuckDB's default, 256 kB, makes a ledger grow ~5x faster, since
# each checkpoint starts new blocks) and the storage format of DuckDB 1.5, so that the DuckDB
# CLI users install (duckdb-cli 1.5.x, the newest on PyPI) opens them; files made elsewhere
# keep their own.
NEW_FILE_OPTIONS = "BLOCK_SIZE 16384, STORAGE_VERSION 'v1.5.0'"

_engine_lock = threading.Lock()
_engine: duckdb.DuckDBPyConnection | None = None
_aliases = itertools.count(1)


def engine() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB engine, to which files are attached."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = duckdb.connect(":memory:")
        return _engine


def _forget_engine_in_child() -> None:
    """A forked child must never free the parent's engine, even at its exit: that would
    checkpoint the parent's files from the child (and delete the WAL the parent writes). The
    child leaks a reference to it, and starts afresh."""
    global _engine, _engine_lock
    if _engine is not None:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(_engine))
    _engine, _engine_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_engine_in_child)


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB refusing a file that someone else has open right now."""
    if isinstance(exc, duckdb.ResourceInUseException):
        return True
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


class Database:
    """The owner of one DuckDB file (or of a `:memory:` database) in this process."""

    def __init__(
        self, path: str | Path, *, read_only: bool = False, timeout_s: float = LOCK_TIMEOUT_S
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.memory = self.path == ":memory:"
        self._lock = threading.RLock()  # reentrant: a dropped hold may be let go by the GC
        self._users = 0
        self._holds = 0
        self._alias: str | None = None
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._pid = os.getpid()
        if self.memory:
            self._conn = duckdb.connect(":memory:")
        elif not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    @property
    def is_open(self) -> bool:
        """Whether the file is attached right now (a `:memory:` database always is)."""
        return self._conn is not None

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own (its own transactions) to this database, for the block."""
        self._enter()
        try:
            assert self._conn is not None
            cursor = self._conn.cursor()
            try:
                if self._alias is not None:
                    cursor.execute(f'USE "{self._alias}"')
                yield cursor
            finally:
                with suppress(duckdb.Error):
                    cursor.close()
        finally:
            self._leave()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the file attached for the block (no open and checkpoint per use meanwhile)."""
        self._enter()
        with self._lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            if self._conn is None:
                self._attach()
            self._users += 1

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if not self._users and not self.memory:
                self._detach()

    def _attach(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        pause = 0.005
        while True:
            try:
                self._attach_once()
                return
            except duckdb.Error as exc:
                late = time.monotonic() + pause > deadline
                if not is_busy(exc) or late or not threading.main_thread().is_alive():
                    raise ConfigError(
                        f"cannot open the ledger: {str(exc).splitlines()[0]}",
                        path=self.path,
                        hint="pass another --db path, or close the program that holds it",
                    ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _attach_once(self) -> None:
        if self.memory:  # closed before: a new, empty database
            self._conn = duckdb.connect(":memory:")
            return
        alias = f"accord_db_{next(_aliases)}"
        literal = os.path.realpath(self.path).replace("'", "''")
        if self.read_only:
            options = ", READ_ONLY"
        else:
            options = "" if os.path.exists(self.path) else f", {NEW_FILE_OPTIONS}"
        conn = engine().cursor()
        try:
            conn.execute(f"ATTACH '{literal}' AS \"{alias}\" (TYPE DUCKDB{options})")
        except BaseException:
            conn.close()
            raise
        self._conn, self._alias, self._pid = conn, alias, os.getpid()

    def _detach(self) -> None:
        conn, alias = self._conn, self._alias
        self._conn = self._alias = None
        if conn is None:
            return
        if self._pid != os.getpid():  # the parent's attachment, in a forked child: not ours
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))
            return
        try:
            conn.execute(f'DETACH DATABASE IF EXISTS "{alias}"')  # checkpoints the file
        except duckdb.Error:
            pass  # an invalidated database: its commits are in the WAL, replayed on next open
        finally:
            with suppress(duckdb.Error):
                conn.close()

    def close(self) -> None:
        """Let go of the file (or drop a `:memory:` database); later uses open it again."""
        with self._lock:
            if self.memory:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
            elif not self._users:
                self._detach()


@contextmanager
def opened(
    path: str | Path, *, read_only: bool = False, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the file at `path` for the block, by an owner made for it."""
    with Database(path, read_only=read_only, timeout_s=timeout_s).cursor() as cursor:
        yield cursor
