"""The coordinator's decision flow on scripted agents (no model, no Ray)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.consensus import BudgetSpec, Coordinator, PolicySpec, Tally, Task
from accord.consensus.stopping import Settled
from accord.models.scripted import Scripted
from accord.testing import scripted_pool

MC = Task(id="q", prompt="Which is bigger?", answer_type="choice", choices=("a", "b", "c"))
NUM = Task(id="n", prompt="What is 2 plus 2?", answer_type="number")


def decide(pool, task, **policy):
    coordinator = Coordinator(pool, policy=PolicySpec(**policy), seed=1)
    return asyncio.run(coordinator.decide(task))


def test_confident_valid_answer_is_accepted_by_one_agent() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("b", 0.9)}, "voter": {}})
    d = decide(pool, MC, kind="adaptive", threshold=0.6)
    assert (d.answer, d.path, d.stop_reason, len(d.attempts)) == ("b", "single", "confident", 1)
    assert d.confidence == pytest.approx(0.9)


def test_low_confidence_escalates_to_a_vote_that_overrules_the_primary() -> None:
    pool = scripted_pool(
        {
            "solver": {"bigger": Scripted("a", 0.4)},
            "voter": {"bigger": Scripted("c", 0.8)},
        }
    )
    d = decide(
        pool, MC, kind="adaptive", threshold=0.6, k=5, voters=["voter"], voter_temperature=0.0
    )
    assert d.path == "escalated"
    assert d.answer == "c"
    assert d.attempts[0].kind == "primary" and d.attempts[1].kind == "voter"
    # a:1 then c wins once the lead can no longer be caught: c needs 3 of the 4 remaining.
    assert d.stop_reason == "settled"
    assert len(d.attempts) == 4


def test_invalid_primary_answer_escalates_and_does_not_vote() -> None:
    pool = scripted_pool(
        {"solver": {"2 plus 2": Scripted("I think so", 0.99)}, "voter": {"2 plus 2": "4"}}
    )
    d = decide(pool, NUM, kind="adaptive", threshold=0.1, k=3, voters=["voter"], stopping="fixed")
    assert not d.attempts[0].verdict.ok
    assert d.path == "escalated" and d.answer == "4"
    # k bounds attempts, the invalid one included: two valid votes remain.
    assert dict(d.votes) == {"4": 2.0} and len(d.attempts) == 3
    assert d.stop_reason == "k_max"


def test_single_policy_never_escalates_even_when_unsure() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.45)}})
    d = decide(pool, MC, kind="single", threshold=0.9)
    assert (d.path, len(d.attempts), d.answer) == ("single", 1, "a")


def test_vote_policy_uses_voters_from_the_start() -> None:
    pool = scripted_pool({"solver": {"bigger": ["a", "b", "b"]}})
    d = decide(pool, MC, kind="vote", k=3, stopping="fixed")
    assert d.path == "vote" and len(d.attempts) == 3
    assert all(a.kind == "voter" for a in d.attempts)


def test_no_valid_answer_is_unresolved_with_the_best_attempt() -> None:
    pool = scripted_pool({"solver": {"2 plus 2": "dunno"}})
    d = decide(pool, NUM, kind="adaptive", k=3)
    assert d.status == "unresolved"
    assert d.stop_reason == "k_max"


def test_decision_budget_stops_the_vote() -> None:
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
    assert d.stop_reason == "budget:tokens_per_decision" and d.over_budget
    assert len(d.attempts) < 9


def test_parallel_voters_on_replicas_are_all_counted() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.1)}, "voter": {"bigger": "b"}},
        replicas=3,
        threads=True,
        latency_s=0.01,
    )
    d = decide(pool, MC, k=5, voters=["voter"], stopping="fixed")
    assert len(d.attempts) == 5 and d.answer == "b"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["a", "b", "c"]), st.integers(1, 9), st.floats(0.34, 1.0))
def test_unanimous_agents_never_change_the_answer(answer: str, k: int, prob: float) -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted(answer, prob)}, "voter": {"bigger": Scripted(answer, prob)}}
    )
    d = decide(pool, MC, k=k, voters=["voter"], threshold=0.5, voter_temperature=0.0)
    assert d.answer == answer
    assert len(d.attempts) <= max(k, 1)
    if prob >= 0.5:
        assert d.path == "single"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=12), st.randoms())
def test_majority_does_not_depend_on_arrival_order(votes: list[str], rnd) -> None:
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert Tally.of((v, 1.0) for v in votes) == Tally.of((v, 1.0) for v in shuffled)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["x", "y"]), min_size=0, max_size=9), st.integers(1, 9))
def test_settled_rule_stops_only_when_the_leader_cannot_be_caught(votes, k_max) -> None:
    tally = Tally.of((v, 1.0) for v in votes)
    reason = Settled().done(tally, k_max)
    remaining = max(0, k_max - tally.total)
    if reason == "settled":
        assert tally.count(0) - tally.count(1) > remaining
    elif reason is None:
        assert tally.total < k_max
