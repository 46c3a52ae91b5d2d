"""Tallying votes: a majority that does not depend on the order votes arrive in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts and summed confidence per answer, sorted leader first."""

    rows: tuple[tuple[str, int, float], ...]

    @classmethod
    def of(cls, votes: Iterable[tuple[str, float]]) -> Tally:
        """Tally `(answer, confidence)` votes; ties break on confidence, then on the answer."""
        counts: dict[str, int] = {}
        weight: dict[str, float] = {}
        for answer, confidence in votes:
            counts[answer] = counts.get(answer, 0) + 1
            weight[answer] = weight.get(answer, 0.0) + confidence
        rows = sorted(
            ((a, counts[a], weight[a]) for a in counts),
            key=lambda r: (-r[1], -round(r[2], 12), r[0]),
        )
        return cls(tuple(rows))

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

    @property
    def share(self) -> float:
        """The leader's share of the votes."""
        return self.count(0) / self.total if self.total else 0.0
