"""Numbered schema migrations recorded in the database: one mechanism for every set of tables.

Each set (the ledger's, memory's) is a `Migrations` list recorded in a table of its own, so
one can evolve without renumbering the other while both live in the same file.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]


class Migrations:
    """An ordered list of migrations, applied once each and recorded in `table`."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.steps: list[tuple[str, Migration]] = []

    def __call__(self, fn: Migration) -> Migration:
        """Register `fn` as the next migration (used as a decorator)."""
        self.steps.append((fn.__name__, fn))
        return fn

    def apply(self, db: duckdb.DuckDBPyConnection) -> list[str]:
        """Apply the migrations not yet recorded in `db`; return the names applied."""
        return apply_migrations(db, self.steps, self.table)

    def apply_if(self, db: duckdb.DuckDBPyConnection, check: Callable[[], object]) -> list[str]:
        """`apply`, calling `check` first when `db` has none of these migrations yet (a new
        database, or someone else's: `check` raises to refuse it)."""
        try:
            db.execute(f"SELECT 1 FROM {self.table} LIMIT 0")
        except duckdb.CatalogException:
            check()
        return self.apply(db)


def apply_migrations(
    db: duckdb.DuckDBPyConnection, migrations: list[tuple[str, Migration]], table: str
) -> list[str]:
    """Apply the `migrations` not yet recorded in `table`, each in a transaction."""
    try:  # the common case, a current schema, costs one small query
        row = db.execute(f"SELECT count(*), max(version) FROM {table}").fetchone()
    except duckdb.CatalogException:
        row = None
    if row is not None and row[0] == row[1] == len(migrations):
        return []
    db.execute(f"""CREATE TABLE IF NOT EXISTS {table} (
                    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
                    applied_at TIMESTAMP DEFAULT current_timestamp)""")
    done = {row[0] for row in db.execute(f"SELECT version FROM {table}").fetchall()}
    applied = []
    for version, (name, fn) in enumerate(migrations, start=1):
        if version in done:
            continue
        db.execute("BEGIN TRANSACTION")
        try:
            fn(db)
            db.execute(f"INSERT INTO {table} (version, name) VALUES (?, ?)", [version, name])
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
