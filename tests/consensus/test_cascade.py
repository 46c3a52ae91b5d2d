"""The cascade climbs tiers only while unsure and charges every tier's attempts."""

from __future__ import annotations

import asyncio

from accord.consensus.cascade import Cascade
from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Task
from accord.testing import Scripted, scripted_pool

TASK = Task("t", "question", "number")
POLICY = PolicySpec(kind="adaptive", threshold=0.8, k=3, stopping="fixed")


def _tier(replies: object) -> Coordinator:
    return Coordinator(scripted_pool({"solver": {"question": replies}}))  # type: ignore[dict-item]


def test_a_confident_first_tier_does_not_climb() -> None:
    cascade = Cascade([_tier([Scripted("5", 0.95)]), _tier(["9"])], POLICY)
    decision = asyncio.run(cascade.decide(TASK))
    assert decision.answer == "5"
    assert decision.stop_reason.startswith("tier1:")
    assert len(decision.attempts) == 1


def test_an_unsure_first_tier_climbs_and_pays_for_both() -> None:
    weak = _tier([Scripted("1", 0.3), Scripted("2", 0.3), Scripted("3", 0.3)])
    cascade = Cascade([weak, _tier([Scripted("7", 0.99)])], POLICY)
    decision = asyncio.run(cascade.decide(TASK))
    assert decision.answer == "7"
    assert decision.stop_reason.startswith("tier2:")
    assert decision.path == "escalated"
    assert len(decision.attempts) == 3 + 1
