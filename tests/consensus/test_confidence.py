"""Confidence estimators: verbalised, agreement, combined, and the policy's confidence string."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from accord.consensus.confidence import (
    Agreement,
    Combined,
    agreement,
    build_estimator,
    estimators,
    stated_confidence,
)
from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Attempt, Task
from accord.consensus.voting import Tally
from accord.errors import ConfigError
from accord.testing import scripted_pool

TASK = Task(id="t", prompt="q")


def attempt(
    raw: str = "", option_prob: float | None = None, mean_logprob: float | None = None
) -> Attempt:
    return Attempt(
        task_id="t",
        role="r",
        model="m",
        answer="a",
        raw=raw,
        prompt_tokens=1,
        completion_tokens=1,
        model_ms=0.0,
        seed=0,
        temperature=0.0,
        option_prob=option_prob,
        mean_logprob=mean_logprob,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris. Confidence: 80%", 0.8),
        ("confidence = 0.35", 0.35),
        ("I am confident 90 percent", 0.9),
        ("Confidence level: 7.5%", 0.075),
        ("confidence: 60%\n...revised. Confidence: 95%", 0.95),
        ("confidence: 250%", 1.0),
        ("no statement here", None),
    ],
)
def test_stated_confidence(text: str, expected: float | None) -> None:
    found = stated_confidence(text)
    assert found == (pytest.approx(expected) if expected is not None else None)


def test_verbalised_estimator_reads_raw() -> None:
    verbalised = estimators.create("verbalised")
    assert verbalised.estimate(TASK, attempt("Paris (confidence: 70%)")) == pytest.approx(0.7)
    assert verbalised.estimate(TASK, attempt("Paris")) == 0.0


def test_agreement_is_the_leaders_share() -> None:
    assert agreement(Tally.of([("a", 1.0), ("b", 1.0), ("a", 1.0), ("a", 0.5)])) == 0.75
    assert agreement(Tally(())) == 0.0
    assert Agreement().estimate(TASK, attempt()) == 0.0


def test_combined_min_mean_max() -> None:
    one = attempt("confidence: 40%", option_prob=0.9)
    assert build_estimator("min:option_prob,verbalised").estimate(TASK, one) == pytest.approx(0.4)
    assert build_estimator("mean:option_prob,verbalised").estimate(TASK, one) == pytest.approx(0.65)
    assert build_estimator("max:option_prob,verbalised").estimate(TASK, one) == pytest.approx(0.9)
    assert Combined(["verbalised"]).name == "mean:verbalised"
    assert build_estimator("auto").name == "auto"


def test_combined_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown way"):
        build_estimator("median:option_prob")
    with pytest.raises(ConfigError, match="unknown confidence estimator 'nope'"):
        build_estimator("min:option_prob,nope")
    with pytest.raises(ConfigError, match="at least one"):
        build_estimator("min:")


def test_policy_accepts_combined_and_rejects_unknown() -> None:
    assert PolicySpec(confidence="min:option_prob,verbalised").confidence.startswith("min:")
    with pytest.raises(ValidationError, match="unknown confidence estimator"):
        PolicySpec(confidence="min:option_prob,nope")
    with pytest.raises(ValidationError, match="unknown way"):
        PolicySpec(confidence="avg:option_prob")


def test_coordinator_uses_the_policy_confidence_and_agreement_for_votes() -> None:
    pool = scripted_pool({"a": {"sure": "x confidence: 90%", "vote": ["x", "y", "x", "x", "z"]}})
    coordinator = Coordinator(pool)
    sure, vote = Task(id="s", prompt="sure?"), Task(id="v", prompt="vote?")
    confident = asyncio.run(
        coordinator.decide(sure, PolicySpec(confidence="verbalised", threshold=0.8))
    )
    assert confident.path == "single" and confident.confidence == pytest.approx(0.9)
    unsure = asyncio.run(
        coordinator.decide(sure, PolicySpec(confidence="verbalised", threshold=0.95))
    )
    assert unsure.path == "escalated"
    voted = asyncio.run(coordinator.decide(vote, PolicySpec(kind="vote", k=5, stopping="fixed")))
    answers = [a.answer for a in voted.attempts if a.verdict.ok]
    expected = max(answers.count(a) for a in answers) / len(answers)
    assert voted.path == "vote" and len(answers) == 5
    assert voted.confidence == pytest.approx(expected) and expected < 1.0
