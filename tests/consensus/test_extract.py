"""Final answers read out of chain-of-thought text (accord.consensus.extract)."""

from __future__ import annotations

import pytest

from accord.consensus.extract import final_answer, read_answer, stated_phrases

LTM = """Q1. How many sprints does James run each time?
James runs 3 sprints each time.
Final Answer: How many total meters does James run a week?
James runs 3*3*60 = 540 meters each week. The answer is 540."""


@pytest.mark.parametrize(
    ("text", "kind", "answer"),
    [
        ("So in total he runs 3 * 3 * 60 = 540 meters a week. The answer is 540.", "number", "540"),
        (LTM, "number", "540"),  # the restated question is not the answer
        ("The answer is $1,200.50.", "number", "1200.50"),
        ("The answer is 6.375.", "number", "6.375"),
        ("The answer is -40 degrees.", "number", "-40"),
        ("The answer is 19/3.", "number", "19/3"),
        ("The answer is 24 - 9 = 15.", "number", "15"),  # the result of the worked sum
        ("Answer: 7\n", "number", "7"),
        ("the final answer is \\boxed{42}", "number", "42"),
        ("First 2 + 3 = 5. Then 5 * 4 = 20 apples in all", "number", "20"),  # no statement
        ("He is 180 - 135 = 45 miles from home after those 4 hours", "number", "45"),
        ("So the answer is 03/30/2021.", "date", "03/30/2021"),
        ("So the answer is 8/3/1997.", "date", "08/03/1997"),
        ("The answer is Jun 3, 2021.", "date", "06/03/2021"),
        ("Yesterday was 04/30/2021. A month ago is 03/31/2021", "date", "03/31/2021"),
        ("Final answer: Is the sentence plausible?\nThe answer is no.", "yesno", "no"),
        ("Jorge Soler is a baseball player. So the answer is yes.", "yesno", "yes"),
        ("The sentence is implausible.", "yesno", "no"),
        ('The answer is "Tokyo".', "text", "Tokyo"),
        (
            "Plan: 1. find(coke), 2. pick(coke), 3. done().",
            "text",
            "1. find(coke), 2. pick(coke), 3. done()",
        ),
    ],
)
def test_final_answer(text: str, kind: str, answer: str) -> None:
    assert final_answer(text, kind) == answer  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "number"),
        (None, "number"),
        ("I cannot tell from the question.", "number"),
        ("The answer is unknown.", "date"),
        ("def solution():\n    return x", "yesno"),
        ("A long explanation without a statement.", "text"),
    ],
)
def test_no_answer_is_none_not_a_guess(text: str | None, kind: str) -> None:
    assert final_answer(text, kind) is None  # type: ignore[arg-type]


def test_the_last_statement_wins_and_a_later_one_without_a_value_is_skipped() -> None:
    text = "The answer is 12. Wait, recount: 14. The answer is 14. The answer is in the box."
    assert stated_phrases(text) == ["12", "14", "in the box"]
    assert final_answer(text, "number") == "14"
    assert final_answer(text, "text") == "in the box"


def test_read_answer_reads_a_released_answer_phrase() -> None:
    assert read_answer("$18", "number") == "18"
    assert read_answer("180 minutes", "number") == "180"
    assert read_answer("8/3/1997", "date") == "08/03/1997"
    assert read_answer("some", "number") is None


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="known: number, date, yesno, text"):
        final_answer("The answer is 3.", "integer")  # type: ignore[arg-type]
