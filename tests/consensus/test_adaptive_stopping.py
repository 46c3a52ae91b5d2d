"""The Beta rule and the window rule: closed form, thresholds, order invariance, k_max."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc

from accord.consensus.adaptive_stopping import (
    BetaRule,
    WindowRule,
    leader_probability,
    votes_needed,
)
from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Task
from accord.consensus.stopping import stopping_rules
from accord.consensus.voting import Tally
from accord.testing import scripted_pool

RULES = ["fixed", "settled", "beta", "beta@0.8", "beta@0.99", "window", "window@2"]


@given(st.integers(0, 60), st.integers(0, 60))
def test_beta_closed_form_matches_the_incomplete_beta_integral(a: int, b: int) -> None:
    assert leader_probability(a, b) == pytest.approx(1 - betainc(a + 1, b + 1, 0.5), abs=1e-12)


@given(st.integers(0, 40), st.integers(0, 40))
def test_more_leader_votes_never_lower_the_probability(a: int, b: int) -> None:
    assert leader_probability(a + 1, b) > leader_probability(a, b)
    assert leader_probability(a, b + 1) < leader_probability(a, b)


@pytest.mark.parametrize(("c", "unanimous"), [(0.8, 2), (0.9, 3), (0.95, 4), (0.99, 6)])
def test_unanimous_votes_needed_match_one_minus_half_to_the_n(c: float, unanimous: int) -> None:
    # With b = 0 the closed form is 1 - 2^-(a+1).
    assert votes_needed(c) == unanimous
    assert 1 - 0.5 ** (unanimous + 1) >= c > 1 - 0.5**unanimous


def test_beta_rule_stops_on_a_settled_leader_and_not_on_a_split() -> None:
    rule = BetaRule(0.95)
    assert rule.done(Tally.of([("4", 1.0)] * 4), 10) == "beta"
    assert rule.done(Tally.of([("4", 1.0)] * 3), 10) is None
    assert rule.done(Tally.of([("4", 1.0)] * 3 + [("5", 1.0)] * 2), 10) is None
    assert rule.done(Tally.of([("4", 1.0)] * 3 + [("5", 1.0)] * 2), 5) == "k_max"


def test_window_rule_needs_a_full_unanimous_window() -> None:
    rule = WindowRule(3)
    assert rule.done(Tally.of([("a", 1.0)] * 2), 5) is None
    assert rule.done(Tally.of([("a", 1.0)] * 3), 5) == "window"
    assert rule.done(Tally.of([("b", 1.0)] + [("a", 1.0)] * 3), 9) is None  # windows: baa, a..


def _esc_stop(answers: str, window: int, k_max: int) -> int:
    """Where Early-Stopping Self-Consistency stops: sample window by window (consecutive,
    not overlapping), stop after the first window whose answers are all one; never past k."""
    for end in range(window, k_max + 1, window):
        if len(set(answers[end - window : end])) == 1:
            return end
    return k_max


def _rule_stop(answers: str, name: str, k_max: int) -> int:
    """Where the registered rule stops the same votes, arriving in this order."""
    rule = stopping_rules.create(name)
    for n in range(1, k_max + 1):
        if rule.done(Tally.of((a, 1.0) for a in answers[:n]), k_max):
            return n
    raise AssertionError("a rule must stop at k_max")


@pytest.mark.parametrize(("window", "k_max"), [(2, 5), (3, 5), (3, 9), (2, 8), (4, 9)])
def test_window_rule_stops_where_esc_does_on_every_sequence(window: int, k_max: int) -> None:
    for letters in itertools.product("ab", repeat=k_max):
        answers = "".join(letters)
        assert _rule_stop(answers, f"window@{window}", k_max) == _esc_stop(answers, window, k_max)


def test_window_rule_stops_on_a_later_unanimous_window() -> None:
    assert _rule_stop("abaaa", "window@2", 5) == 4  # windows ab, aa: ESC stops on the second
    assert _rule_stop("abbaa", "window@2", 5) == 5  # bb straddles two windows: not a window


def test_the_coordinator_gives_the_window_rule_its_votes_in_arrival_order() -> None:
    pool = scripted_pool({"solver": {"question": ["3", "4", "4", "4", "4"]}})
    policy = PolicySpec(kind="vote", k=5, stopping="window@2")
    decision = asyncio.run(Coordinator(pool).decide(Task("t", "question"), policy))
    assert len(decision.attempts) == 4 and decision.stop_reason == "window"
    assert decision.answer == "4"


votes = st.lists(st.sampled_from(["1", "2", "3"]), min_size=0, max_size=12)
ORDER_FREE = [r for r in RULES if not r.startswith("window")]  # ESC's windows read the order


@given(votes, st.randoms(use_true_random=False), st.sampled_from(ORDER_FREE), st.integers(1, 12))
def test_rules_are_invariant_to_arrival_order(answers, rnd, name, k_max) -> None:  # type: ignore[no-untyped-def]
    rule = stopping_rules.create(name)
    shuffled = list(answers)
    rnd.shuffle(shuffled)
    tally = Tally.of((a, 1.0) for a in answers)
    assert rule.done(tally, k_max) == rule.done(Tally.of((a, 1.0) for a in shuffled), k_max)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=8),
    st.sampled_from(RULES),
    st.integers(1, 9),
    st.sampled_from(["vote", "adaptive"]),
)
def test_a_vote_never_exceeds_k_max(script, name, k, kind) -> None:  # type: ignore[no-untyped-def]
    pool = scripted_pool({"solver": {"question": script}})
    policy = PolicySpec(kind=kind, k=k, stopping=name, threshold=1.0)
    decision = asyncio.run(Coordinator(pool).decide(Task("t", "question"), policy))
    assert 1 <= len(decision.attempts) <= k
    assert decision.stop_reason


def test_beta_vote_spends_fewer_attempts_than_fixed_on_unanimous_answers() -> None:
    pool = scripted_pool({"solver": {"question": ["7"]}})
    coordinator = Coordinator(pool)
    task = Task("t", "question")
    fixed = asyncio.run(coordinator.decide(task, PolicySpec(kind="vote", k=8, stopping="fixed")))
    beta = asyncio.run(coordinator.decide(task, PolicySpec(kind="vote", k=8, stopping="beta")))
    assert len(fixed.attempts) == 8
    assert len(beta.attempts) == 4 and beta.stop_reason == "beta"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.floats(0.0, 1.0)), min_size=1, max_size=8),
    st.integers(1, 9),
    st.booleans(),
)
def test_a_settled_vote_cannot_be_overturned_by_the_votes_still_to_come(
    votes: list[tuple[str, float]], k_max: int, weighted: bool
) -> None:
    """When `settled` stops a vote, no way of casting the remaining votes changes the winner
    (in a weighted vote each remaining vote may carry full confidence)."""
    tally = Tally.of(votes, weighted=weighted)
    if stopping_rules.create("settled").done(tally, k_max) != "settled":
        return
    remaining = k_max - tally.total
    for rival in "abc":
        if rival == tally.leader:
            continue
        rest = [(rival, 1.0)] * remaining  # the strongest challenge: all to one rival
        assert Tally.of(votes + rest, weighted=weighted).leader == tally.leader


def test_a_weighted_vote_is_not_settled_by_count_alone() -> None:
    tally = Tally.of([("a", 0.3), ("a", 0.3), ("a", 0.3)], weighted=True)
    assert stopping_rules.create("settled").done(tally, 5) is None  # "b" at 2 x 1.0 would win
    unweighted = Tally.of([("a", 0.3), ("a", 0.3), ("a", 0.3)])
    assert stopping_rules.create("settled").done(unweighted, 5) == "settled"
    # a lead of 1.0000000000000002 in floats is a tie-able 1.0: one more vote could tie it
    edge = Tally.of([("b", 0.4), ("b", 0.8), ("a", 0.2)], weighted=True)
    assert stopping_rules.create("settled").done(edge, 4) is None
