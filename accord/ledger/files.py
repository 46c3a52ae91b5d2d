"""One DuckDB instance per process, to which database files are attached while in use.

Creating a DuckDB instance costs ~12 ms (it registers the functions of every extension built
in), and closing one ~3 ms beyond the checkpoint. Every open of the ledger file paid both, per
run. Here the process creates one in-memory instance, once; a file is attached to it (~1 ms)
when first used and detached (a checkpoint, ~3 ms) when its last user lets go, so the file on
disk is complete and free for other processes, and for a raw `duckdb.connect`, as before.

Each user gets a cursor of its own on the shared instance, with the file as its default
database (`USE`), so unqualified table names mean the file's tables and transactions stay
separate. A reader of a file already attached read-write here gets a read-only transaction on
it; a writer of a file attached read-only here is refused (as DuckDB refuses a connection
with a different configuration).

DuckDB (>= 1.4) refuses to attach a file that another instance in this process has open
(`ResourceInUseException`), and another process's lock shows as an `IOException`, so nothing
here can open one file twice.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

_lock = threading.Lock()
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
    of its own for a file a raw `duckdb.connect` holds in this process).
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, key: str | None = None) -> None:
        self.conn = conn
        self._key = key  # None: not an attachment (conn is the whole connection)
        self._closed = False

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same file (its own transactions), to be closed after use."""
        cursor = self.conn.cursor()
        if self._key is not None:
            cursor.execute(f'USE "{_attached[self._key].alias}"')
        return cursor

    def close(self) -> None:
        """Close the connection; the file is detached when its last user has closed."""
        if self._closed:
            return
        self._closed = True
        # an invalidated database may fail to close; its commits are in the WAL already
        with suppress(duckdb.FatalException):
            self.conn.close()
        if self._key is not None:
            _let_go(self._key)


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
        cursor = _shared_instance().cursor()
        attachment = _attached.get(key)
        # one statement per call: in a thread that waits for the GIL behind a busy main
        # thread, each call into DuckDB costs up to a switch interval (5 ms) to come back
        use = f'USE "{attachment.alias}"' if attachment else ""
        if attachment is None:
            attachment = _Attachment(f"accord_file_{next(_aliases)}", read_only)
            literal = key.replace("'", "''")
            mode = ", READ_ONLY" if read_only else ""
            alias = attachment.alias
            use = f'ATTACH \'{literal}\' AS "{alias}" (TYPE DUCKDB{mode}); USE "{alias}"'
        elif attachment.read_only and not read_only:
            cursor.close()
            raise duckdb.ConnectionException(
                f"{path} is open read-only in this process; close its readers before writing"
            )
        if read_only and not attachment.read_only:
            # attached read-write for a writer here: read in a transaction that cannot write
            use += "; BEGIN TRANSACTION READ ONLY"
        try:
            cursor.execute(use)
        except BaseException:
            cursor.close()
            raise
        _attached[key] = attachment
        attachment.users += 1
    return FileHandle(cursor, key)


def _let_go(key: str) -> None:
    with _lock:
        attachment = _attached[key]
        attachment.users -= 1
        if attachment.users:
            return
        del _attached[key]
        if _instance is not None:
            # DETACH checkpoints: the file holds every commit, with no WAL beside it
            with suppress(duckdb.Error):
                _instance.execute(f'DETACH "{attachment.alias}"')


def attached_count() -> int:
    """How many files are attached right now (for tests and diagnostics)."""
    with _lock:
        return len(_attached)


@atexit.register
def _detach_all() -> None:
    """At exit, detach (and so checkpoint) the files still attached, then close the instance."""
    global _instance
    with _lock:
        for attachment in _attached.values():
            if _instance is not None:
                with suppress(duckdb.Error):
                    _instance.execute(f'DETACH "{attachment.alias}"')
        _attached.clear()
        if _instance is not None:
            with suppress(duckdb.Error):
                _instance.close()
            _instance = None
