"""Stopping rules for a vote: each says whether the vote is over, and why.

The registry `stopping_rules` holds every built-in rule by name: `fixed`, `settled` (here),
`beta@c` and `window@w` (from `accord.consensus.adaptive_stopping`).
"""

from __future__ import annotations

from typing import Protocol

from accord.consensus.adaptive_stopping import BetaRule, WindowRule
from accord.consensus.voting import Tally
from accord.registry import Registry


class StoppingRule(Protocol):
    """Decides whether a vote of at most `k_max` votes is over."""

    name: str

    def done(self, tally: Tally, k_max: int) -> str | None:
        """The reason the vote is over, or None to draw another vote."""
        ...


stopping_rules: Registry[StoppingRule] = Registry("stopping rule")


@stopping_rules.register("fixed")
class FixedK:
    """Stop after exactly k_max votes."""

    name = "fixed"

    def done(self, tally: Tally, k_max: int) -> str | None:
        """Over when k_max votes are in."""
        return "k_max" if tally.total >= k_max else None


@stopping_rules.register("settled")
class Settled:
    """Stop once the remaining votes could not change the leader."""

    name = "settled"

    def done(self, tally: Tally, k_max: int) -> str | None:
        """Over when the leader's lead exceeds the votes still to come.

        In a confidence-weighted vote the lead is in summed confidence, and each vote still
        to come may add up to 1 to any answer.
        """
        if tally.total >= k_max:
            return "k_max"
        remaining = k_max - tally.total
        if tally.weighted:
            lead = round(tally.weight(0) - tally.weight(1), 12)  # as the tally ranks
        else:
            lead = tally.count(0) - tally.count(1)
        if tally.total and lead > remaining:
            return "settled"
        return None


def _register_adaptive() -> None:
    for c in (0.8, 0.9, 0.95, 0.99):
        stopping_rules.add(f"beta@{c:g}", lambda c=c: BetaRule(c))
    stopping_rules.add("beta", lambda: BetaRule(0.95))
    for w in (2, 3, 4):
        stopping_rules.add(f"window@{w}", lambda w=w: WindowRule(w))
    stopping_rules.add("window", lambda: WindowRule(3))


_register_adaptive()
