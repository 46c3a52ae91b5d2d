"""One DuckDB instance per process, to which database files are attached while in use.

Creating a DuckDB instance costs ~12 ms (it registers the functions of every extension built
in), and closing one ~3 ms beyond the checkpoint. Every open of the ledger file paid both, per
run. Here the process creates one in-memory instance, once; a file is attached to it (~1 ms)
when first used and detached (a checkpoint, ~3-7 ms) when its last user lets go, so the file on
disk is complete and free for other processes, and for a raw `duckdb.connect`, as before.

Each user gets a cursor of its own on the shared instance, with the file as its default
database (`USE`), so unqualified table names mean the file's tables and transactions stay
separate. A reader of a file already attached read-write here gets a read-only transaction on
it; a writer of a file attached read-only here is refused (as DuckDB refuses a connection
with a different configuration).

DuckDB (>= 1.5; accord requires 2.0) refuses to attach a file that another instance in this
process has open (`ResourceInUseException`), and another process's lock shows as an
`IOException`, so nothing here can open one file twice.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import threading
import weakref
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Block size of the database files created here: DuckDB's default, 256 kB, makes a ledger grow
# ~90 kB per run of 100 decisions (each checkpoint starts new blocks) and costs ~2 ms more per
# checkpoint; with 16 kB blocks the file grows ~5x slower. Files made elsewhere keep theirs.
NEW_FILE_BLOCK_SIZE = 16_384

_lock = threading.RLock()  # reentrant: a GC finalizer may let a file go mid-call
_instance: duckdb.DuckDBPyConnection | None = None
_aliases = itertools.count(1)


@dataclass
class _Attachment:
    alias: str
    read_only: bool
    users: int = 0


_attached: dict[str, _Attachment] = {}  # real path -> its attachment


class FileHandle:
    """A connection to one database file; `close()` lets the file go.

    `conn` is an ordinary DuckDB connection (a cursor on the shared instance, or a connection
    of its own for a file a raw `duckdb.connect` holds in this process). Take further
    connections with `cursor()`: `conn.cursor()` would start at the shared instance's own
    in-memory database, not at this file. A handle dropped without `close()` lets the file go
    when it is garbage-collected.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, key: str | None = None) -> None:
        self.conn = conn
        self._key = key  # None: not an attachment (conn is the whole connection)
        self._release = weakref.finalize(self, _release, conn, key)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same file (its own transactions), to be closed after use."""
        cursor = self.conn.cursor()
        if self._key is not None:
            cursor.execute(f'USE "{_attached[self._key].alias}"')
        return cursor

    def close(self) -> None:
        """Close the connection; the file is detached when its last user has closed."""
        self._release()  # runs once, whether called here or at garbage collection


def _release(conn: duckdb.DuckDBPyConnection, key: str | None) -> None:
    # an invalidated database may fail to close (its commits are in the WAL already), and at
    # exit the instance may be gone before a timer thread closes its cursor
    with suppress(duckdb.Error):
        conn.close()
    if key is not None:
        _let_go(key)


def _is_interrupt(exc: RuntimeError) -> bool:
    """Whether `exc` is how DuckDB reports Ctrl-C during a statement (given back as Ctrl-C)."""
    return "interrupted" in str(exc).lower()


def _detach(alias: str) -> None:
    """Detach `alias` from the shared instance, which checkpoints it: the file then holds
    every commit, with no WAL beside it. A failure leaves nothing to undo."""
    if _instance is None:
        return
    try:
        _instance.execute(f'DETACH DATABASE IF EXISTS "{alias}"')
    except duckdb.Error:
        pass
    except RuntimeError as exc:  # Ctrl-C: DuckDB finishes the detach regardless
        if _is_interrupt(exc):
            raise KeyboardInterrupt from exc
        raise


def _shared_instance() -> duckdb.DuckDBPyConnection:
    global _instance
    if _instance is None:
        _instance = duckdb.connect(":memory:")
    return _instance


def instance_ready() -> bool:
    """Whether this process's DuckDB instance exists (opening a file then costs ~1 ms)."""
    return _instance is not None


