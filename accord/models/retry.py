"""Retries for any Backend: exponential backoff with jitter, then one BackendError.

A call is retried when it raises (anything but a ConfigError, which no retry can fix) or when
its output is unusable: empty or garbled text, or option scores that are missing or not
finite. After `attempts` tries the last reason is raised as a BackendError, which the
coordinator records as a failed attempt before it escalates or leaves the decision unresolved.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from accord.errors import BackendError, ConfigError
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    complete_many,
    create_backend,
)

T = TypeVar("T")
_GARBAGE_MARKS = ("\ufffd", "<unk>", "\x00")


def unusable_text(text: str) -> str | None:
    """Why `text` cannot be an answer (empty, garbled), or None when it can."""
    if not text.strip():
        return "empty output"
    if any(mark in text for mark in _GARBAGE_MARKS):
        return "garbage output"
    printable = sum(c.isprintable() or c.isspace() for c in text)
    return "garbage output" if printable < 0.9 * len(text) else None


def unusable_scores(scores: OptionScores, options: tuple[str, ...]) -> str | None:
    """Why `scores` cannot rank `options` (missing or not finite), or None when they can."""
    if len(scores.logprobs) != len(options):
        return f"{len(scores.logprobs)} option scores for {len(options)} options"
    if not all(math.isfinite(lp) or lp == -math.inf for lp in scores.logprobs):
        return "option scores are not finite"
    return None


class RetryingBackend:
    """Wraps `inner`; each call is tried up to `attempts` times with growing, jittered waits.

    The wait before retry n (1-based) is `min(max_delay_s, base_delay_s * 2**(n-1))`, shortened
    by a random share of up to `jitter` so that many agents do not retry in lock-step.
    """

    def __init__(
        self,
        inner: Backend,
        *,
        attempts: int = 4,
        base_delay_s: float = 0.05,
        max_delay_s: float = 2.0,
        jitter: float = 0.5,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1 or base_delay_s < 0 or max_delay_s < 0 or not 0 <= jitter <= 1:
            raise ConfigError("retry needs attempts >= 1, delays >= 0 and jitter in [0, 1]")
        self.inner = inner
        self.name = f"retry({inner.name})"
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.jitter = jitter
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.retries = 0

    def delay(self, retry: int) -> float:
        """The wait before retry number `retry` (1-based), jitter included."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return ceiling * (1.0 - self.jitter * self.rng.random())

    def _call(self, call: Callable[[], T], check: Callable[[T], str | None]) -> T:
        reason = ""
        for n in range(self.attempts):
            if n:
                self.retries += 1
                self.sleep(self.delay(n))
            try:
                result = call()
            except ConfigError:
                raise
            except Exception as exc:  # any failure of the inner backend is worth a retry
                reason = f"{type(exc).__name__}: {exc}"
                continue
            problem = check(result)
            if problem is None:
                return result
            reason = problem
        raise BackendError(self.inner.name, f"gave up after {self.attempts} attempts: {reason}")

    def complete(self, request: CompletionRequest) -> Completion:
        """The inner completion, retried until its text is usable."""
        return self._call(lambda: self.inner.complete(request), lambda c: unusable_text(c.text))

    def complete_many(
        self, request: CompletionRequest, seeds: Sequence[int | None]
    ) -> list[Completion]:
        """The inner backend's batched call (one request with `n`, one llama batch); a sample
        that failed or came back unusable is drawn again on its own, with retries."""
        seeds = list(seeds)
        try:
            batch: list[Completion | None] = list(complete_many(self.inner, request, seeds))
        except ConfigError:
            raise
        except Exception:  # the whole batch failed: every sample on its own
            batch = [None] * len(seeds)
        return [
            c
            if c is not None and unusable_text(c.text) is None
            else self.complete(replace(request, seed=seed))
            for c, seed in zip(batch, seeds, strict=True)
        ]

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The inner option scores, retried until they rank every option."""
        return self._call(
            lambda: self.inner.score(messages, options), lambda s: unusable_scores(s, options)
        )


def build_retry(
    *,
    inner: str = "llama",
    inner_options: dict[str, object] | None = None,
    attempts: int = 4,
    base_delay_s: float = 0.05,
    max_delay_s: float = 2.0,
    jitter: float = 0.5,
    **options: object,
) -> RetryingBackend:
    """Factory for the `retry` registry entry: wraps the backend named `inner`.

    Options not about retrying go to the inner backend, with `inner_options` on top (so a
    `faulty` inner backend can get its own `inner`).
    """
    backend = create_backend(inner, **{**options, **(inner_options or {})})
    seed = options.get("seed")
    return RetryingBackend(
        backend,
        attempts=attempts,
        base_delay_s=base_delay_s,
        max_delay_s=max_delay_s,
        jitter=jitter,
        seed=seed if isinstance(seed, int) else None,
    )
