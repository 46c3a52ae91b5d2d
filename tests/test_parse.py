"""Reading answers out of raw model text."""

from __future__ import annotations

import pytest

from accord.roles.parse import parse_choice, parse_number


@pytest.mark.parametrize(
    ("raw", "picked"),
    [
        ("banana", ""),  # option "a" is not a substring match any more
        ("I pick a.", "a"),
        ("b", "b"),
        ("Either a or b", ""),
        ("The answer is (B) b", "b"),
    ],
)
def test_parse_choice_reads_whole_words(raw: str, picked: str) -> None:
    assert parse_choice(raw, ("a", "b", "c")) == picked


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("four", "4"),
        ("Four.", "4"),
        ("The answer is twenty-one.", "21"),
        ("It is minus three", "-3"),
        ("answer: seven", "7"),
        ("-five", "-5"),
        ("The answer is 7.", "7"),  # digits win over words
        ("15, since the remainder is zero", "15"),
        ("12 apples; the number of baskets is three", "12"),
        ("It is twenty-zero", ""),
        ("no one knows", ""),  # a word for a number is not read anywhere in a sentence
        ("I think one of them", ""),
        ("The answer is one of many", ""),
        (".5", "0.5"),  # a leading point and an exponent are part of the number
        ("It is .25.", "0.25"),
        ("1e3", "1000"),
        ("x = 2.5e-2", "0.025"),
        ("The answer is 1,000.", "1000"),
        ("3 + 4 = 7", "7"),
    ],
)
def test_parse_number_reads_a_number_stated_in_words(raw: str, number: str) -> None:
    assert parse_number(raw) == number
