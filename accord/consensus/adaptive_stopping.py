"""Adaptive stopping rules: the Beta rule of Adaptive-Consistency and an early-stopping window.

Beta rule (Aggarwal et al., 2023): with `a` votes for the leader and `b` for the runner-up and a
uniform prior, the leader's share of the two is p ~ Beta(a + 1, b + 1); stop when
P(p > 1/2) >= c. For integer counts this has a closed form: P(p > 1/2) = P(Bin(a+b+1, 1/2) <= a).

Window rule (Early-Stopping Self-Consistency, Li et al., 2024): the votes, in the order they
arrive, fall into consecutive windows of `w` (votes 1..w, w+1..2w, ...); stop as soon as one
window is unanimous. The answer is still the majority of every vote drawn.

The rules are registered by name in `accord.consensus.stopping` (this module imports no registry).
"""

from __future__ import annotations

from math import comb

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
    """Stop once a window of `window` consecutive votes (in arrival order) is unanimous."""

    def __init__(self, window: int = 3) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.name = f"window@{window}"

    def done(self, tally: Tally, k_max: int) -> str | None:
        """'k_max' at the cap, 'window' once a complete window is unanimous, else None.

        Every complete window is checked, so votes that arrive in a batch past a window's end
        (parallel voters) still stop the vote on that window.
        """
        if tally.total >= k_max:
            return "k_max"
        if unanimous_window(_arrival(tally), self.window):
            return "window"
        return None


def unanimous_window(order: tuple[str, ...], window: int) -> bool:
    """Whether one of the consecutive windows of `window` votes in `order` is unanimous."""
    complete = len(order) - len(order) % window
    return any(len(set(order[i : i + window])) == 1 for i in range(0, complete, window))


def _arrival(tally: Tally) -> tuple[str, ...]:
    """The tally's votes in arrival order (a tally built without it: the vote counts only)."""
    if tally.order or not tally.rows:
        return tally.order
    if len(tally.rows) == 1:  # one answer: every order is the same
        return (tally.rows[0][0],) * tally.total
    raise ValueError("the window rule needs the votes' arrival order (use Tally.of)")
