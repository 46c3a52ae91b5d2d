"""Cached prompt tokens priced as billed: the price table, money budgets and the ledger."""

from __future__ import annotations

import duckdb
import pytest

from accord.consensus.policy import BudgetSpec
from accord.consensus.records import Attempt, Decision
from accord.consensus.spending import RunSpend
from accord.ledger import Ledger, PriceTable
from accord.models.pricing import Price

# gpt-4o-mini's list prices: input 0.15, cached input 0.075, output 0.60 USD per million
MINI = Price(0.15, 0.60, cached_prompt_usd_per_mtok=0.075)
PRICES = PriceTable({"mini": MINI, "plain": Price(0.15, 0.60)})


def _attempt(prompt: int, completion: int, cached: int, model: str = "mini") -> Attempt:
    return Attempt(
        task_id="t",
        role="voter",
        model=model,
        answer="4",
        raw="4",
        prompt_tokens=prompt,
        completion_tokens=completion,
        model_ms=1.0,
        seed=0,
        temperature=0.8,
        kind="voter",
        cached_prompt_tokens=cached,
    )


def test_cached_prompt_tokens_cost_the_cached_input_price() -> None:
    billed = (476 * 0.15 + 1024 * 0.075 + 100 * 0.60) / 1e6
    assert PRICES.usd("mini", 1500, 100, 1024) == pytest.approx(billed)
    # without a cached-input price, cached tokens are ordinary input
    assert PRICES.usd("plain", 1500, 100, 1024) == pytest.approx(PRICES.usd("plain", 1500, 100))
    # a count out of range cannot make money negative or bill more than the prompt
    assert PRICES.usd("mini", 10, 0, 50) == pytest.approx(10 * 0.075 / 1e6)
    assert PRICES.usd("mini", 10, 0, -5) == pytest.approx(10 * 0.15 / 1e6)


def test_money_budgets_count_the_billed_cost() -> None:
    full = 1500 * 0.15 / 1e6
    cached = (476 * 0.15 + 1024 * 0.075) / 1e6
    spend = RunSpend(BudgetSpec(usd_per_run=full + cached + 1e-12), PRICES)
    spend.add([_attempt(1500, 0, 0), _attempt(1500, 0, 1024)])
    assert spend.usd == pytest.approx(full + cached)
    assert spend.exhausted() is None  # full price twice would have crossed the limit


def test_the_ledger_records_the_billed_cost(tmp_path) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path, prices=PRICES)
    run = ledger.start_run("crew")
    attempts = (_attempt(1500, 100, 0), _attempt(1500, 100, 1024))
    decision = Decision(
        task_id="t",
        answer="4",
        confidence=1.0,
        path="vote",
        stop_reason="settled",
        status="accepted",
        policy="vote@2",
        attempts=attempts,
        wall_ms=2.0,
    )
    ledger.record(run, decision)
    ledger.finish_run(run, "finished")
    db = duckdb.connect(str(path), read_only=True)
    rows = db.execute("SELECT cost_usd FROM attempts ORDER BY attempt_no").fetchall()
    costs = [r[0] for r in rows]
    total = db.execute("SELECT cost_usd FROM decisions").fetchone()[0]
    db.close()
    expected = [PRICES.usd("mini", 1500, 100), PRICES.usd("mini", 1500, 100, 1024)]
    assert costs == pytest.approx(expected)
    assert total == pytest.approx(sum(expected))


def test_a_crew_file_takes_a_cached_input_price() -> None:
    from accord.crews.spec import PriceSpec

    spec = PriceSpec.model_validate(
        {
            "prompt_usd_per_mtok": 0.15,
            "completion_usd_per_mtok": 0.6,
            "cached_prompt_usd_per_mtok": 0.075,
        }
    )
    assert spec.cached_prompt_usd_per_mtok == 0.075
    with pytest.raises(ValueError):
        PriceSpec.model_validate({"cached_prompt_usd_per_mtok": -1})
