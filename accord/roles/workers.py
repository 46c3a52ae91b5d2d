"""Daemon worker threads for in-process agents, and a wait on them that a signal breaks.

A model call can block for minutes (a slow server, a long generation). Run on the event
loop's own thread it holds the loop, so the loop never sees SIGTERM or Ctrl-C until the call
ends. `LocalPool` runs every call on a worker (one per agent: a model context is not
thread-safe), a daemon thread, so a call still running when the program ends does not hold
up its exit (a `ThreadPoolExecutor`'s threads are joined at exit).

`wait_interruptibly` waits for a call the way an inline call would (the loop does nothing
else meanwhile, so runs stay deterministic) until a SIGINT or SIGTERM arrives; the caller
then awaits the call on the loop instead, and the loop handles the signal (a run's
`cancel_on_signals`, asyncio.run's Ctrl-C) as it would at any await.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

__all__ = ["Worker", "wait_interruptibly"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# how often a wait looks for a signal Python handled on another thread (the kernel gives a
# process's signals to its main thread when it can, which then wakes at once)
POLL_S = 0.25


class Worker:
    """One daemon thread running calls in the order they were submitted, started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        """Queue `call`; its future holds what it returns or raises."""
        future: Future[Any] = Future()
        self._queue.put((future, call))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        return future

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # the caller's to handle, on its own thread
                future.set_exception(exc)
            else:
                future.set_result(result)

    def close(self) -> None:
        """Let the thread end after the calls already queued (it does not wait for them)."""
        self._queue.put(None)


class _Signalled(BaseException):
    """Raised inside a wait by a signal's handler, to stop waiting (never leaves this module)."""


def wait_interruptibly(future: Future[Any]) -> bool:
    """Wait on this thread until `future` is done (True), or a SIGINT or SIGTERM arrives
    first (False: the signal's own handler has run; the call goes on).

    Off the main thread (where Python runs no signal handlers) this just waits.
    """
    try:
        with _breaking_signals() as armed:
            while True:
                try:
                    future.exception(timeout=POLL_S if armed else None)
                except TimeoutError:  # the future's own TimeoutError is returned, not raised
                    continue
                break
    except _Signalled:
        return False
    return True


@contextmanager
def _breaking_signals() -> Iterator[bool]:
    """While inside, SIGINT and SIGTERM run their own handler, then raise _Signalled (yields
    whether they do: only on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    wrapped = {n: h for n, h in previous.items() if h is not None and h != signal.SIG_IGN}

    armed = [True]  # a signal in the way out only runs its handler

    def handler(number: int, frame: Any) -> None:
        before = previous[signal.Signals(number)]
        if before == signal.SIG_DFL:  # what the signal would have done: end the process
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)
        elif callable(before):
            before(number, frame)  # asyncio's: cancel the run (SIGINT), wake the loop (SIGTERM)
        if armed[0]:
            armed[0] = False
            raise _Signalled

    for number in wrapped:
        signal.signal(number, handler)
    try:
        yield True
    finally:
        armed[0] = False
        for number, before in wrapped.items():
            signal.signal(number, before)
