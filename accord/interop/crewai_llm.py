"""An accord backend as a CrewAI LLM: existing CrewAI crews run on accord's models and ledger.

    from accord.interop.crewai_llm import crewai_llm
    llm = crewai_llm("llama", ledger=".accord/ledger.duckdb")
    Agent(role=..., goal=..., backstory=..., llm=llm)

`crewai` is imported only when `crewai_llm` is called (`pip install 'accord[crewai]'`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from accord.interop._common import as_backend, require
from accord.interop.recording import CallRecorder
from accord.ledger.writer import Ledger
from accord.models.base import Backend, CompletionRequest, Message


def to_messages(messages: str | Sequence[Any]) -> tuple[Message, ...]:
    """CrewAI's messages (a string, or dicts with role and content) as accord Messages."""
    if isinstance(messages, str):
        return (Message("user", messages),)
    out = []
    for m in messages:
        role, content = (
            (m.get("role", "user"), m.get("content"))
            if isinstance(m, dict)
            else (getattr(m, "role", "user"), getattr(m, "content", m))
        )
        if isinstance(content, list):  # multi-part content: keep the text parts
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append(Message(str(role), "" if content is None else str(content)))
    return tuple(out)


@cache
def _llm_class() -> type:
    """`AccordCrewAILLM`, a subclass of crewai's BaseLLM (built on first use)."""
    base_llm = require("crewai").BaseLLM

    class AccordCrewAILLM(base_llm):  # type: ignore[misc, valid-type]
        """CrewAI LLM that answers with an accord backend and records every call."""

        def __init__(
            self,
            backend: Backend,
            *,
            recorder: CallRecorder | None = None,
            max_tokens: int = 512,
            temperature: float = 0.0,
            context_window: int = 8192,
            **kwargs: Any,
        ) -> None:
            super().__init__(
                model=f"accord/{getattr(backend, 'name', 'backend')}",
                temperature=temperature,
                provider="accord",
                **kwargs,
            )
            self.backend = backend
            self.recorder = recorder
            self.max_tokens = max_tokens
            self.context_window = context_window
            self.calls = 0

        def call(
            self,
            messages: Any,
            tools: Any = None,
            callbacks: Any = None,
            available_functions: Any = None,
            from_task: Any = None,
            from_agent: Any = None,
            response_model: Any = None,
        ) -> str:
            """One completion; usage goes to CrewAI's counters and accord's ledger."""
            request = CompletionRequest(
                messages=to_messages(messages),
                max_tokens=self.max_tokens,
                temperature=self.temperature or 0.0,
                stop=tuple(self.stop),
            )
            completion = self.backend.complete(request)
            self.calls += 1
            self._track_token_usage_internal(
                {
                    "prompt_tokens": completion.usage.prompt_tokens,
                    "completion_tokens": completion.usage.completion_tokens,
                }
            )
            if self.recorder is not None:
                role = getattr(from_agent, "role", None)
                self.recorder.record(request, completion, role=str(role).strip() if role else None)
            return self._apply_stop_words(completion.text)

        def supports_function_calling(self) -> bool:
            """Tools go through CrewAI's text (ReAct) protocol."""
            return False

        def supports_stop_words(self) -> bool:
            """Stop words are applied to the text."""
            return True

        def get_context_window_size(self) -> int:
            """The context window CrewAI should plan with."""
            return self.context_window

    return AccordCrewAILLM


def crewai_llm(
    backend: Backend | str = "llama",
    *,
    ledger: Ledger | str | Path | None = None,
    crew: str = "crewai",
    max_tokens: int = 512,
    temperature: float = 0.0,
    stop: Sequence[str] = (),
    **backend_options: object,
) -> Any:
    """A CrewAI `BaseLLM` running on `backend` (a Backend or a registered name).

    With `ledger`, every call is recorded there as a decision of one run named `crew`.
    """
    recorder = CallRecorder(ledger, crew=crew, source="crewai") if ledger is not None else None
    return _llm_class()(
        as_backend(backend, dict(backend_options)),
        recorder=recorder,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=list(stop),
    )
