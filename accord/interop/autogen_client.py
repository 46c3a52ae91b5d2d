"""An accord backend as an AutoGen `ChatCompletionClient`, recording calls in the ledger.

    from accord.interop.autogen_client import autogen_client
    agent = AssistantAgent("helper", model_client=autogen_client("llama"))

`autogen_core` is imported only when `autogen_client` is called
(`pip install 'accord[autogen]'`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from accord.interop._common import as_backend, require
from accord.interop.recording import CallRecorder
from accord.ledger.writer import Ledger
from accord.models.base import Backend, CompletionRequest, Message

_ROLES = {
    "SystemMessage": "system",
    "UserMessage": "user",
    "AssistantMessage": "assistant",
    "FunctionExecutionResultMessage": "tool",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c if isinstance(c, str) else getattr(c, "content", None) for c in content]
        return "\n".join(str(p) for p in parts if p is not None)
    return str(content)


def to_messages(messages: Sequence[Any]) -> tuple[Message, ...]:
    """AutoGen LLM messages as accord Messages (function results become tool text)."""
    return tuple(Message(_ROLES.get(type(m).__name__, "user"), _text(m.content)) for m in messages)


def _count(text: str) -> int:
    return max(1, len(text.split())) if text else 0


@cache
def _client_class() -> type:
    """`AccordChatCompletionClient` (built on first use, importing autogen_core)."""
    models = require("autogen_core.models")

    class AccordChatCompletionClient(models.ChatCompletionClient):  # type: ignore[name-defined]  # autogen_core, loaded at run time
        """AutoGen model client answering with an accord backend."""

        def __init__(
            self,
            backend: Backend,
            *,
            recorder: CallRecorder | None = None,
            max_tokens: int = 512,
            temperature: float = 0.0,
            context_window: int = 8192,
        ) -> None:
            self.backend = backend
            self.recorder = recorder
            self.max_tokens = max_tokens
            self.temperature = temperature
            self.context_window = context_window
            self._last = models.RequestUsage(prompt_tokens=0, completion_tokens=0)
            self._total = models.RequestUsage(prompt_tokens=0, completion_tokens=0)
            self.calls = 0

        async def create(
            self,
            messages: Sequence[Any],
            *,
            tools: Sequence[Any] = (),
            tool_choice: Any = "auto",
            json_output: Any = None,
            extra_create_args: Mapping[str, Any] | None = None,
            cancellation_token: Any = None,
        ) -> Any:
            """One completion, run in a worker thread so the event loop stays free."""
            args = dict(extra_create_args or {})
            request = CompletionRequest(
                messages=to_messages(messages),
                max_tokens=int(args.get("max_tokens", self.max_tokens)),
                temperature=float(args.get("temperature", self.temperature)),
                seed=args.get("seed"),
                stop=tuple(args.get("stop", ())),
            )
            completion = await asyncio.to_thread(self.backend.complete, request)
            usage = models.RequestUsage(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
            )
            self._last = usage
            self._total = models.RequestUsage(
                prompt_tokens=self._total.prompt_tokens + usage.prompt_tokens,
                completion_tokens=self._total.completion_tokens + usage.completion_tokens,
            )
            self.calls += 1
            if self.recorder is not None:
                self.recorder.record(request, completion)
            logprobs = [
                models.ChatCompletionTokenLogprob(token="", logprob=lp)
                for lp in completion.token_logprobs
            ] or None
            return models.CreateResult(
                finish_reason="stop",
                content=completion.text,
                usage=usage,
                cached=False,
                logprobs=logprobs,
            )

        async def create_stream(
            self, messages: Sequence[Any], **kwargs: Any
        ) -> AsyncGenerator[Any, None]:
            """The whole answer as one chunk, then the result (accord does not stream)."""
            result = await self.create(messages, **kwargs)
            yield result.content
            yield result

        async def close(self) -> None:
            """Flush the recorder's run."""
            if self.recorder is not None:
                self.recorder.close()

        def actual_usage(self) -> Any:
            """Usage of the last call."""
            return self._last

        def total_usage(self) -> Any:
            """Usage summed over all calls."""
            return self._total

        def count_tokens(self, messages: Sequence[Any], *, tools: Sequence[Any] = ()) -> int:
            """A whitespace estimate of the prompt's tokens."""
            return sum(_count(m.content) for m in to_messages(messages))

        def remaining_tokens(self, messages: Sequence[Any], *, tools: Sequence[Any] = ()) -> int:
            """Context window left after `messages`."""
            return self.context_window - self.count_tokens(messages, tools=tools)

        @property
        def capabilities(self) -> Any:
            """Deprecated in AutoGen; mirrors model_info."""
            return {"vision": False, "function_calling": False, "json_output": False}

        @property
        def model_info(self) -> Any:
            """No vision, no native tool calls, no JSON mode."""
            return models.ModelInfo(
                vision=False,
                function_calling=False,
                json_output=False,
                family="unknown",
                structured_output=False,
            )

    return AccordChatCompletionClient


def autogen_client(
    backend: Backend | str = "llama",
    *,
    ledger: Ledger | str | Path | None = None,
    crew: str = "autogen",
    max_tokens: int = 512,
    temperature: float = 0.0,
    **backend_options: object,
) -> Any:
    """An AutoGen `ChatCompletionClient` on `backend`; with `ledger`, every call is recorded."""
    recorder = CallRecorder(ledger, crew=crew, source="autogen") if ledger is not None else None
    return _client_class()(
        as_backend(backend, dict(backend_options)),
        recorder=recorder,
        max_tokens=max_tokens,
        temperature=temperature,
    )
