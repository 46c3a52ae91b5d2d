"""Witnesses of unsafe-local runs: whoever must know that code ran on the host, unisolated.

The unsafe-local sandbox's `run` is `@witnessed`: before the program starts, every observer
installed with `observing` (for a block of code, per context) is told what is about to run;
the callback it returns is told the result (or None when the run raised). A crew run installs
one that writes both to the run's audit trail (`accord.ledger.audit_unsafe`); the sandbox knows
nothing of ledgers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from accord.sandbox.base import Files, SandboxResult


@dataclass(frozen=True, slots=True)
class UnsafeRun:
    """What an unsafe-local run is about to execute."""

    argv: tuple[str, ...]
    python_code: str | None
    files: Files


Finished = Callable[[SandboxResult | None], None]
Observer = Callable[[UnsafeRun], Finished]
_observers: ContextVar[tuple[Observer, ...]] = ContextVar("accord_unsafe_observers", default=())
F = TypeVar("F", bound=Callable[..., SandboxResult])


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Tell `observer` of every unsafe-local run started in this context until the block ends."""
    token = _observers.set((*_observers.get(), observer))
    try:
        yield
    finally:
        _observers.reset(token)


def witnessed(run: F) -> F:
    """Wrap a sandbox's `run(argv, *, python_code, files, ...)` so observers see each call."""

    @functools.wraps(run)
    def wrapper(self: Any, argv: Sequence[str] | None = None, **options: Any) -> SandboxResult:
        request = UnsafeRun(
            tuple(argv or ()), options.get("python_code"), options.get("files") or {}
        )
        finished = [observe(request) for observe in _observers.get()]
        result = None
        try:
            result = run(self, argv, **options)
            return result
        finally:
            for done in finished:
                done(result)

    return wrapper  # type: ignore[return-value]
