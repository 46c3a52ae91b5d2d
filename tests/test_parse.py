"""Reading answers out of raw model text."""

from __future__ import annotations

import pytest

from accord.roles.parse import parse_choice


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
