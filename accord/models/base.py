"""The `Backend` seam: one protocol every model backend implements, and its records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from accord.registry import Registry


@dataclass(frozen=True, slots=True)
class Usage:
    """What one backend call cost: tokens, wall time and the model that ran.

    `prompt_tokens` is the whole prompt as sent. `cached_prompt_tokens` (at most that) is how
    many of them the backend did not evaluate for this call because an earlier evaluation of
    the same prompt was reused (llama.cpp's prompt cache, `complete_many`), or that a server
    reported as read from its prompt cache (billed at the cached-input price); 0 when unknown.
    `clamped` names the counts a server reported out of range (negative, absurd, not a
    number) that the backend clamped instead of trusting.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_ms: float = 0.0
    model: str = "unknown"
    cached_prompt_tokens: int = 0
    clamped: tuple[str, ...] = ()

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A request for one completion: chat messages plus sampling settings."""

    messages: tuple[Message, ...]
    max_tokens: int = 64
    temperature: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = True


@dataclass(frozen=True, slots=True)
class Completion:
    """A backend's answer: text, per-token log-probs when available, and usage."""

    text: str
    usage: Usage
    token_logprobs: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class OptionScores:
    """Log-probabilities a backend gives each option as the continuation of a prompt."""

    logprobs: tuple[float, ...]
    usage: Usage
    option_tokens: tuple[int, ...] = field(default=())


@runtime_checkable
class Backend(Protocol):
    """A language model behind accord: free completion and option scoring."""

    name: str

    def complete(self, request: CompletionRequest) -> Completion:
        """Generate one completion for `request`."""
        ...

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Log-probability of each option as the assistant's reply to `messages`."""
        ...


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A backend that draws several samples of one request in one call (optional)."""

    def complete_many(
        self, request: CompletionRequest, seeds: Sequence[int | None]
    ) -> list[Completion]:
        """One completion of `request` per seed, each as `complete` would give it."""
        ...


def complete_many(
    backend: Backend, request: CompletionRequest, seeds: Sequence[int | None]
) -> list[Completion]:
    """One completion of `request` per seed, in seed order.

    Batched where the backend can (`complete_many`: the llama backend evaluates the prompt
    once), otherwise one `complete` per seed with the request's seed replaced.
    """
    batched = getattr(backend, "complete_many", None)
    if callable(batched):
        return list(batched(request, list(seeds)))
    return [backend.complete(replace(request, seed=seed)) for seed in seeds]


backends: Registry[Backend] = Registry("backend", plugins="accord.backends")


def create_backend(name: str, /, **options: object) -> Backend:
    """Build the backend registered as `name` (the package's import registered the built-ins)."""
    return backends.create(name, **options)
