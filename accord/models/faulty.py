"""A fault-injecting backend: wraps another backend and makes some of its calls go wrong.

Faults, each drawn at its own rate per call:

    timeout       the call hangs for `hang_s`, then raises TimeoutError
    error         the call raises BackendError (a crashed server, a 500)
    empty         the reply is empty text (or no option scores)
    unparseable   the reply is fluent text with no answer in it
    garbage       the reply is mojibake and stray special tokens (or NaN scores)

Draws are deterministic: they depend on the request, its seed and how many times the same
request was made before, so a retried request can succeed and a rerun sees the same faults.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

from accord.errors import BackendError, ConfigError
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    create_backend,
)

Fault = Literal["timeout", "error", "empty", "unparseable", "garbage"]
FAULTS: tuple[Fault, ...] = ("timeout", "error", "empty", "unparseable", "garbage")
GARBAGE = "\ufffd\x00<unk>\x1b[0m\ufffd<0x0F>\x07"
UNPARSEABLE = "I am not able to say; it depends on many things."


class FaultyBackend:
    """Passes calls to `inner` except when a fault is drawn (see the module docstring)."""

    def __init__(
        self,
        inner: Backend,
        *,
        rates: Mapping[str, float] | None = None,
        fail_first: int = 0,
        fault: Fault = "error",
        hang_s: float = 0.01,
        seed: int = 0,
        name: str = "faulty",
    ) -> None:
        rates = dict(rates or {})
        unknown = sorted(set(rates) - set(FAULTS))
        if unknown or fault not in FAULTS:
            raise ConfigError(
                f"unknown fault {(unknown or [fault])[0]!r}", hint=f"faults: {', '.join(FAULTS)}"
            )
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0:
            raise ConfigError("fault rates must be in [0, 1] and sum to at most 1")
        self.inner = inner
        self.name = name
        self.rates = rates
        self.fail_first = fail_first
        self.fault = fault
        self.hang_s = hang_s
        self.seed = seed
        self.calls: Counter[int] = Counter()
        self.injected: Counter[str] = Counter()

    def draw(self, key: str) -> Fault | None:
        """The fault for this call of the request identified by `key`, if any."""
        digest = zlib.crc32(key.encode())
        n = self.calls[digest]
        self.calls[digest] += 1
        if n < self.fail_first:
            return self.fault
        roll = random.Random(f"{self.seed}:{digest}:{n}").random()
        for fault in FAULTS:
            roll -= self.rates.get(fault, 0.0)
            if roll < 0:
                return fault
        return None

    def _raise(self, fault: Fault) -> None:
        if fault == "timeout":
            time.sleep(self.hang_s)
            raise TimeoutError(f"{self.name}: no reply within {self.hang_s:g}s")
        raise BackendError(self.name, "injected failure (HTTP 500)")

    def complete(self, request: CompletionRequest) -> Completion:
        """The inner completion, or a fault."""
        fault = self.draw(f"c|{request.seed}|{_text(request.messages)}")
        if fault is None:
            return self.inner.complete(request)
        self.injected[fault] += 1
        if fault in ("timeout", "error"):
            self._raise(fault)
        completion = self.inner.complete(request)
        text = {"empty": "", "unparseable": UNPARSEABLE, "garbage": GARBAGE}[fault]
        return replace(completion, text=text, token_logprobs=(-9.0,) * len(text.split()))

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The inner option scores, or a fault (empty or NaN scores for output faults)."""
        fault = self.draw(f"s|{_text(messages)}|{'|'.join(options)}")
        if fault is None:
            return self.inner.score(messages, options)
        self.injected[fault] += 1
        if fault in ("timeout", "error"):
            self._raise(fault)
        scores = self.inner.score(messages, options)
        if fault == "empty":
            return replace(scores, logprobs=())
        if fault == "garbage":
            return replace(scores, logprobs=(math.nan,) * len(options))
        return replace(scores, logprobs=(math.log(1.0 / len(options)),) * len(options))


def _text(messages: tuple[Message, ...]) -> str:
    return "\n".join(f"{m.role}:{m.content}" for m in messages)


def build_faulty(
    *,
    inner: str = "scripted",
    rates: Mapping[str, float] | None = None,
    fail_first: int = 0,
    fault: Fault = "error",
    hang_s: float = 0.01,
    seed: int = 0,
    **inner_options: object,
) -> FaultyBackend:
    """Factory for the `faulty` registry entry: other options go to the `inner` backend."""
    backend = create_backend(inner, seed=seed, **inner_options)
    return FaultyBackend(
        backend, rates=rates, fail_first=fail_first, fault=fault, hang_s=hang_s, seed=seed
    )
