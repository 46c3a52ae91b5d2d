"""The DuckDB ledger: migrations, batched writes, costs, read-only access."""

from __future__ import annotations

import duckdb
import pytest

from accord.consensus.records import Attempt, Decision, Verdict
from accord.errors import ConfigError
from accord.ledger import Ledger, PriceTable, list_runs, run_decisions
from accord.ledger.pricing import Price
from accord.ledger.reader import open_readonly
from accord.ledger.schema import MIGRATIONS


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


def test_batches_flush_when_full(ledger_path) -> None:
    ledger = Ledger(ledger_path, batch_size=3, flush_seconds=3600)
    run = ledger.start_run("c")
    for i in range(7):
        ledger.record(run, _decision(f"t{i}", [(1, 1)]))
    assert run_decisions_count(ledger_path, run) == 6
    ledger.close()
    assert run_decisions_count(ledger_path, run) == 7


def test_reading_a_missing_ledger_or_run_is_a_config_error(tmp_path, ledger_path) -> None:
    with pytest.raises(ConfigError, match="no ledger here"):
        list_runs(tmp_path / "nope.duckdb")
    Ledger(ledger_path).start_run("c")
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
