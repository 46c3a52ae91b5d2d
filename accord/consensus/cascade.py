"""A model cascade: decide on the cheapest tier, climb to the next only while unsure.

FrugalGPT-style: each tier is a Coordinator over a pool of one model tier, run with the same
policy. A decision is final when it is accepted with `certainty` >= `climb_below`, or on the last
tier. The returned decision carries every attempt of every tier, so its cost is the whole climb.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from accord.consensus.coordinator import Coordinator
from accord.consensus.normalise import normalise_answer
from accord.consensus.outcomes import StopReason
from accord.consensus.policy import PolicySpec
from accord.consensus.records import ANSWER_KINDS, Attempt, Decision, Task
from accord.consensus.spending import DecisionSpend, RunSpend


def certainty(decision: Decision, task: Task | None = None) -> float:
    """How sure a tier is of its decision: its confidence, capped by its backers' own.

    A vote's confidence is the agreement among its samples; a small model that repeats the
    same unsure answer agrees with itself, so the mean confidence of the attempts behind the
    answer caps it (five votes at p=0.3 are not a settled decision). With `task`, answers
    back the decision when they normalise alike (`4.0` backs `4`), as they were counted.
    """

    def key(answer: str) -> str:
        return normalise_answer(answer, task) if task is not None else answer

    backing = [
        a.confidence
        for a in decision.attempts
        if a.kind in ANSWER_KINDS and a.verdict.ok and key(a.answer) == key(decision.answer)
    ]
    if not backing:
        return 0.0
    return min(decision.confidence, sum(backing) / len(backing))


class Cascade:
    """Ordered tiers of coordinators; climbs while the decision is unresolved or unsure."""

    def __init__(
        self, tiers: Sequence[Coordinator], policy: PolicySpec, *, climb_below: float | None = None
    ) -> None:
        if not tiers:
            raise ValueError("a cascade needs at least one tier")
        self.tiers = tuple(tiers)
        self.policy = policy
        self.climb_below = policy.threshold if climb_below is None else climb_below

    @property
    def label(self) -> str:
        """cascade[N]@threshold, for tables and the ledger."""
        return f"cascade[{len(self.tiers)}]@{self.climb_below:g}"

    def settled(self, decision: Decision, task: Task | None = None) -> bool:
        """Whether `decision` (on `task`) is good enough not to climb."""
        return decision.status == "accepted" and certainty(decision, task) >= self.climb_below

    @property
    def spend(self) -> RunSpend:
        """The run's spending (the first tier's; share one RunSpend across tiers)."""
        return self.tiers[0].spend

    async def decide(self, task: Task, policy: PolicySpec | None = None) -> Decision:
        """Decide `task`, climbing tiers while unsure; the cost is the sum over tiers.

        `policy` (a task's own) replaces the cascade's for every tier. The decision's budgets
        cover the whole climb (one DecisionSpend for every tier); a tier stopped by a budget
        ends it. When the top tier reached no valid answer, the best accepted lower tier's
        answer stands (its stop reason names both tiers).
        """
        start = time.perf_counter()
        spent = DecisionSpend(self.spend)
        attempts: list[Attempt] = []
        decisions: list[Decision] = []
        for tier in self.tiers:
            decisions.append(await tier.decide(task, policy or self.policy, spent=spent))
            attempts.extend(decisions[-1].attempts)
            if self.settled(decisions[-1], task) or decisions[-1].over_budget:
                break
        top, level = decisions[-1], len(decisions)
        decision, reason = top, StopReason.tiers(level, top.stop_reason)
        if top.status != "accepted":
            accepted = [(i, d) for i, d in enumerate(decisions, 1) if d.status == "accepted"]
            if accepted:
                best_level, decision = max(accepted, key=lambda x: (certainty(x[1], task), x[0]))
                reason = StopReason.tiers(best_level, decision.stop_reason, fallback=reason)
        return replace(
            decision,
            attempts=tuple(attempts),
            policy=self.label,
            path="escalated" if level > 1 else decision.path,
            stop_reason=reason,
            wall_ms=(time.perf_counter() - start) * 1000.0,
        )
