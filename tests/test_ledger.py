"""The DuckDB ledger: migrations, batched writes, costs, read-only access."""

from __future__ import annotations

import duckdb
import pytest

from accord.consensus.records import Attempt, Decision, Verdict
from accord.errors import ConfigError
from accord.ledger import Ledger, PriceTable, list_runs, run_decisions
from accord.ledger.reader import open_readonly
from accord.ledger.schema import MIGRATIONS
from accord.models.pricing import Price


def _decision(task: str, tokens: list[tuple[int, int]], model: str = "smollm2-135m") -> Decision:
    attempts = tuple(
        Attempt(
            task_id=task,
            role="r",
            model=model,
            answer="a",
            raw="a",
            prompt_tokens=p,
            completion_tokens=c,
            model_ms=1.0,
            seed=i,
            temperature=0.0,
            verdict=Verdict(True),
        )
        for i, (p, c) in enumerate(tokens)
    )
    return Decision(
        task_id=task,
        answer="a",
        confidence=0.9,
        path="escalated",
        stop_reason="settled",
        status="accepted",
        policy="adaptive@0.6",
        attempts=attempts,
        wall_ms=5.0,
    )


def test_migrations_are_recorded_once(ledger_path) -> None:
    Ledger(ledger_path)
    Ledger(ledger_path)
    db = duckdb.connect(str(ledger_path), read_only=True)
    versions = db.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))


