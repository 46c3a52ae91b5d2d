"""A scripted backend: answers from a table or a function, with configurable latency.

It is the fake that ships with the library (see `accord.testing`): deterministic, fast, and
precise about what it returns, so coordinator logic can be tested without a model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.errors import BackendError
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage


@dataclass(frozen=True, slots=True)
class Scripted:
    """One scripted reply: its text and the probability the model gives it."""

    text: str
    prob: float = 0.9


Reply = str | Scripted
ScriptEntry = Reply | Sequence[Reply]
ScriptFunction = Callable[[CompletionRequest], Reply | Completion]


def _reply(value: object) -> Reply:
    """A reply from YAML-friendly data: a string, a number, or {text, prob}."""
    if isinstance(value, Scripted):
        return value
    if isinstance(value, Mapping):
        return Scripted(str(value.get("text", "")), float(value.get("prob", 0.9)))
    return str(value)


def _entry(value: object) -> ScriptEntry:
    if isinstance(value, list | tuple):
        return [_reply(v) for v in value]
    return _reply(value)


def _count_tokens(text: str) -> int:
    return max(1, len(text.split())) if text else 0


class ScriptedBackend:
    """Answers from `script` (question substring -> reply or replies) or a function.

    A list of replies is indexed by the request's seed, so voters with different seeds can be
    scripted to disagree, deterministically. Unknown questions get `default`.
    """

    def __init__(
        self,
        *,
        script: Mapping[str, ScriptEntry] | ScriptFunction | None = None,
        default: Reply = "",
        latency_s: float = 0.0,
        model: str = "scripted",
        name: str = "scripted",
        **_ignored: object,
    ) -> None:
        self.name = name
        self.model = model
        self.latency_s = latency_s
        self.default = default
        self._script: Mapping[str, ScriptEntry] | ScriptFunction
        if script is None or callable(script):
            self._script = script if script is not None else {}
        else:
            self._script = {str(k): _entry(v) for k, v in script.items()}
        self.default = _reply(default)

    def _lookup(self, request: CompletionRequest) -> Reply | Completion:
        if callable(self._script):
            return self._script(request)
        question = request.messages[-1].content if request.messages else ""
        for key, entry in self._script.items():
            if key in question:
                if isinstance(entry, str | Scripted):
                    return entry
                if not entry:
                    break
                return entry[(request.seed or 0) % len(entry)]
        return self.default

    def _usage(self, request: CompletionRequest, completion_tokens: int, start: float) -> Usage:
        prompt = sum(_count_tokens(m.content) for m in request.messages)
        wall = (time.perf_counter() - start) * 1000.0
        return Usage(prompt, completion_tokens, wall, self.model)

    def complete(self, request: CompletionRequest) -> Completion:
        """Return the scripted reply for `request` after `latency_s`."""
        start = time.perf_counter()
        if self.latency_s:
            time.sleep(self.latency_s)
        reply = self._lookup(request)
        if isinstance(reply, Completion):
            return reply
        if isinstance(reply, str):
            reply = Scripted(reply)
        if not 0.0 < reply.prob <= 1.0:
            raise BackendError(self.name, f"scripted prob must be in (0, 1], got {reply.prob}")
        n = _count_tokens(reply.text)
        logprobs = (math.log(reply.prob),) * n
        return Completion(reply.text, self._usage(request, n, start), logprobs)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Give the scripted reply's option its prob; share the rest among the others."""
        start = time.perf_counter()
        request = CompletionRequest(messages=messages)
        completion = self.complete(request)
        chosen = completion.text.strip().lower()
        prob = math.exp(completion.token_logprobs[0]) if completion.token_logprobs else 1.0
        matches = [i for i, o in enumerate(options) if o.strip().lower() == chosen]
        rest = (1.0 - prob) / max(1, len(options) - len(matches)) if matches else 1 / len(options)
        probs = [prob if i in matches else rest for i in range(len(options))]
        logprobs = tuple(math.log(max(p, 1e-12)) for p in probs)
        tokens = tuple(_count_tokens(o) for o in options)
        usage = self._usage(request, 0, start)
        prompt = usage.prompt_tokens * len(options) + sum(tokens)
        return OptionScores(logprobs, Usage(prompt, 0, usage.wall_ms, self.model), tokens)
