"""Read-only access to a ledger file, for reports and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from accord.errors import ConfigError
from accord.ledger.database import Database

LEDGER_TABLES = ("runs", "decisions", "attempts")


@contextmanager
def open_readonly(
    path: str | Path, tables: tuple[str, ...] = LEDGER_TABLES
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the ledger at `path`, which must hold `tables`.

    It waits while a writer has the file (between its batches it is free; see
    `accord.ledger.database`). Filter catalog listings on `current_database()`.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "no ledger here",
            path=path,
            hint="run a crew first (`accord run CREW.yaml`) or pass --db PATH",
        )
    with Database(path, read_only=True).cursor() as db:
        have = {
            r[0]
            for r in db.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "UNION ALL SELECT view_name FROM duckdb_views() "
                "WHERE database_name = current_database()"
            ).fetchall()
        }
        missing = [t for t in tables if t not in have]
        if missing:
            tables_word = "tables" if len(missing) > 1 else "table"
            raise ConfigError(
                f"not an accord ledger: no {', '.join(missing)} {tables_word}",
                path=path,
                hint="pass --db the ledger a crew wrote (default .accord/ledger.duckdb); "
                "a bench's results file is read with `accord report`",
            )
        yield db


def rows(db: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of `sql` as dicts keyed by column name."""
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def list_runs(path: str | Path, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs with their totals."""
    with open_readonly(path) as db:
        return rows(db, "SELECT * FROM run_summary ORDER BY started_at DESC LIMIT ?", [limit])


def run_decisions(path: str | Path, run_id: str) -> list[dict[str, Any]]:
    """Every decision of `run_id` in the order it was made."""
    with open_readonly(path) as db:
        found = db.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if not found or not found[0]:
            raise ConfigError(
                f"no run {run_id!r} in the ledger", path=path, hint="`accord ledger` lists the runs"
            )
        return rows(
            db, "SELECT * FROM decisions WHERE run_id = ? ORDER BY decided_at, task_id", [run_id]
        )


def latest_run(path: str | Path) -> str | None:
    """The id of the most recently started run, if any."""
    with open_readonly(path) as db:
        row = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        return row[0] if row else None
