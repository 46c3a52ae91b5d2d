"""Confidence estimators: each maps an attempt to a number in [0, 1]."""

from __future__ import annotations

import math
from typing import Protocol

from accord.consensus.records import Attempt, Task
from accord.registry import Registry


class ConfidenceEstimator(Protocol):
    """Estimates how likely an attempt's answer is right."""

    name: str

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """A confidence in [0, 1]."""
        ...


estimators: Registry[ConfidenceEstimator] = Registry("confidence estimator")


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


@estimators.register("option_prob")
class OptionProb:
    """The chosen option's probability, normalised over the options."""

    name = "option_prob"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """The normalised option probability (0 when not scored)."""
        return _clamp(attempt.option_prob or 0.0)


@estimators.register("token_mean")
class TokenMean:
    """exp(mean token log-prob) of the generated answer: a per-token probability."""

    name = "token_mean"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """exp of the mean token log-prob (0 when unknown)."""
        if attempt.mean_logprob is None:
            return 0.0
        return _clamp(math.exp(attempt.mean_logprob))


@estimators.register("token_min")
class TokenMin:
    """exp(min token log-prob): the least sure token decides."""

    name = "token_min"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """exp of the smallest token log-prob (0 when unknown)."""
        if attempt.min_logprob is None:
            return 0.0
        return _clamp(math.exp(attempt.min_logprob))


@estimators.register("auto")
class Auto:
    """Option probability for multiple choice, mean token probability otherwise."""

    name = "auto"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """Pick the estimator that fits the task."""
        if attempt.option_prob is not None:
            return OptionProb().estimate(task, attempt)
        return TokenMean().estimate(task, attempt)
