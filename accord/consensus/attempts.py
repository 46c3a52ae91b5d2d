"""Attempts the coordinator makes up itself: a call that raised, a task asked again, seeds."""

from __future__ import annotations

import zlib
from dataclasses import replace

from accord.consensus.outcomes import FAILED
from accord.consensus.records import Attempt, AttemptKind, Task, Verdict


def failed_attempt(
    task: Task, role: str, kind: AttemptKind, temperature: float, seed: int, exc: Exception
) -> Attempt:
    """The record of an attempt that raised: no answer, no tokens, the reason as verdict."""
    cause = getattr(exc, "cause", None)  # a Ray task error wraps the actor's exception
    exc = cause if isinstance(cause, Exception) else exc
    error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[: 500 - len(FAILED)]
    return Attempt(
        task_id=task.id,
        role=role,
        model="-",
        answer="",
        raw="",
        prompt_tokens=0,
        completion_tokens=0,
        model_ms=0.0,
        seed=seed,
        temperature=temperature,
        kind=kind,
        verdict=Verdict(False, FAILED + error, error=error),
    )


def feedback_task(task: Task, rejected: Attempt) -> Task:
    """`task` asked again, with the rejected answer and the validator's reason in the prompt."""
    answer = rejected.answer or " ".join(rejected.raw.split())[:200] or "(empty)"
    prompt = (
        f"{task.prompt.rstrip()}\n\nYour previous answer was: {answer}\n"
        f"It was rejected: {rejected.verdict.reason}\nAnswer again, fixing that."
    )
    return replace(task, prompt=prompt)


def task_seed(base: int, task_id: str) -> int:
    """A stable per-task seed: the same task gets the same seeds in every run."""
    return (base * 1_000_003 + zlib.crc32(task_id.encode())) % (2**31)
