"""One batch of ledger writes, and how it goes into DuckDB in one idempotent transaction."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import duckdb

from accord.errors import RunError
from accord.ledger.rows import ATTEMPT_COLUMNS, DECISION_COLUMNS

Row = tuple[Any, ...]
Key = tuple[str, str]  # (run_id, task_id)
# errors of the file or the transaction (a lock, a full disk, a failed commit): the batch is
# kept whole for the next write; any other error is the data's, and only its row is dropped
_NOT_THE_DATA = (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException)


@dataclass
class Rejected:
    """A decision the database refused, and why (the rest of its batch was written)."""

    run_id: str
    task_id: str
    error: str


@dataclass
class Batch:
    """Run statements in order, then decisions with their attempts (the first of a key wins)."""

    statements: list[tuple[str, list[Any]]] = field(default_factory=list)
    decisions: dict[Key, Row] = field(default_factory=dict)
    attempts: dict[Key, list[Row]] = field(default_factory=dict)

    def add(self, decision: Row, attempts: list[Row]) -> int:
        """Queue a decision (a repeat of a queued key is dropped); how many are queued."""
        key = (decision[0], decision[1])
        if key not in self.decisions:
            self.decisions[key] = decision
            self.attempts[key] = attempts
        return len(self.decisions)

    def empty(self) -> bool:
        """Whether there is nothing to write."""
        return not self.statements and not self.decisions

    def merged(self, newer: Batch) -> Batch:
        """This batch, then what `newer` adds to it."""
        out = Batch(self.statements + newer.statements, dict(self.decisions), dict(self.attempts))
        for key, row in newer.decisions.items():
            out.add(row, newer.attempts[key])
        return out


def write_batch(db: duckdb.DuckDBPyConnection, batch: Batch) -> tuple[int, list[Rejected]]:
    """Write `batch` in one transaction; (decisions newly stored, decisions refused).

    A decision already in the ledger (a replay, a resumed run) is skipped with its attempts.
    If the data of one decision is refused, the others are written one by one without it.
    """
    try:
        return _write(db, batch.statements, list(batch.decisions.values()), batch.attempts), []
    except _NOT_THE_DATA:
        raise
    except duckdb.Error:
        pass
    _write(db, batch.statements, [], {})
    written, rejected = 0, []
    for key, row in batch.decisions.items():
        try:
            written += _write(db, [], [row], {key: batch.attempts[key]})
        except _NOT_THE_DATA:
            raise
        except duckdb.Error as exc:
            rejected.append(Rejected(key[0], key[1], str(exc).splitlines()[0]))
    return written, rejected


def _write(
    db: duckdb.DuckDBPyConnection,
    statements: list[tuple[str, list[Any]]],
    decisions: list[Row],
    attempts: dict[Key, list[Row]],
) -> int:
    """One transaction: the statements, then the decisions not stored yet with their attempts.

    New keys (the common case) are appended straight to the tables; if one is stored already
    (a replay, a resumed run), the batch is staged and inserted with `ON CONFLICT DO NOTHING`
    instead, which costs ~2x more (measured on 100 decisions).
    """
    rows = [r for key in attempts for r in attempts[key]]
    try:
        return _transaction(db, statements, lambda: _append(db, decisions, rows))
    except duckdb.ConstraintException:
        return _transaction(db, statements, lambda: _insert_new(db, decisions, rows))


def _transaction(
    db: duckdb.DuckDBPyConnection, statements: list[tuple[str, list[Any]]], insert: Any
) -> int:
    db.execute("BEGIN TRANSACTION")
    try:
        for sql, params in statements:
            db.execute(sql, params)
        written = insert()
        db.execute("COMMIT")
        return int(written)
    except BaseException:
        # a COMMIT that failed (a full disk) has ended the transaction already: the
        # ROLLBACK's own error must not replace the one that says what went wrong
        with suppress(duckdb.Error):
            db.execute("ROLLBACK")
        raise


def _append(db: duckdb.DuckDBPyConnection, decisions: list[Row], attempts: list[Row]) -> int:
    """Append the rows through DuckDB's appender: one call for the whole batch (executemany
    is one statement per row, ~1 ms each). A stored key raises ConstraintException."""
    for table, columns, rows in (
        ("decisions", DECISION_COLUMNS, decisions),
        ("attempts", ATTEMPT_COLUMNS, attempts),
    ):
        if rows:
            appender = db.appender(table, columns=list(columns))
            appender.append_rows(_nulls(rows))
            appender.flush()
    return len(decisions)


def _insert_new(db: duckdb.DuckDBPyConnection, decisions: list[Row], attempts: list[Row]) -> int:
    """Insert the decisions whose keys are new, and only their attempts; how many."""
    if not decisions:
        return 0
    _stage(db, "_staged_decisions", "decisions", DECISION_COLUMNS, decisions)
    _stage(db, "_staged_attempts", "attempts", ATTEMPT_COLUMNS, attempts)
    names = ", ".join(ATTEMPT_COLUMNS)
    db.execute(  # attempts first: only those of decisions not stored yet
        f"INSERT INTO attempts ({names}) SELECT {names} FROM _staged_attempts "
        "ANTI JOIN decisions USING (run_id, task_id) ON CONFLICT DO NOTHING"
    )
    names = ", ".join(DECISION_COLUMNS)
    found = db.execute(
        f"INSERT INTO decisions ({names}) SELECT {names} FROM _staged_decisions "
        "ON CONFLICT DO NOTHING"
    ).fetchone()
    return int(found[0]) if found else 0


def _nulls(rows: list[Row]) -> list[Row]:
    """NaN (a backend's log-prob, say) as NULL: one NaN would otherwise make every sum and
    mean over the column NaN."""
    return [tuple(None if v != v else v for v in row) for row in rows]


def _stage(
    db: duckdb.DuckDBPyConnection, name: str, like: str, columns: tuple[str, ...], rows: list[Row]
) -> None:
    """Rows into a temporary table with the columns of `like`."""
    db.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {', '.join(columns)} FROM {like} LIMIT 0"
    )
    if rows:
        appender = db.appender(name)
        appender.append_rows(_nulls(rows))
        appender.flush()


class LedgerWriteError(RunError):
    """The ledger file could not be written (a full disk, say); the rows are kept queued."""

    def __init__(self, path: str, cause: BaseException) -> None:
        self.path = path
        self.reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        super().__init__(
            f"{path}: cannot write the ledger: {self.reason} (what this process decided is "
            "kept for its next write; if it ends first, `accord run ... --resume RUN` "
            "decides the rest again once the disk has room)"
        )
