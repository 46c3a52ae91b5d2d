"""Decisions and stores for the memory tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.consensus.records import Attempt, Decision, Verdict
from accord.memory import MemoryStore


def attempt(answer: str, *, ok: bool = True, role: str = "solver") -> Attempt:
    """One attempt with `answer` and a verdict."""
    return Attempt(
        task_id="t",
        role=role,
        model="m",
        answer=answer,
        raw=answer,
        prompt_tokens=10,
        completion_tokens=2,
        model_ms=1.0,
        seed=0,
        temperature=0.0,
        verdict=Verdict(ok, "" if ok else "bad"),
    )


def decision(
    answer: str = "8",
    *,
    status: str = "accepted",
    path: str = "single",
    stop_reason: str = "confident",
    attempts: tuple[Attempt, ...] | None = None,
    task_id: str = "t",
) -> Decision:
    """A decision for tests; by default accepted on the single path."""
    return Decision(
        task_id=task_id,
        answer=answer,
        confidence=0.9,
        path=path,  # type: ignore[arg-type]
        stop_reason=stop_reason,
        status=status,
        policy="adaptive@0.6",  # type: ignore[arg-type]
        attempts=attempts if attempts is not None else (attempt(answer),),
        wall_ms=1.0,
    )


@pytest.fixture
def hash_store(tmp_path: Path) -> MemoryStore:
    """A file-backed store with the fast lexical embedder."""
    return MemoryStore(tmp_path / "ledger.duckdb", embedder="hash")
