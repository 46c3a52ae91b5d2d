"""Spending against budgets: what a run and a decision have used in tokens, money and time."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from accord.consensus.policy import BudgetSpec
from accord.consensus.records import Attempt
from accord.models.pricing import PriceTable

Clock = Callable[[], float]


class RunSpend:
    """The running total of a run's attempts, checked against the run's budget.

    The coordinator adds each attempt as it completes, so a run budget also ends the
    decisions in flight, not only the tasks not yet started.
    """

    def __init__(
        self,
        budget: BudgetSpec | None = None,
        prices: PriceTable | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.budget = budget or BudgetSpec()
        self.prices = prices or PriceTable()
        self.clock = clock
        self.started = clock()
        self.tokens = 0
        self.usd = 0.0

    def usd_of(self, attempt: Attempt) -> float:
        """The money `attempt` cost under this run's price table."""
        return self.prices.usd(
            attempt.model,
            attempt.prompt_tokens,
            attempt.completion_tokens,
            attempt.cached_prompt_tokens,
        )

    def add(self, attempts: Iterable[Attempt]) -> None:
        """Count `attempts` as spent."""
        for a in attempts:
            self.tokens += a.tokens
            self.usd += self.usd_of(a)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.started

    def exhausted(self) -> str | None:
        """The name of the first run limit reached (`tokens_per_run`, ...), or None."""
        b = self.budget
        if b.tokens_per_run is not None and self.tokens >= b.tokens_per_run:
            return "tokens_per_run"
        if b.usd_per_run is not None and self.usd >= b.usd_per_run:
            return "usd_per_run"
        if b.seconds_per_run is not None and self.elapsed() >= b.seconds_per_run:
            return "seconds_per_run"
        return None

    def seconds_left(self) -> float | None:
        """Seconds left in the run's time budget (None when unlimited)."""
        if self.budget.seconds_per_run is None:
            return None
        return self.budget.seconds_per_run - self.elapsed()


class DecisionSpend:
    """One decision's spending: its own limits first, then the run's."""

    def __init__(self, run: RunSpend) -> None:
        self.run = run
        self.started = run.clock()
        self.tokens = 0
        self.usd = 0.0

    def add(self, attempt: Attempt) -> None:
        """Count one completed attempt for the decision and for the run."""
        self.tokens += attempt.tokens
        self.usd += self.run.usd_of(attempt)
        self.run.add((attempt,))

    def seconds_left(self) -> float | None:
        """Seconds left before the decision's or the run's time limit (None when unlimited)."""
        left = [s for s in (self._own_seconds_left(), self.run.seconds_left()) if s is not None]
        return min(left) if left else None

    def _own_seconds_left(self) -> float | None:
        limit = self.run.budget.seconds_per_decision
        return None if limit is None else limit - (self.run.clock() - self.started)

    def exhausted(self) -> str | None:
        """The name of the first limit reached, the decision's before the run's, or None."""
        b = self.run.budget
        if b.tokens_per_decision is not None and self.tokens >= b.tokens_per_decision:
            return "tokens_per_decision"
        if b.usd_per_decision is not None and self.usd >= b.usd_per_decision:
            return "usd_per_decision"
        own = self._own_seconds_left()
        if own is not None and own <= 0:
            return "seconds_per_decision"
        return self.run.exhausted()


def affordable(spent: DecisionSpend, answers: list[Attempt], in_flight: int) -> int:
    """How many more samples the decision's token and money limits allow, at the mean cost of
    `answers` so far (a large number when there is no such limit or no answer yet): a batch
    is not drawn past the budget."""
    budget = spent.run.budget
    if not answers:
        return 1 << 30
    room = []
    if budget.tokens_per_decision is not None:
        mean = sum(a.tokens for a in answers) / len(answers)
        room.append((budget.tokens_per_decision - spent.tokens) / max(mean, 1e-9))
    if budget.usd_per_decision is not None:
        mean_usd = sum(spent.run.usd_of(a) for a in answers) / len(answers)
        if mean_usd > 0:
            room.append((budget.usd_per_decision - spent.usd) / mean_usd)
    if not room:
        return 1 << 30
    # at least one sample while nothing is in flight (the limit is not reached yet)
    return max(0 if in_flight else 1, math.ceil(min(room) - in_flight))
