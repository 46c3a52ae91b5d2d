"""Stop reasons and attempt errors are typed values whose text is the ledger's, as before."""

from __future__ import annotations

import asyncio
import pickle

from accord.consensus import BudgetSpec, Coordinator, PolicySpec, Task
from accord.consensus.outcomes import StopReason
from accord.errors import BackendError
from accord.models.base import CompletionRequest
from accord.models.scripted import Scripted
from accord.testing import scripted_pool

MC = Task(id="q", prompt="Which is bigger?", answer_type="choice", choices=("a", "b", "c"))


def test_each_kind_keeps_the_ledger_text_and_its_fields() -> None:
    budget = StopReason.budget("tokens_per_run")
    failed = StopReason.failed("TimeoutError: slow")
    top = StopReason.tiers(2, budget)
    lower = StopReason.tiers(1, StopReason("confident"), fallback=top)
    assert [budget, failed, StopReason.rule("k_max"), top, lower] == [
        "budget:tokens_per_run",
        "attempt failed: TimeoutError: slow",
        "k_max",
        "tier2:budget:tokens_per_run",
        "tier1:confident (tier2:budget:tokens_per_run)",
    ]
    assert (budget.kind, budget.detail) == ("budget", "tokens_per_run")
    assert lower.tier == 1 and lower.inner == "confident" and lower.inner.kind == "confident"
    assert lower.over_budget and top.over_budget and not StopReason.tiers(1, "k_max").over_budget
    assert not failed.over_budget and failed.detail == "TimeoutError: slow"


def test_a_stop_reason_survives_pickling_with_its_fields() -> None:
    reason = StopReason.tiers(1, "confident", fallback=StopReason.tiers(2, "budget:x"))
    back = pickle.loads(pickle.dumps(reason))
    assert back == reason and type(back) is StopReason
    assert (back.kind, back.tier, back.inner.kind, back.fallback) == (
        "tiers",
        1,
        "other",
        reason.fallback,
    )


def test_the_coordinators_budget_stop_is_typed() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.3)}, "voter": {"bigger": ["b", "c"]}}
    )
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=9, voters=["voter"]),
        budget=BudgetSpec(tokens_per_decision=30),
        seed=0,
    )
    d = asyncio.run(coordinator.decide(MC))
    assert (d.stop.kind, d.stop.detail) == ("budget", "tokens_per_decision") and d.over_budget
    assert d.stop_reason == "budget:tokens_per_decision"


def test_attempts_that_raise_carry_their_error_and_stop_the_decision_as_failed() -> None:
    def broken(request: CompletionRequest) -> Scripted:
        raise BackendError("scripted", "server went away")

    pool = scripted_pool({"solver": broken, "voter": broken})
    d = asyncio.run(Coordinator(pool, policy=PolicySpec(kind="single")).decide(MC))
    (attempt,) = d.attempts
    assert attempt.verdict.error is not None and "server went away" in attempt.verdict.error
    assert attempt.verdict.reason == "attempt failed: " + attempt.verdict.error
    assert d.stop.kind == "failed" and d.stop.detail == attempt.verdict.error
    assert d.stop_reason == attempt.verdict.reason and d.status == "unresolved"


def test_text_from_outside_the_coordinator_is_kind_other() -> None:
    from accord.consensus.records import Decision

    d = Decision("t", "x", 1.0, "single", "external call", "accepted", "external", (), 0.0)
    assert (d.stop.kind, d.stop.detail, d.over_budget) == ("other", "external call", False)
