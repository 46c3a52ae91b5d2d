"""Adaptive stopping rules: the Beta rule of Adaptive-Consistency and an early-stopping window.

Beta rule (Aggarwal et al., 2023): with `a` votes for the leader and `b` for the runner-up and a
uniform prior, the leader's share of the two is p ~ Beta(a + 1, b + 1); stop when
P(p > 1/2) >= c. For integer counts this has a closed form: P(p > 1/2) = P(Bin(a+b+1, 1/2) <= a).

Window rule (Early-Stopping Self-Consistency, Li et al., 2024): stop as soon as the vote holds a
unanimous window of `w` answers.
"""

from __future__ import annotations

from math import comb

from accord.consensus.stopping import stopping_rules
from accord.consensus.voting import Tally


def leader_probability(leader: int, runner_up: int) -> float:
    """P(p_leader > p_runner_up) under a uniform Beta prior, in closed form."""
    if leader < 0 or runner_up < 0:
        raise ValueError("vote counts must be >= 0")
    n = leader + runner_up + 1
    return sum(comb(n, j) for j in range(leader + 1)) / 2**n


def votes_needed(confidence: float, runner_up: int = 0, cap: int = 64) -> int | None:
    """Fewest leader votes that settle the Beta rule against `runner_up` votes (None past cap)."""
    for leader in range(runner_up, cap + 1):
        if leader_probability(leader, runner_up) >= confidence:
            return leader
    return None


class BetaRule:
    """Stop when the Beta posterior says the leader beats the runner-up with prob >= c."""

    def __init__(self, confidence: float = 0.95, *, min_votes: int = 1) -> None:
        if not 0.5 <= confidence < 1.0:
            raise ValueError(f"Beta rule confidence must be in [0.5, 1), got {confidence}")
        self.confidence = confidence
        self.min_votes = min_votes
        self.name = f"beta@{confidence:g}"

    def done(self, tally: Tally, k_max: int) -> str | None:
        """'k_max' at the cap, 'beta' once the leader is settled, else None."""
        if tally.total >= k_max:
            return "k_max"
        if tally.total < self.min_votes:
            return None
        if leader_probability(tally.count(0), tally.count(1)) >= self.confidence:
            return "beta"
        return None


class WindowRule:
    """Stop once `window` votes are in and all of them agree (a unanimous window)."""

    def __init__(self, window: int = 3) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.name = f"window@{window}"

    def done(self, tally: Tally, k_max: int) -> str | None:
        """'k_max' at the cap, 'window' on a unanimous window, else None.

        The tally is order-free, so the window is the whole vote so far: the rule fires on the
        first `window` votes when they agree, which is when ESC's first window would.
        """
        if tally.total >= k_max:
            return "k_max"
        if tally.total >= self.window and len(tally.rows) == 1:
            return "window"
        return None


def _register() -> None:
    for c in (0.8, 0.9, 0.95, 0.99):
        stopping_rules.add(f"beta@{c:g}", lambda c=c: BetaRule(c))
    stopping_rules.add("beta", lambda: BetaRule(0.95))
    for w in (2, 3, 4):
        stopping_rules.add(f"window@{w}", lambda w=w: WindowRule(w))
    stopping_rules.add("window", lambda: WindowRule(3))


_register()
