"""Confidence estimators: each maps an attempt to a number in [0, 1]."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from accord.consensus.records import Attempt, Task
from accord.consensus.voting import Tally
from accord.errors import ConfigError
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


VERBALISED = re.compile(
    r"confiden(?:ce|t)\s*(?:level|score)?\s*[:=]?\s*(?:is\s+)?(\d+(?:\.\d+)?)\s*(%|percent)?",
    re.IGNORECASE,
)


def stated_confidence(text: str) -> float | None:
    """The last confidence stated in `text` ("confidence: 80%", "Confidence = 0.8"), or None."""
    found = VERBALISED.findall(text)
    if not found:
        return None
    number, percent = found[-1]
    value = float(number)
    return _clamp(value / 100.0 if percent or value > 1.0 else value)


@estimators.register("verbalised")
class Verbalised:
    """The confidence the model states in its raw output (0 when it states none)."""

    name = "verbalised"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """The stated confidence parsed from `attempt.raw`."""
        return stated_confidence(attempt.raw) or 0.0


@estimators.register("critic")
class CriticScore:
    """The P(yes) a critic role gave the answer (0 when no critic judged it).

    Needs a role-bound critic validator on the task (`critic: {role: ...}`); combine it with
    another estimator, e.g. `min:option_prob,critic`.
    """

    name = "critic"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """The critic's score of `attempt`."""
        return _clamp(attempt.critic_score or 0.0)


def agreement(tally: Tally) -> float:
    """Agreement among samples: the leader's share of the votes (0 with no votes)."""
    return tally.share


@estimators.register("agreement")
class Agreement:
    """Agreement among a decision's samples (see `agreement`); the coordinator's vote confidence.

    One attempt alone has no agreement to measure, so `estimate` gives 0: as an adaptive
    policy's confidence it always escalates to the vote.
    """

    name = "agreement"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """0: a single attempt carries no agreement signal."""
        return 0.0


Combine = Literal["mean", "min", "max"]
COMBINE: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": lambda xs: sum(xs) / len(xs),
    "min": min,
    "max": max,
}


@estimators.register("combined")
class Combined:
    """Several estimators combined by mean, min or max."""

    def __init__(self, parts: Sequence[str], how: Combine = "mean") -> None:
        if how not in COMBINE:
            raise ConfigError(
                f"unknown way to combine confidences {how!r}", hint=f"one of: {', '.join(COMBINE)}"
            )
        if not parts:
            raise ConfigError("a combined confidence needs at least one estimator")
        self.parts = [estimators.create(p) for p in parts]
        self.how = how
        self.name = f"{how}:{','.join(parts)}"

    def estimate(self, task: Task, attempt: Attempt) -> float:
        """The parts' estimates, combined."""
        return _clamp(COMBINE[self.how]([p.estimate(task, attempt) for p in self.parts]))


def build_estimator(spec: str) -> ConfidenceEstimator:
    """An estimator from a name (`option_prob`) or a combination (`min:option_prob,verbalised`)."""
    how, sep, rest = spec.partition(":")
    if not sep:
        if spec == "combined":  # registered for its parts, not a confidence of its own
            raise ConfigError(
                "`combined` needs its parts", hint="write e.g. min:option_prob,verbalised"
            )
        return estimators.create(spec)
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    return Combined(parts, how)  # type: ignore[arg-type]
