"""Resuming a run: decisions already in the ledger are reused, and signals stop a run cleanly."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from accord.consensus.records import Attempt, Decision
from accord.errors import ConfigError
from accord.ledger.rows import attempt_from_row, decision_from_row, named_rows
from accord.ledger.writer import Ledger


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
    with ledger.connect() as db:
        for row in named_rows(
            db.execute(
                "SELECT * FROM attempts WHERE run_id = ? ORDER BY task_id, attempt_no", [run_id]
            )
        ):
            attempts.setdefault(row["task_id"], []).append(attempt_from_row(row))
        decisions = named_rows(db.execute("SELECT * FROM decisions WHERE run_id = ?", [run_id]))
    return {
        row["task_id"]: decision_from_row(row, attempts.get(row["task_id"], ()))
        for row in decisions
    }


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
