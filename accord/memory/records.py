"""Memory records and the verified-fact rule.

AccordError
└── RunError
    └── MemoryStoreError   the long-term store could not be read or written
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from accord.consensus.records import Decision
from accord.errors import RunError

MemoryKind = Literal["goal", "result", "status", "fact", "note"]
MEMORY_KINDS: tuple[MemoryKind, ...] = ("goal", "result", "status", "fact", "note")


def now() -> datetime:
    """UTC now, naive (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


class MemoryStoreError(RunError):
    """The long-term memory store failed."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"memory store {path!r}: {message}")


def verifies(decision: Decision | None) -> bool:
    """Whether `decision` may make a fact verified: accepted, and backed by a valid attempt.

    An accepted decision is either validated (single path: validators passed) or reached by
    consensus (a vote); an unresolved or invalid decision never verifies anything.
    """
    if decision is None or decision.status != "accepted" or decision.stop_reason == "invalid":
        return False
    return any(a.verdict.ok and a.answer == decision.answer for a in decision.attempts)


def verification(decision: Decision) -> Literal["validated", "consensus"]:
    """How an accepted decision was reached: one validated answer, or a vote."""
    return "validated" if decision.path == "single" else "consensus"


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One entry of a run's working memory."""

    id: int
    kind: MemoryKind
    text: str
    seq: int
    verified: bool = False
    task_id: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMemory:
    """One long-term memory, with its similarity to a query when it came from a search."""

    id: int
    crew: str
    kind: str
    text: str
    verified: bool
    created_at: datetime
    role: str | None = None
    source: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Triple:
    """A knowledge-graph edge and the decision it came from."""

    id: int
    subject: str
    relation: str
    object: str
    crew: str
    run_id: str | None = None
    task_id: str | None = None
    item_id: int | None = None


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What a `forget` removed."""

    items: int
    embeddings: int
    triples: int
