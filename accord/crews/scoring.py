"""Scoring answers against labels. The only code that looks at expected answers.

`match:` on a task says how an answer meets its `expected` values:

- `exact` (the default): equal after the vote's own normaliser (`4`, `4.0`, `four` are one
  number; text ignores case, spacing and a final full stop) — so the score and the vote never
  disagree on what counts as the same answer;
- `contains`: an expected value appears in the answer as whole words ("The capital of Japan is
  Tokyo." contains `Tokyo`);
- `regex`: an expected value is a regular expression found in the answer (`re.search`; add
  `(?i)` to ignore case);
- `numeric`: the answer's number (its final answer, else its last number) is within
  `tolerance` of an expected number;
- `semantic`: the answer's embedding is at least `threshold` cosine-similar to an expected one;
- `judge`: a model (`judge:` a backend name, default the embedded `llama`) says yes to "is this
  answer correct, given the reference?" with P(yes) >= `threshold`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from accord.consensus.extract import final_answer
from accord.consensus.normalise import normalise_answer, number_value
from accord.consensus.records import Task

MatchMode = Literal["exact", "contains", "regex", "numeric", "semantic", "judge"]


class MatchSpec(BaseModel):
    """How an answer is scored against `expected` (`match:` on a task)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: MatchMode = "exact"
    tolerance: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    embedder: str | None = None
    judge: str = "llama"


EXACT = MatchSpec()


def normalise(text: str, answer_type: str = "text") -> str:
    """Canonical form for comparison: the vote's normaliser (numbers as numbers, text folded)."""
    return normalise_answer(text, Task(id="-", prompt="", answer_type=answer_type))  # type: ignore[arg-type]


def _number(text: str) -> float | None:
    value = number_value(text)
    if value is None:
        stated = final_answer(text, "number")
        value = number_value(stated) if stated is not None else None
    return value


def _contains(answer: str, expected: str) -> bool:
    words = " ".join(expected.lower().split()).strip(" .")
    if not words:
        return False
    return (
        re.search(rf"(?<!\w){re.escape(words)}(?!\w)", " ".join(answer.lower().split())) is not None
    )


@lru_cache(maxsize=4)
def _embedder(name: str | None):
    from accord.consensus.grouping import default_embedder
    from accord.models.embed import get_embedder

    return get_embedder(name or default_embedder())


def _similar(answer: str, expected: Sequence[str], spec: MatchSpec) -> bool:
    vectors = _embedder(spec.embedder).embed([answer, *expected])
    norms = [math.sqrt(float(v @ v)) or 1.0 for v in vectors]
    return any(
        float(vectors[0] @ vectors[i]) / (norms[0] * norms[i]) >= spec.threshold
        for i in range(1, len(vectors))
    )


def _judged(answer: str, expected: Sequence[str], spec: MatchSpec) -> bool:
    reference = Task(id="-", prompt=f"(the reference answer is: {' / '.join(expected)})")
    return _judge(spec.judge, spec.threshold).judge(reference, answer)[0].ok


@lru_cache(maxsize=4)
def _judge(backend: str, threshold: float):
    from accord.consensus.critic import Critic

    return Critic(backend=backend, threshold=threshold)


def is_correct(
    answer: str,
    expected: Sequence[str],
    answer_type: str = "text",
    match: MatchSpec | None = None,
) -> bool | None:
    """Whether `answer` matches any accepted answer (None when there is no label)."""
    if not expected:
        return None
    spec = match or EXACT
    if not answer.strip():  # no answer (a failed call) is never right, even against ''
        return False
    if spec.mode == "contains":
        return any(_contains(answer, e) for e in expected)
    if spec.mode == "regex":
        return any(re.search(e, answer) is not None for e in expected)
    if spec.mode == "numeric":
        got = _number(answer)
        wanted = [number_value(e) for e in expected]
        return got is not None and any(
            w is not None and abs(got - w) <= spec.tolerance + 1e-12 for w in wanted
        )
    if spec.mode == "semantic":
        return _similar(answer, expected, spec)
    if spec.mode == "judge":
        return _judged(answer, expected, spec)
    written = normalise(answer, answer_type)
    return bool(written) and any(written == normalise(e, answer_type) for e in expected)