def test_decision_cost_is_the_sum_of_its_attempts(ledger_path) -> None:
    prices = PriceTable().with_overrides({"paid": Price(1.0, 2.0, 1e9)})
    ledger = Ledger(ledger_path, prices=prices, batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    ledger.record(
        run, _decision("t1", [(10, 5), (20, 7)], model="paid"), expected=["a"], correct=True
    )
    ledger.record(run, _decision("t2", [(3, 1)]))
    assert run_decisions_count(ledger_path, run) == 0  # still buffered
    ledger.finish_run(run)
    rows = {r["task_id"]: r for r in run_decisions(ledger_path, run)}
    t1 = rows["t1"]
    assert (t1["prompt_tokens"], t1["completion_tokens"], t1["n_attempts"]) == (30, 12, 2)
    assert t1["cost_usd"] == pytest.approx((30 * 1.0 + 12 * 2.0) / 1e6)
    assert t1["flops"] == pytest.approx(2 * 1e9 * 42)
    assert rows["t2"]["flops"] == pytest.approx(2 * 135e6 * 4)
    summary = list_runs(ledger_path)[0]
    assert summary["tokens"] == 46 and summary["decisions"] == 2 and summary["accuracy"] == 1.0


def run_decisions_count(path, run) -> int:
    # open_readonly, not duckdb.connect(read_only=True): the run's writer holds the file in
    # this process, and the reader joins its database instance
    with open_readonly(path) as db:
        return db.execute("SELECT count(*) FROM decisions WHERE run_id = ?", [run]).fetchone()[0]


def test_reading_a_missing_ledger_or_run_is_a_config_error(tmp_path, ledger_path) -> None:
    with pytest.raises(ConfigError, match="no ledger here"):
        list_runs(tmp_path / "nope.duckdb")
    ledger = Ledger(ledger_path)
    ledger.finish_run(ledger.start_run("c"))
    with pytest.raises(ConfigError, match="no run 'x'"):
        run_decisions(ledger_path, "x")


def test_cached_prompt_tokens_cut_flops_not_money_and_critic_scores_are_kept(ledger_path) -> None:
    from dataclasses import replace

    prices = PriceTable({"m": Price(1.0, 2.0, parameters=1e6)})
    ledger = Ledger(ledger_path, prices=prices)
    run = ledger.start_run("crew")
    plain = _decision("t", [(100, 10), (100, 10)], model="m")
    first, second = plain.attempts
    cached = replace(
        plain, attempts=(first, replace(second, cached_prompt_tokens=100, critic_score=0.7))
    )
    ledger.record(run, cached)
    ledger.finish_run(run, "finished")
    db = duckdb.connect(str(ledger_path), read_only=True)
    rows = db.execute(
        "SELECT cached_prompt_tokens, critic_score, cost_usd, flops FROM attempts "
        "WHERE run_id = ? ORDER BY attempt_no",
        [run],
    ).fetchall()
    db.close()
    usd = (100 * 1.0 + 10 * 2.0) / 1e6
    assert rows[0] == (0, None, pytest.approx(usd), pytest.approx(2 * 1e6 * 110))
    assert rows[1] == (100, pytest.approx(0.7), pytest.approx(usd), pytest.approx(2 * 1e6 * 10))


def test_a_ledger_from_before_migration_4_upgrades_in_place(tmp_path) -> None:
    from accord.ledger.schema import apply_migrations

    path = tmp_path / "old.duckdb"
    db = duckdb.connect(str(path))
    apply_migrations(db, MIGRATIONS[:3], "schema_migrations")
    db.execute(
        "INSERT INTO runs (run_id, crew, status, started_at) VALUES ('old', 'c', 'finished', now())"
    )
    db.close()
    ledger = Ledger(path)
    run = ledger.start_run("c")
    ledger.record(run, _decision("t", [(5, 1)]))
    ledger.finish_run(run, "finished")
    assert {r["run_id"] for r in list_runs(path)} == {"old", run}


def test_a_nan_signal_is_stored_as_null(ledger_path) -> None:
    import dataclasses
    import math

    ledger = Ledger(ledger_path)
    run = ledger.start_run("c")
    for task, value in (("t1", math.nan), ("t2", 0.9)):
        plain = _decision(task, [(3, 1)])
        attempt = dataclasses.replace(
            plain.attempts[0], confidence=value, option_prob=value, mean_logprob=value
        )
        ledger.record(run, dataclasses.replace(plain, confidence=value, attempts=(attempt,)))
    ledger.finish_run(run)
    with duckdb.connect(str(ledger_path), read_only=True) as db:
        row = "SELECT confidence, option_prob, mean_logprob FROM attempts WHERE task_id = 't1'"
        assert db.execute(row).fetchone() == (None, None, None)
        assert db.execute("SELECT avg(confidence) FROM decisions").fetchone() == (0.9,)


def test_rows_whose_commit_fails_stay_buffered_for_the_next_flush(tmp_path) -> None:
    """A disk that fills up (a file-size limit stands in for it) fails the COMMIT: the error
    says so (not a failed ROLLBACK's) and the rows are written once the disk has room."""
    import subprocess
    import sys

    code = f"""
import resource
from pathlib import Path
from accord.consensus.records import Attempt, Decision
from accord.ledger.writer import Ledger
path = Path({str(tmp_path / "l.duckdb")!r})
ledger = Ledger(path, batch_size=10_000, flush_seconds=3600)
run = ledger.start_run("c")
ledger.flush()  # the run's row is in
for i in range(300):
    a = Attempt(task_id=f"t{{i}}", role="r", model="m", answer="A", raw="A" * 20000,
                prompt_tokens=3, completion_tokens=1, model_ms=1.0, seed=0, temperature=0.0)
    ledger.record(run, Decision(task_id=f"t{{i}}", answer="A", confidence=1.0, path="single",
                  stop_reason="s", status="accepted", policy="p", attempts=(a,), wall_ms=1.0))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
wal = Path(f"{{path}}.wal")
room = max(path.stat().st_size, wal.stat().st_size if wal.exists() else 0) + 2000
resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
try:
    ledger.flush()
    print("flushed")
except Exception as exc:
    print("failed:", type(exc).__name__, str(exc).splitlines()[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
ledger.finish_run(run)
print("stored:", ledger.query("SELECT count(*) FROM decisions")[0][0])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "failed: LedgerWriteError" in out and "cannot write the ledger" in out, out
    assert "Failed to commit" in out, out  # DuckDB's own reason, on the same line
    assert "stored: 300" in out, out
