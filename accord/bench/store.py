"""Bench tables in the ledger's DuckDB file: runs, one row per item x strategy, summaries,
and the recorded sample pools that replay evaluation draws from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from accord.ledger.database import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS bench_runs (
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        status VARCHAR, command VARCHAR, backend VARCHAR, seed BIGINT, mode VARCHAR,
        samples_k INTEGER, replay_seeds INTEGER, tasks VARCHAR, strategies VARCHAR,
        n_items INTEGER, simulated BOOLEAN, meta JSON)""",
    """CREATE TABLE IF NOT EXISTS bench_results (
        run_id VARCHAR, item_key VARCHAR, item_id VARCHAR, source VARCHAR, strategy VARCHAR,
        backend VARCHAR, seed BIGINT, mode VARCHAR, draws INTEGER, answer VARCHAR,
        correct DOUBLE, confidence DOUBLE, path VARCHAR, stop_reason VARCHAR,
        escalated DOUBLE, n_attempts DOUBLE, prompt_tokens DOUBLE, completion_tokens DOUBLE,
        wall_ms DOUBLE, model_ms DOUBLE, cost_usd DOUBLE, flops DOUBLE, cached BOOLEAN,
        ledger_run_id VARCHAR, PRIMARY KEY (run_id, item_key, strategy))""",
    """CREATE TABLE IF NOT EXISTS bench_summary (
        run_id VARCHAR, strategy VARCHAR, position INTEGER, description VARCHAR,
        mode VARCHAR, n_items INTEGER, accuracy DOUBLE, ci_low DOUBLE, ci_high DOUBLE,
        seed_low DOUBLE, seed_high DOUBLE, delta DOUBLE, delta_low DOUBLE, delta_high DOUBLE,
        p_value DOUBLE, test VARCHAR, prompt_tokens DOUBLE, completion_tokens DOUBLE,
        wall_ms DOUBLE, overhead_ms DOUBLE, escalation DOUBLE, cost_usd DOUBLE,
        flops DOUBLE, p_holm DOUBLE, PRIMARY KEY (run_id, strategy))""",
    """CREATE TABLE IF NOT EXISTS bench_samples (
        item_key VARCHAR, backend VARCHAR, model VARCHAR, seed BIGINT, kind VARCHAR,
        idx INTEGER, temperature DOUBLE, answer VARCHAR, raw VARCHAR, option_prob DOUBLE,
        mean_logprob DOUBLE, min_logprob DOUBLE, prompt_tokens BIGINT,
        completion_tokens BIGINT, model_ms DOUBLE, format INTEGER, call_ms DOUBLE,
        PRIMARY KEY (item_key, backend, model, seed, kind, idx))""",
    # files written before these columns existed: their rows read NULL (format 1)
    "ALTER TABLE bench_samples ADD COLUMN IF NOT EXISTS format INTEGER",
    "ALTER TABLE bench_samples ADD COLUMN IF NOT EXISTS call_ms DOUBLE",
    "ALTER TABLE bench_summary ADD COLUMN IF NOT EXISTS p_holm DOUBLE",
    # what a strategy sent the model for one item (peers' frameworks write their own prompts)
    """CREATE TABLE IF NOT EXISTS bench_prompts (
        item_key VARCHAR, strategy VARCHAR, backend VARCHAR, seed BIGINT, calls INTEGER,
        messages JSON, reply VARCHAR, PRIMARY KEY (item_key, strategy, backend, seed))""",
]


@dataclass(slots=True)
class ResultRow:
    """One item x strategy: its outcome (a rate over draws when replayed) and its costs."""

    run_id: str
    item_key: str
    item_id: str
    source: str
    strategy: str
    backend: str
    seed: int
    mode: str
    draws: int
    answer: str
    correct: float
    confidence: float
    path: str
    stop_reason: str
    escalated: float
    n_attempts: float
    prompt_tokens: float
    completion_tokens: float
    wall_ms: float
    model_ms: float
    cost_usd: float
    flops: float | None
    cached: bool
    ledger_run_id: str | None


