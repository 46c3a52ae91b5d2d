"""A labelled question: what the simulated backend answers, the bench asks and scoring checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard

AnswerType = Literal["text", "number", "choice"]
ANSWER_TYPES: tuple[AnswerType, ...] = ("text", "number", "choice")


def is_answer_type(value: object) -> TypeGuard[AnswerType]:
    """Whether `value` names one of the answer types an item can have."""
    return value in ANSWER_TYPES


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled question: the prompt, options (for multiple choice) and accepted answers."""

    id: str
    prompt: str
    answer_type: AnswerType
    choices: tuple[str, ...]
    targets: tuple[str, ...]
