"""The ledger's schema as an ordered list of numbered migrations, recorded in the database."""

from __future__ import annotations

from pathlib import Path

import duckdb

from accord.errors import ConfigError
from accord.ledger.migrations import Migration, Migrations, apply_migrations

migration = Migrations("schema_migrations")
MIGRATIONS = migration.steps

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "migrate", "migration"]


@migration
def m001_runs_decisions_attempts(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            crew VARCHAR NOT NULL,
            source VARCHAR,
            backend VARCHAR,
            policy VARCHAR,
            seed BIGINT,
            status VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            config JSON
        )""")
    db.execute("""
        CREATE TABLE decisions (
            run_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            policy VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            stop_reason VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            n_attempts INTEGER NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            wall_ms DOUBLE NOT NULL,
            model_ms DOUBLE NOT NULL,
            cost_usd DOUBLE NOT NULL,
            flops DOUBLE,
            answer VARCHAR,
            confidence DOUBLE,
            expected VARCHAR,
            correct BOOLEAN,
            decided_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, task_id)
        )""")
    db.execute("""
        CREATE TABLE attempts (
            run_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            attempt_no INTEGER NOT NULL,
            role VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            model_ms DOUBLE NOT NULL,
            temperature DOUBLE NOT NULL,
            seed BIGINT NOT NULL,
            answer VARCHAR,
            raw VARCHAR,
            confidence DOUBLE,
            option_prob DOUBLE,
            mean_logprob DOUBLE,
            verdict_ok BOOLEAN NOT NULL,
            verdict_reason VARCHAR,
            cost_usd DOUBLE NOT NULL,
            flops DOUBLE,
            PRIMARY KEY (run_id, task_id, attempt_no)
        )""")


# tables accord itself puts in a ledger file (the bench's, memory's, tools' keys)
_ACCORD_TABLE = ("bench_", "memory_", "audit_", "idempotency_keys", "schema_migrations")


def migrate(db: duckdb.DuckDBPyConnection, *, path: str | Path | None = None) -> list[str]:
    """Apply the ledger migrations not yet recorded in `db`; return the names applied.

    A database that holds tables of its own and no ledger is refused (ConfigError): ledger
    tables are not added to someone else's database.
    """
    applied = migration.apply_if(db, lambda: _refuse_foreign(db, path))
    return applied


def _refuse_foreign(db: duckdb.DuckDBPyConnection, path: str | Path | None) -> None:
    tables = db.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "UNION ALL SELECT view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    foreign = sorted(t for (t,) in tables if not t.startswith(_ACCORD_TABLE))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ConfigError(
            f"not an accord ledger: the database holds other tables ({shown}) and no ledger",
            path=path,
            hint="pass --db a new file or the ledger accord wrote (default .accord/ledger.duckdb)",
        )


@migration
def m002_views(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""
        CREATE VIEW run_summary AS
        SELECT r.run_id, r.crew, r.status, r.started_at, r.finished_at,
               count(d.task_id) AS decisions,
               coalesce(sum(d.n_attempts), 0) AS attempts,
               coalesce(sum(CASE WHEN d.path <> 'single' THEN 1 ELSE 0 END), 0) AS escalated,
               coalesce(sum(d.prompt_tokens + d.completion_tokens), 0) AS tokens,
               coalesce(sum(d.cost_usd), 0) AS cost_usd,
               sum(d.flops) AS flops,
               avg(CASE WHEN d.correct IS NULL THEN NULL WHEN d.correct THEN 1.0 ELSE 0.0 END)
                   AS accuracy
        FROM runs r LEFT JOIN decisions d USING (run_id)
        GROUP BY ALL""")


@migration
def m003_audit_events(db: duckdb.DuckDBPyConnection) -> None:
    # Append-only, hash-chained per run (see accord/ledger/audit.py); no keys, so a tampered
    # table still loads and `accord audit verify` can name what changed.
    db.execute("""
        CREATE TABLE audit_events (
            run_id VARCHAR NOT NULL,
            seq BIGINT NOT NULL,
            event_id VARCHAR NOT NULL,
            ts VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            tool VARCHAR,
            args_digest VARCHAR,
            result_digest VARCHAR,
            decision VARCHAR NOT NULL,
            policy VARCHAR,
            detail VARCHAR,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        )""")
    db.execute("""
        CREATE TABLE audit_heads (
            run_id VARCHAR NOT NULL, seq BIGINT NOT NULL, hash VARCHAR NOT NULL)""")


@migration
def m004_attempt_cache_and_critic(db: duckdb.DuckDBPyConnection) -> None:
    # Of an attempt's prompt tokens, those served from a cached prompt state (not evaluated
    # again: FLOPs count only the rest); and the critic role's P(yes) for the attempt.
    db.execute("ALTER TABLE attempts ADD COLUMN cached_prompt_tokens BIGINT DEFAULT 0")
    db.execute("ALTER TABLE attempts ADD COLUMN critic_score DOUBLE")


@migration
def m005_prompts_and_votes(db: duckdb.DuckDBPyConnection) -> None:
    # attempts.prompt: the chat messages an attempt sent, a JSON list of {role, content}
    # (`accord show` prints them); NULL when the crew turned prompt storage off (`ledger:
    # {store_prompts: false}`, `--no-store-prompts`) or the attempt sent none (a replay).
    # decisions.votes: a vote's tally, a JSON list of {answer, votes}, leader first.
    db.execute("ALTER TABLE attempts ADD COLUMN prompt JSON")
    db.execute("ALTER TABLE decisions ADD COLUMN votes JSON")
