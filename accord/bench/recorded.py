"""Recorded samples as a task source: answers that real models gave, one item per JSON line.

accord's import format for logged model answers (docs/RECORDED.md), recognised by content:
a JSONL file (optionally gzipped) whose lines are objects with `question`, `gold` and
`samples` (each with a `source`, and an `answer` and/or the completion `text`). A sample whose
`answer` is null has it read from `text` by `accord.consensus.extract`; one that cannot be read
stays unread (None) and is counted, never guessed.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.consensus.extract import AnswerKind, final_answer, read_answer
from accord.consensus.normalise import number_value
from accord.errors import ConfigError

_HINT = (
    'each line is {"task": ..., "id": ..., "question": ..., "gold": ..., "samples": '
    '[{"source": ..., "answer": ..., "text": ...}]} (docs/RECORDED.md)'
)
Scalar = str | int | float
_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")


class RecordedSample(BaseModel):
    """One recorded answer: who gave it (`source`), the answer, the completion text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    answer: Scalar | None = None
    text: str | None = None
    model: str | None = None
    method: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    voted_answer: Scalar | None = None  # Faithful-CoT's releases of sampled sources keep it


class RecordedLine(BaseModel):
    """One recorded item: the question, its accepted answer(s), and the samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(default="recorded", min_length=1)
    id: str | int
    question: str = Field(min_length=1)
    gold: Scalar | list[Scalar]
    samples: list[RecordedSample] = Field(min_length=1)
    kind: Literal["number", "date", "yesno", "text"] | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """A sample as the bench replays it: its source, model, answer read, tokens if logged."""

    source: str
    model: str
    answer: str | None
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True, slots=True)
class RecordedItem:
    """One item of a recorded file, its answer kind settled and its answers read."""

    task: str
    id: str
    question: str
    targets: tuple[str, ...]
    kind: AnswerKind
    samples: tuple[Recorded, ...]

    @property
    def unread(self) -> int:
        """Samples whose answer could not be read."""
        return sum(s.answer is None for s in self.samples)


def _open(path: Path) -> Iterator[str]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8") as lines:
        yield from lines


def is_recorded(path: Path) -> bool:
    """Whether `path` holds recorded samples (its first JSON line has question, gold, samples)."""
    try:
        for line in _open(path):
            if line.strip():
                first = json.loads(line)
                return isinstance(first, dict) and {"question", "gold", "samples"} <= set(first)
    except (OSError, UnicodeDecodeError, EOFError, json.JSONDecodeError, gzip.BadGzipFile):
        return False
    return False


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    return f"{place.lstrip('.') or 'line'}: {first['msg']}"


def _lines(path: Path) -> Iterator[tuple[int, RecordedLine]]:
    try:
        for number, text in enumerate(_open(path), start=1):
            if not text.strip():
                continue
            try:
                yield number, RecordedLine.model_validate(json.loads(text))
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"not JSON: {exc.msg}", path=path, line=number, col=exc.colno, hint=_HINT
                ) from None
            except ValidationError as exc:
                raise ConfigError(_where(exc), path=path, line=number, hint=_HINT) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"cannot read the recorded file: {exc}", path=path) from None


def _golds(line: RecordedLine) -> tuple[str, ...]:
    values = line.gold if isinstance(line.gold, list) else [line.gold]
    return tuple(str(v) for v in values)


def infer_kind(golds: list[str]) -> AnswerKind:
    """What a file's accepted answers are: numbers, dates (MM/DD/YYYY), yes/no, or text."""
    values = [g.strip() for g in golds]
    if values and all(number_value(v) is not None for v in values):
        return "number"
    if values and all(_DATE.fullmatch(v) for v in values):
        return "date"
    if values and all(v.lower() in ("yes", "no") for v in values):
        return "yesno"
    return "text"


def _answer(sample: RecordedSample, kind: AnswerKind) -> str | None:
    """The sample's answer as `kind` reads it: the released one, else read from the text."""
    if sample.answer is None:
        return final_answer(sample.text, kind) if sample.text else None
    released = str(sample.answer).strip()
    if released in ("", "[invalid]"):
        return None
    return read_answer(released, kind) or (released if kind == "text" else None)


def load_recorded(path: str | Path, limit: int | None = None) -> list[RecordedItem]:
    """The items of a recorded-samples file (`limit` of them), answers read.

    Bad lines raise ConfigError naming the file and line. The answer kind is the lines' own
    `kind` when given, else inferred from all the file's `gold` values.
    """
    path = Path(path)
    lines = []
    for _, line in _lines(path):
        lines.append(line)
        if limit is not None and len(lines) >= limit:
            break
    if not lines:
        raise ConfigError("a recorded-samples file with no items", path=path, hint=_HINT)
    inferred = infer_kind([g for line in lines for g in _golds(line)])
    items = []
    for line in lines:
        kind: AnswerKind = line.kind or inferred
        samples = tuple(
            Recorded(
                s.source,
                s.model or s.source,
                _answer(s, kind),
                s.text or "",
                s.prompt_tokens,
                s.completion_tokens,
            )
            for s in line.samples
        )
        items.append(
            RecordedItem(line.task, str(line.id), line.question, _golds(line), kind, samples)
        )
    return items
