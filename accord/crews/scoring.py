"""Scoring answers against labels. The only code that looks at expected answers."""

from __future__ import annotations

from collections.abc import Sequence

from accord.roles.parse import parse_number


def normalise(text: str, answer_type: str = "text") -> str:
    """Canonical form for comparison: numbers as numbers, text case- and space-folded."""
    if answer_type == "number":
        return parse_number(text) or text.strip()
    return " ".join(text.strip().lower().rstrip(".").split())


def is_correct(answer: str, expected: Sequence[str], answer_type: str = "text") -> bool | None:
    """Whether `answer` matches any accepted answer (None when there is no label)."""
    if not expected:
        return None
    got = normalise(answer, answer_type)
    if not got:  # no answer (a failed call) is never right, even against an empty label
        return False
    return any(got == normalise(e, answer_type) for e in expected)