@dataclass(slots=True)
class SummaryRow:
    """One strategy's measures over the run's items."""

    run_id: str
    strategy: str
    position: int
    description: str
    mode: str
    n_items: int
    accuracy: float
    ci_low: float
    ci_high: float
    seed_low: float | None
    seed_high: float | None
    delta: float | None
    delta_low: float | None
    delta_high: float | None
    p_value: float | None
    test: str
    prompt_tokens: float
    completion_tokens: float
    wall_ms: float
    overhead_ms: float
    escalation: float
    cost_usd: float
    flops: float | None
    p_holm: float | None = None  # p_value adjusted (Holm) over the run's comparisons


@dataclass(slots=True)
class PromptRow:
    """The messages a strategy's first model call sent for one item, and the final reply."""

    item_key: str
    strategy: str
    backend: str
    seed: int
    calls: int
    messages: str  # JSON: [{"role": ..., "content": ...}, ...]
    reply: str


def _columns(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def insert_columns(
    store: BenchStore, table: str, names: Sequence[str], data: Sequence[Sequence[Any]]
) -> None:
    """INSERT OR REPLACE many rows in one statement (column lists unnested).

    DuckDB's executemany costs milliseconds per row; passing each column as one list
    parameter writes thousands of rows in one go.
    """
    columns = [list(col) for col in zip(*data, strict=True)]
    selects = ", ".join(f"unnest(${i + 1}) AS {name}" for i, name in enumerate(names))
    with store.connect() as db:
        db.execute(
            f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) SELECT * FROM (SELECT {selects})",
            columns,
        )


def now() -> datetime:
    """UTC now without tzinfo, as the ledger stores times."""
    return datetime.now(UTC).replace(tzinfo=None)


