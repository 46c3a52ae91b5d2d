"""Resuming a run: decisions already in the ledger are reused, and signals stop a run cleanly."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from accord.consensus.records import Attempt, Decision, Verdict
from accord.errors import ConfigError
from accord.ledger.writer import Ledger

_DECISION = "task_id, answer, confidence, path, stop_reason, status, policy, wall_ms"
_ATTEMPT = (
    "task_id, role, model, answer, raw, prompt_tokens, completion_tokens, model_ms, "
    "seed, temperature, kind, option_prob, mean_logprob, confidence, verdict_ok, "
    "verdict_reason, cached_prompt_tokens, critic_score"
)


def stored_decisions(ledger: Ledger, run_id: str, crew: str) -> dict[str, Decision]:
    """The decisions of `run_id` already in `ledger`, with their attempts, by task id."""
    found = ledger.query("SELECT crew FROM runs WHERE run_id = ?", [run_id])
    if not found:
        raise ConfigError(
            f"no run {run_id!r} in the ledger",
            path=ledger.path,
            hint="`accord ledger` lists the runs; pass the same --db",
        )
    if found[0][0] != crew:
        raise ConfigError(
            f"run {run_id!r} is a run of crew {found[0][0]!r}, not {crew!r}",
            path=ledger.path,
            hint="resume a run with the crew file it started",
        )
    attempts: dict[str, list[Attempt]] = {}
    for row in ledger.query(
        f"SELECT {_ATTEMPT} FROM attempts WHERE run_id = ? ORDER BY task_id, attempt_no", [run_id]
    ):
        attempts.setdefault(row[0], []).append(
            Attempt(
                task_id=row[0],
                role=row[1],
                model=row[2],
                answer=row[3] or "",
                raw=row[4] or "",
                prompt_tokens=row[5],
                completion_tokens=row[6],
                model_ms=row[7],
                seed=row[8],
                temperature=row[9],
                kind=row[10],
                option_prob=row[11],
                mean_logprob=row[12],
                confidence=row[13] or 0.0,
                verdict=Verdict(bool(row[14]), row[15] or ""),
                cached_prompt_tokens=row[16] or 0,
                critic_score=row[17],
            )
        )
    out = {}
    for row in ledger.query(f"SELECT {_DECISION} FROM decisions WHERE run_id = ?", [run_id]):
        out[row[0]] = Decision(
            task_id=row[0],
            answer=row[1] or "",
            confidence=row[2] or 0.0,
            path=row[3],
            stop_reason=row[4],
            status=row[5],
            policy=row[6],
            attempts=tuple(attempts.get(row[0], ())),
            wall_ms=row[7],
        )
    return out


@contextmanager
def cancel_on_signals(signals: tuple[int, ...] = (signal.SIGTERM,)) -> Iterator[None]:
    """While inside, `signals` cancel the current task (as Ctrl-C does under asyncio.run).

    The run then stops at its next await, flushes the ledger and is marked interrupted,
    instead of the process dying with decisions still buffered.
    """
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {number: signal.getsignal(number) for number in signals}
    for number in signals:
        loop.add_signal_handler(number, task.cancel)
    try:
        yield
    finally:
        for number, handler in previous.items():
            loop.remove_signal_handler(number)
            signal.signal(number, handler)  # the embedding program's own handler, if any
