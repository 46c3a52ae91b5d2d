"""Read-only access to a ledger file for the UI: a short-lived connection per page.

DuckDB lets one process write a file or several read it, never both at once. A running crew
holds its ledger only while it writes (it lets go after a short idle spell and at least once
a second, see `accord.ledger.locking`), so the UI opens the file read-only for the few
milliseconds a page's queries take and closes it again: it waits for such a gap when the
writer holds the file, and never keeps the writer out for longer than one page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from accord.errors import ConfigError, RunError

WAIT_S = 4.0  # longer than a writer holds the file (its max hold is 1 s)
LEDGER_TABLES = ("runs", "decisions", "attempts")
BENCH_TABLES = ("bench_runs", "bench_summary")


class LedgerBusy(RunError):
    """Another process held the ledger for writing longer than the UI waits for a gap."""

    def __init__(self, path: str, waited_s: float) -> None:
        self.path = path
        self.waited_s = waited_s
        super().__init__(
            f"{path}: the ledger stayed locked by another process for {waited_s:.1f} s "
            "(a writer that does not let go between writes, or a `duckdb` shell)"
        )


def _lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


class Reader:
    """One read-only connection, with what the file holds (tables and their columns)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self._columns: dict[str, set[str]] | None = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a query as dicts keyed by column name."""
        cursor = self.conn.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.conn.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    @property
    def columns(self) -> dict[str, set[str]]:
        """Table (and view) name -> its column names."""
        if self._columns is None:
            found: dict[str, set[str]] = {}
            for table, column in self.conn.execute(
                "SELECT table_name, column_name FROM duckdb_columns() "
                "WHERE database_name = current_database()"
            ).fetchall():
                found.setdefault(table, set()).add(column)
            self._columns = found
        return self._columns

    def has(self, *tables: str) -> bool:
        """Whether every one of `tables` exists."""
        return all(t in self.columns for t in tables)


@contextmanager
def reading(path: str | Path, *, wait_s: float = WAIT_S) -> Iterator[Reader]:
    """A read-only connection to the file at `path` for the `with` block.

    While another process holds the file for writing, the open is retried with growing
    pauses until `wait_s` has passed; then `LedgerBusy` is raised.
    """
    path = str(path)
    start = time.monotonic()
    pause = 0.005
    while True:
        try:
            conn = duckdb.connect(path, read_only=True)
            break
        except duckdb.IOException as exc:
            waited = time.monotonic() - start
            if not _lock_conflict(exc):
                raise
            if waited + pause > wait_s:
                raise LedgerBusy(path, waited) from None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    try:
        yield Reader(conn)
    finally:
        conn.close()


def check_file(path: str | Path) -> None:
    """Refuse, with the fix, a path that is no ledger (or bench results) file."""
    if not Path(path).is_file():
        raise ConfigError(
            "no ledger here",
            path=path,
            hint="run a crew first (`accord run CREW.yaml`) or pass --db PATH",
        )
    try:
        with reading(path) as db:
            if db.has(*LEDGER_TABLES) or db.has(*BENCH_TABLES):
                return
    except duckdb.Error as exc:
        raise ConfigError(f"cannot open the ledger: {exc}", path=path) from None
    raise ConfigError(
        "not an accord ledger: it has neither runs nor bench results",
        path=path,
        hint="pass --db the file a crew or `accord bench` wrote (default .accord/ledger.duckdb)",
    )