class BenchStore:
    """Reads and writes the bench tables; connections are short-lived like the ledger's."""

    def __init__(self, path: str | Path | Database) -> None:
        self.database = path if isinstance(path, Database) else Database(path)
        self.path = self.database.path
        with self.connect() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the bench tables (the file is attached while it is used)."""
        with self.database.cursor() as db:
            yield db

    def _insert(self, table: str, cls: type, rows: Iterable[Any]) -> None:
        data = [tuple(asdict(r).values()) for r in rows]
        if not data:
            return
        insert_columns(self, table, _columns(cls), data)

    def start_run(self, run_id: str, **meta: Any) -> None:
        """Record a bench run as `running`."""
        extra = meta.pop("meta", {})
        with self.connect() as db:
            db.execute(
                "INSERT INTO bench_runs (run_id, started_at, status, command, backend, seed, "
                "mode, samples_k, replay_seeds, tasks, strategies, n_items, simulated, meta) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    now(),
                    meta["command"],
                    meta["backend"],
                    meta["seed"],
                    meta["mode"],
                    meta.get("samples_k"),
                    meta.get("replay_seeds"),
                    meta["tasks"],
                    meta["strategies"],
                    meta["n_items"],
                    meta["simulated"],
                    json.dumps(extra, default=str),
                ],
            )

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Mark a bench run finished (or failed, interrupted)."""
        with self.connect() as db:
            db.execute(
                "UPDATE bench_runs SET status = ?, finished_at = ? WHERE run_id = ?",
                [status, now(), run_id],
            )

    def add_results(self, rows: Sequence[ResultRow]) -> None:
        """Store item x strategy rows."""
        self._insert("bench_results", ResultRow, rows)

    def add_summary(self, rows: Sequence[SummaryRow]) -> None:
        """Store the per-strategy summary of a run."""
        self._insert("bench_summary", SummaryRow, rows)

    def add_prompts(self, rows: Sequence[PromptRow]) -> None:
        """Store what strategies sent the model, per item."""
        self._insert("bench_prompts", PromptRow, rows)

    def prompts(self, run_id: str) -> dict[str, list[PromptRow]]:
        """Stored prompts of a run's items, by strategy, in the run's item order.

        Joined on the run's backend and seed; `accord` holds the prompt accord's roles send.
        """
        names = [f"p.{n}" for n in _columns(PromptRow)]
        with self.connect() as db:
            found = db.execute(
                f"SELECT DISTINCT {', '.join(names)}, r.source, r.item_id "
                "FROM bench_prompts p JOIN bench_results r ON p.item_key = r.item_key "
                "AND p.backend = r.backend AND p.seed = r.seed WHERE r.run_id = ? "
                "ORDER BY r.source, r.item_id, p.strategy",
                [run_id],
            ).fetchall()
        out: dict[str, list[PromptRow]] = {}
        for values in found:
            row = PromptRow(*values[:-2])
            out.setdefault(row.strategy, []).append(row)
        return out

    def cached(
        self, backend: str, seed: int, strategies: Sequence[str], mode: str = "live"
    ) -> dict[tuple[str, str], ResultRow]:
        """Earlier results by (item_key, strategy) for this backend, seed and mode."""
        if not strategies:
            return {}
        marks = ", ".join("?" for _ in strategies)
        names = _columns(ResultRow)
        with self.connect() as db:
            found = db.execute(
                f"SELECT {', '.join(names)} FROM bench_results WHERE backend = ? AND seed = ? "
                f"AND mode = ? AND strategy IN ({marks}) ORDER BY run_id",
                [backend, seed, mode, *strategies],
            ).fetchall()
        out: dict[tuple[str, str], ResultRow] = {}
        for values in found:
            row = ResultRow(**dict(zip(names, values, strict=True)))
            out[(row.item_key, row.strategy)] = row
        return out

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The bench run's record, or None."""
        with self.connect() as db:
            cursor = db.execute("SELECT * FROM bench_runs WHERE run_id = ?", [run_id])
            names = [d[0] for d in cursor.description]
            row = cursor.fetchone()
        return dict(zip(names, row, strict=True)) if row else None

    def latest_run(self) -> str | None:
        """The newest bench run id."""
        with self.connect() as db:
            row = db.execute(
                "SELECT run_id FROM bench_runs ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    def summary(self, run_id: str) -> list[SummaryRow]:
        """A run's per-strategy summary, in the order it ran."""
        names = _columns(SummaryRow)
        with self.connect() as db:
            found = db.execute(
                f"SELECT {', '.join(names)} FROM bench_summary WHERE run_id = ? ORDER BY position",
                [run_id],
            ).fetchall()
        return [SummaryRow(**dict(zip(names, v, strict=True))) for v in found]

    def sources(self, run_id: str) -> list[tuple[str, int]]:
        """(task, items) of a run."""
        with self.connect() as db:
            return db.execute(
                "SELECT source, count(DISTINCT item_key) FROM bench_results WHERE run_id = ? "
                "GROUP BY source ORDER BY source",
                [run_id],
            ).fetchall()

    def calls_per_item(self, run_id: str) -> dict[str, float]:
        """Mean model calls (attempts) per item, by strategy."""
        with self.connect() as db:
            found = db.execute(
                "SELECT strategy, avg(n_attempts) FROM bench_results WHERE run_id = ? "
                "GROUP BY strategy",
                [run_id],
            ).fetchall()
        return {strategy: value for strategy, value in found}

    def per_source(self, run_id: str) -> list[tuple[str, str, float, float]]:
        """(task, strategy, accuracy, tokens per item) of a run."""
        with self.connect() as db:
            return db.execute(
                "SELECT source, strategy, avg(correct), avg(prompt_tokens + completion_tokens) "
                "FROM bench_results WHERE run_id = ? GROUP BY source, strategy "
                "ORDER BY source, strategy",
                [run_id],
            ).fetchall()
