"""Answer normalisation before voting."""

from __future__ import annotations

import asyncio

import pytest

from accord.consensus.coordinator import Coordinator
from accord.consensus.normalise import NormalisingPool, normalise_answer, number_value
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Task
from accord.testing import scripted_pool

NUMBER = Task("n", "What is 2 plus 2?", "number")
CHOICE = Task("c", "Which?", "choice", ("plausible", "implausible"))
TEXT = Task("t", "Name it.", "text")


@pytest.mark.parametrize("raw", ["4", "4.0", " four ", "Four.", "+4", "4.000"])
def test_numbers_written_differently_are_one_answer(raw: str) -> None:
    assert normalise_answer(raw, NUMBER) == "4"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("twenty-one", 21), ("minus three", -3), ("1,000", 1000), ("0.5", 0.5), ("seventy", 70)],
)
def test_number_words_and_separators(raw: str, value: float) -> None:
    assert number_value(raw) == value


def test_non_numbers_are_not_numbers() -> None:
    assert number_value("four score") is None
    assert number_value("") is None
    assert normalise_answer("4 apples", NUMBER) == "4 apples"


@pytest.mark.parametrize("raw", ["implausible", "IMPLAUSIBLE", " Implausible. ", "B", "(b)", "b)"])
def test_choice_letters_and_text_map_to_the_option(raw: str) -> None:
    assert normalise_answer(raw, CHOICE) == "implausible"


def test_text_is_case_and_space_folded_and_json_key_order_ignored() -> None:
    assert normalise_answer("  Paris   France. ", TEXT) == "paris france"
    assert normalise_answer('{"b": 1, "a": 2}', TEXT) == normalise_answer('{"a":2,"b":1}', TEXT)


def test_a_vote_over_spellings_of_one_number_is_unanimous() -> None:
    pool = NormalisingPool(scripted_pool({"solver": {"plus": ["4", "four", "4.0"]}}))
    policy = PolicySpec(kind="vote", k=3, stopping="fixed")
    decision = asyncio.run(Coordinator(pool).decide(NUMBER, policy))
    assert decision.answer == "4"
    assert decision.confidence == 1.0
    assert {a.raw for a in decision.attempts} == {"4", "four", "4.0"}
    assert [a.answer for a in decision.attempts] == ["4", "4", "4"]  # three votes, not two


def test_a_batched_vote_is_batched_through_the_normalising_pool() -> None:
    inner = scripted_pool({"solver": {"plus": ["4", "four", "4.0"]}})
    calls: list[int] = []
    batched = inner.attempts

    async def counted(*args: object, **kwargs: object) -> object:
        calls.append(len(kwargs["seeds"]))  # type: ignore[arg-type]
        return await batched(*args, **kwargs)  # type: ignore[arg-type]

    inner.attempts = counted  # type: ignore[method-assign]
    policy = PolicySpec(kind="vote", k=3, stopping="fixed", batch=3)
    decision = asyncio.run(Coordinator(NormalisingPool(inner)).decide(NUMBER, policy))
    assert calls and max(calls) > 1  # seeds went to the inner pool in one call
    assert decision.answer == "4" and decision.confidence == 1.0
    assert {a.answer for a in decision.attempts} == {"4"}


def test_the_coordinator_counts_spellings_of_one_answer_together() -> None:
    """No NormalisingPool: a crew's own vote normalises too. "Paris" and "paris" are two
    votes for one answer, which beats "Lyon"; the answer keeps a spelling the agents used."""
    pool = scripted_pool({"solver": {"Name it": ["Lyon", "paris", "Paris"]}})
    policy = PolicySpec(kind="vote", k=3, stopping="fixed")
    decision = asyncio.run(Coordinator(pool).decide(TEXT, policy))
    assert [a.answer for a in decision.attempts] == ["Lyon", "paris", "Paris"]
    assert decision.answer == "Paris"  # of the tied spellings, the first in sort order
    assert decision.confidence == pytest.approx(2 / 3)
    assert dict(decision.votes) == {"Paris": 2.0, "Lyon": 1.0}
