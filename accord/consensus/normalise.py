"""Answer normalisation before voting: equal answers written differently count as one vote.

`4`, `4.0`, ` four ` and `Four.` are one number; `B`, `(b)` and the text of option B are one
choice; JSON objects compare with sorted keys; other text is case- and space-folded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace

from accord.consensus.pool import AgentPool, Kind, pool_attempts
from accord.consensus.records import Attempt, Task

_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
)
_WORDS = {w: i for i, w in enumerate(_NUMBER_WORDS.split(" "))}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_NUMBER = re.compile(r"^[-+]?(\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?$", re.I)
_LETTER = re.compile(r"^\(?([a-z])[).:]?$", re.I)


def _fold(text: str) -> str:
    return " ".join(text.strip().strip(".!").split()).lower()


def number_value(text: str) -> float | None:
    """The number `text` spells (`4`, `4.0`, `1,000`, `four`, `twenty-one`), or None."""
    folded = _fold(text)
    if _NUMBER.match(folded):
        return float(folded.replace(",", ""))
    if folded.startswith(("minus ", "negative ")):
        sign, words = -1.0, folded.split(" ", 1)[1]
    elif folded.startswith("-"):
        sign, words = -1.0, folded[1:]
    else:
        sign, words = 1.0, folded
    parts = words.replace("-", " ").split()
    if not parts:
        return None
    if len(parts) == 1 and parts[0] in _WORDS:
        return sign * _WORDS[parts[0]]
    if len(parts) == 1 and parts[0] in _TENS:
        return sign * _TENS[parts[0]]
    if len(parts) == 2 and parts[0] in _TENS and 0 < _WORDS.get(parts[1], 0) < 10:
        return sign * (_TENS[parts[0]] + _WORDS[parts[1]])
    return None


def canonical_number(value: float) -> str:
    """`4.0` -> `4`; other floats keep their shortest repr."""
    return str(int(value)) if value.is_integer() else repr(value)


def normalise_choice(answer: str, choices: Sequence[str]) -> str:
    """The option `answer` names: its text (any case/space), or its letter (`B`, `(b)`)."""
    folded = _fold(answer)
    for choice in choices:
        if _fold(choice) == folded:
            return choice
    letter = _LETTER.match(folded)
    if letter and len(choices) > 1:
        index = ord(letter.group(1).lower()) - ord("a")
        if 0 <= index < len(choices):
            return choices[index]
    return answer.strip()


def _json_canonical(text: str) -> str | None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.dumps(json.loads(stripped), sort_keys=True, separators=(",", ":"))
    except json.JSONDecodeError:
        return None


def normalise_answer(answer: str, task: Task) -> str:
    """The canonical form of `answer` for `task`, used as the vote key."""
    if task.choices:
        return normalise_choice(answer, task.choices)
    as_json = _json_canonical(answer)
    if as_json is not None:
        return as_json
    value = number_value(answer)
    if value is not None:
        return canonical_number(value)
    return _fold(answer)


def normalised(attempt: Attempt, task: Task) -> Attempt:
    """`attempt` with its answer in canonical form (the raw text is kept in `raw`)."""
    return replace(attempt, answer=normalise_answer(attempt.answer, task))


class NormalisingPool:
    """Wraps an agent pool so every attempt's answer arrives normalised, ready to vote on."""

    def __init__(self, inner: AgentPool) -> None:
        self.inner = inner

    def roles(self) -> list[str]:
        """The wrapped pool's roles."""
        return self.inner.roles()

    def capacity(self, role: str) -> int:
        """The wrapped pool's capacity for `role`."""
        return self.inner.capacity(role)

    async def attempt(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seed: int
    ) -> Attempt:
        """One attempt from the wrapped pool, its answer normalised."""
        raw = await self.inner.attempt(role, task, kind=kind, temperature=temperature, seed=seed)
        return normalised(raw, task)

    async def attempts(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seeds: Sequence[int]
    ) -> list[Attempt]:
        """One attempt per seed, batched where the wrapped pool can; answers normalised."""
        raws = await pool_attempts(
            self.inner, role, task, kind=kind, temperature=temperature, seeds=seeds
        )
        return [normalised(raw, task) for raw in raws]

    def close(self) -> None:
        """Close the wrapped pool."""
        self.inner.close()
