"""A labelled question: what the simulated backend answers, the bench asks and scoring checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled question: the prompt, options (for multiple choice) and accepted answers."""

    id: str
    prompt: str
    answer_type: Literal["text", "number", "choice"]
    choices: tuple[str, ...]
    targets: tuple[str, ...]
