"""Tallying votes: a majority that does not depend on the order votes arrive in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts and summed confidence per answer, sorted leader first."""

    rows: tuple[tuple[str, int, float], ...]
    weighted: bool = False
    # the answers in the order they were given (ESC's windows read it; the majority does not)
    order: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, votes: Iterable[tuple[str, float]], *, weighted: bool = False) -> Tally:
        """Tally `(answer, confidence)` votes, given in the order they arrived.

        By count, ties broken by summed confidence, then by the answer; `weighted` ranks by
        summed confidence first (a confidence-weighted vote), then by count.
        """
        counts: dict[str, int] = {}
        weight: dict[str, float] = {}
        order: list[str] = []
        for answer, confidence in votes:
            order.append(answer)
            counts[answer] = counts.get(answer, 0) + 1
            weight[answer] = weight.get(answer, 0.0) + confidence
        if weighted:
            key = lambda r: (-round(r[2], 12), -r[1], r[0])  # noqa: E731
        else:
            key = lambda r: (-r[1], -round(r[2], 12), r[0])  # noqa: E731
        rows = sorted(((a, counts[a], weight[a]) for a in counts), key=key)
        return cls(tuple(rows), weighted, tuple(order))

    @property
    def total(self) -> int:
        """Number of votes cast."""
        return sum(r[1] for r in self.rows)

    @property
    def leader(self) -> str | None:
        """The winning answer (None when there are no votes)."""
        return self.rows[0][0] if self.rows else None

    def count(self, rank: int) -> int:
        """Votes of the answer at `rank` (0 = leader); 0 past the end."""
        return self.rows[rank][1] if rank < len(self.rows) else 0

    def weight(self, rank: int) -> float:
        """Summed confidence of the answer at `rank` (0 = leader); 0 past the end."""
        return self.rows[rank][2] if rank < len(self.rows) else 0.0

    @property
    def share(self) -> float:
        """The leader's share of the votes (of the summed confidence, when weighted)."""
        if self.weighted:
            total = sum(r[2] for r in self.rows)
            return self.rows[0][2] / total if total > 0 else 0.0
        return self.count(0) / self.total if self.total else 0.0