def attach(path: str | Path, *, read_only: bool = False) -> FileHandle:
    """Open the database file at `path` through this process's shared DuckDB instance.

    Raises what DuckDB raises on opening it: `IOException` for another process's lock or a
    file that is not a database, `ResourceInUseException` when a raw `duckdb.connect` in this
    process holds it, `ConnectionException` for a writer while it is attached read-only here.
    """
    key = os.path.realpath(path)
    with _lock:
        attachment = _attached.get(key)
        if attachment is not None and attachment.read_only and not read_only:
            raise duckdb.ConnectionException(
                f"{path} is open read-only in this process; close its readers before writing"
            )
        # one statement per call: in a thread that waits for the GIL behind a busy main
        # thread, each call into DuckDB costs up to a switch interval (5 ms) to come back
        if attachment is None:
            attachment = _Attachment(f"accord_file_{next(_aliases)}", read_only)
            literal = key.replace("'", "''")
            if read_only:
                mode = ", READ_ONLY"
            else:  # a file created here gets small blocks (see NEW_FILE_BLOCK_SIZE)
                mode = "" if os.path.exists(key) else f", BLOCK_SIZE {NEW_FILE_BLOCK_SIZE}"
            alias = attachment.alias
            use = f'ATTACH \'{literal}\' AS "{alias}" (TYPE DUCKDB{mode}); USE "{alias}"'
            fresh = True
        else:
            use = f'USE "{attachment.alias}"'
            fresh = False
        if read_only and not attachment.read_only:
            # attached read-write for a writer here: read in a transaction that cannot write
            use += "; BEGIN TRANSACTION READ ONLY"
        # counted before anything else runs: a garbage-collected Ledger letting go of this
        # file from a finalizer on this thread (the lock is reentrant) cannot detach it now
        attachment.users += 1
        cursor = None
        try:
            cursor = _shared_instance().cursor()
            try:
                cursor.execute(use)
            except duckdb.InvalidInputException as exc:
                if "block size" not in str(exc) or "BLOCK_SIZE" not in use:
                    raise
                # another process created the file in the meantime: take its block size
                cursor.execute(use.replace(f", BLOCK_SIZE {NEW_FILE_BLOCK_SIZE}", ""))
            except RuntimeError as exc:
                if _is_interrupt(exc):
                    raise KeyboardInterrupt from exc
                raise
        except BaseException:
            if cursor is not None:
                with suppress(duckdb.Error):
                    cursor.close()
            if fresh:  # never registered: undo an ATTACH that went through before the error
                attachment.users -= 1
                _detach(attachment.alias)
            else:
                _let_go(key)
            raise
        _attached[key] = attachment
    return FileHandle(cursor, key)


def _let_go(key: str) -> None:
    with _lock:
        attachment = _attached.get(key)
        if attachment is None:  # detached at exit already
            return
        attachment.users -= 1
        if attachment.users:
            return
        del _attached[key]
        _detach(attachment.alias)


def attached_count() -> int:
    """How many files are attached right now (for tests and diagnostics)."""
    with _lock:
        return len(_attached)


@atexit.register
def _detach_all() -> None:
    """At exit, detach (and so checkpoint) the files still attached, then close the instance."""
    global _instance
    with _lock:
        for attachment in list(_attached.values()):
            _detach(attachment.alias)
        _attached.clear()
        if _instance is not None:
            with suppress(duckdb.Error):
                _instance.close()
            _instance = None


def _after_fork_in_child() -> None:
    """A forked child starts afresh: the lock may have been held by a parent thread that the
    child does not have, and the parent's instance and files are the parent's."""
    global _lock, _instance
    _lock = threading.RLock()
    if _instance is not None:
        # never used here, and never freed: freeing it, even at the child's exit, would
        # checkpoint the parent's files from the child (and delete the WAL the parent writes)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(_instance))
    _instance = None
    _attached.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
