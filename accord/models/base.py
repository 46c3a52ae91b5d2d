"""The `Backend` seam: one protocol every model backend implements, and its records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

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
class ToolCall:
    """A model's request to call one tool: the call's id, the tool's name, JSON arguments.

    `id` pairs the call with the `tool` message that carries its result (OpenAI's
    `tool_call_id`); backends without native tool calling make one up (`call_1`, ...).
    """

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    An assistant message may carry the `tool_calls` the model asked for; the result of one
    call comes back as a message of role `tool` whose `tool_call_id` names the call.
    """

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A request for one completion: chat messages plus sampling settings."""

    messages: tuple[Message, ...]
    max_tokens: int = 64
    temperature: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = True
    tools: tuple[Mapping[str, Any], ...] = ()
    json_schema: Mapping[str, Any] | None = None


# `CompletionRequest.tools` holds one JSON description per tool the model may call, as
# `Tool.schema()` gives it: {"name", "description", "effect", "parameters": JSON Schema}.
# With tools, a backend returns either text (the final answer) or `Completion.tool_calls`.
# `json_schema` asks for a reply that is one JSON value valid under that schema (structured
# output); backends that cannot constrain decoding return their best text and the caller
# validates it.


@dataclass(frozen=True, slots=True)
class Completion:
    """A backend's answer: text, per-token log-probs when available, and usage."""

    text: str
    usage: Usage
    token_logprobs: tuple[float, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()


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
