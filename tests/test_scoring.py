"""Scoring modes for `expected`: one normaliser with the vote, and looser matches on request."""

from __future__ import annotations

import pytest

from accord.crews.scoring import MatchSpec, is_correct
from accord.crews.spec import TaskSpec


def test_exact_uses_the_votes_normaliser_so_four_is_4() -> None:
    assert is_correct("four", ["4"], "number") is True
    assert is_correct("4.0", ["4"], "number") is True
    assert is_correct("Tokyo.", ["tokyo"], "text") is True
    assert is_correct("The capital of Japan is Tokyo.", ["Tokyo"], "text") is False
    assert is_correct("", ["", "a"]) is False
    assert is_correct("anything", []) is None


def test_contains_matches_whole_words() -> None:
    spec = MatchSpec(mode="contains")
    assert is_correct("The capital of Japan is Tokyo.", ["Tokyo"], match=spec) is True
    assert is_correct("Kyoto, not Tokyo-ish", ["Tokyo"], match=spec) is True
    assert is_correct("Tokyoite", ["Tokyo"], match=spec) is False


def test_regex_searches_the_answer() -> None:
    spec = MatchSpec(mode="regex")
    assert is_correct("order #A-1234 refunded", [r"A-\d{4}"], match=spec) is True
    assert is_correct("order refunded", [r"A-\d{4}"], match=spec) is False


def test_numeric_reads_the_final_number_within_the_tolerance() -> None:
    spec = MatchSpec(mode="numeric", tolerance=0.01)
    assert is_correct("3.14159", ["3.14"], match=spec) is True
    assert is_correct("So the answer is 3.15.", ["3.14"], match=spec) is True
    assert is_correct("3.2", ["3.14"], match=spec) is False
    assert is_correct("no number", ["3"], match=spec) is False


def test_semantic_compares_meaning() -> None:
    from accord.consensus.grouping import default_embedder

    if default_embedder() != "minilm":
        pytest.skip("the minilm model wheel is not installed")
    spec = MatchSpec(mode="semantic", threshold=0.6)
    assert is_correct("Root cause: payments API timeouts", ["The payments API timed out"],
                      match=spec) is True  # fmt: skip
    assert is_correct("The disk was full", ["The payments API timed out"], match=spec) is False


def test_a_task_file_writes_numbers_unquoted_and_names_a_mode() -> None:
    task = TaskSpec(id="t", question="q", expected=[42, 0.5, "x"], match="contains")
    assert task.expected == ["42", "0.5", "x"]
    assert task.match == MatchSpec(mode="contains")
    with pytest.raises(ValueError):
        TaskSpec(id="t", question="q", expected=True)
