"""Accord roles that wrap a CrewAI `Agent` or an AutoGen `AssistantAgent`.

Each wrapper is a `Backend`: accord's coordinator asks it for attempts, validates, votes and
records costs, while the framework's agent does the work (its own prompt, tools and loop).
They are the backends `crewai-agent` and `autogen-agent` (registered with the built-in
backends), and take the agent as the `agent` option, in one of three forms:

- the agent object: it lives in this process, so run the crew with `pool="local"` (a Ray
  actor gets a pickled copy, and CrewAI agents cannot be pickled: the pool then says so);
- a zero-argument function that builds the agent (`agent=make_agent`): called where the role
  runs, so in each Ray actor; it must be importable there (defined in a module, not `__main__`);
- an import path `"package.module:name"` naming an agent or such a function: works from YAML
  and with any pool.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from accord.consensus.checks import import_object
from accord.errors import ConfigError
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    Usage,
    backends,
)
from accord.roles.prompt import RoleProfile

T = TypeVar("T")
_UNNAMED = math.log(1e-3)


def score_by_naming(
    backend: Backend, messages: tuple[Message, ...], options: tuple[str, ...]
) -> OptionScores:
    """Option scores without log-probs: the option a reply names alone gets the mass."""
    ask = (
        *messages,
        Message(
            "user",
            "Options: "
            + "; ".join(options)
            + "\nAnswer with one of the options, exactly as written.",
        ),
    )
    completion = backend.complete(CompletionRequest(messages=ask, max_tokens=32))
    text = completion.text.strip().lower()
    named = [i for i, o in enumerate(options) if o.strip().lower() in text]
    chosen = named[0] if len(named) == 1 else None
    scores = tuple(0.0 if i == chosen else _UNNAMED for i in range(len(options)))
    return OptionScores(scores, completion.usage, tuple(1 for _ in options))


def _task_text(messages: tuple[Message, ...]) -> str:
    """The request as one prompt: accord's system text first, then the turns."""
    return "\n\n".join(m.content for m in messages if m.content)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion, also from inside a running event loop (in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def resolve_agent(agent: Any, *, backend: str, method: str, kind: str) -> Any:
    """The agent from an `agent` option: the object, a factory, or an import path to either.

    `method` is one the agent must have (`kickoff`, `run`); an object without it that can be
    called is taken for a factory and called with no arguments.
    """
    if agent is None:
        raise ConfigError(
            f"backend {backend!r} needs the `agent` option",
            hint=f"pass agent=<{kind}>, a function building one, or 'package.module:name'",
        )
    if isinstance(agent, str):
        agent = import_object(agent, f"{backend} agent")
    if not hasattr(agent, method) and callable(agent):
        agent = agent()
    if not hasattr(agent, method):
        raise ConfigError(
            f"backend {backend!r}: the agent option gave a {type(agent).__name__}; "
            f"expected: {kind} (an object with `{method}`)",
            hint=f"pass a {kind}, a function returning one, or 'package.module:name'",
        )
    return agent


class CrewAIAgentBackend:
    """A CrewAI `Agent` answering accord tasks through `Agent.kickoff`."""

    def __init__(
        self, *, agent: Any = None, name: str = "crewai-agent", **_ignored: object
    ) -> None:
        self.agent = resolve_agent(agent, backend=name, method="kickoff", kind="CrewAI Agent")
        self.name = name

    def profile(self) -> RoleProfile:
        """An accord role profile from the agent's role, goal and backstory."""
        role = str(self.agent.role).strip()
        return RoleProfile(
            _role_name(role), str(self.agent.goal).strip(), str(self.agent.backstory).strip()
        )

    def _usage_so_far(self) -> tuple[int, int]:
        llm = getattr(self.agent, "llm", None)
        usage_summary = getattr(llm, "get_token_usage_summary", None)
        summary = usage_summary() if usage_summary is not None else None
        if summary is None:
            return 0, 0
        return int(summary.prompt_tokens), int(summary.completion_tokens)

    def complete(self, request: CompletionRequest) -> Completion:
        """The agent's final answer to the request; usage from its LLM's counters."""
        start = time.perf_counter()
        before = self._usage_so_far()
        output = self.agent.kickoff(_task_text(request.messages))
        if inspect.isawaitable(output):  # CrewAI >= 1.7 in a running event loop: kickoff_async
            output = run_coroutine(output)  # type: ignore[arg-type]
        after = self._usage_so_far()
        model = str(getattr(getattr(self.agent, "llm", None), "model", "crewai"))
        usage = Usage(
            after[0] - before[0],
            after[1] - before[1],
            (time.perf_counter() - start) * 1000.0,
            model,
        )
        return Completion(str(getattr(output, "raw", output)).strip(), usage)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The option the agent names (agents give no log-probs)."""
        return score_by_naming(self, messages, options)


class AutoGenAgentBackend:
    """An AutoGen `AssistantAgent` answering accord tasks through `agent.run`.

    With `reset` (the default) the agent forgets earlier tasks before each one, as accord's
    tasks are independent; usage is summed from the messages' `models_usage`.
    """

    def __init__(
        self,
        *,
        agent: Any = None,
        reset: bool = True,
        name: str = "autogen-agent",
        **_ignored: object,
    ) -> None:
        self.agent = resolve_agent(agent, backend=name, method="run", kind="AutoGen AssistantAgent")
        self.reset = reset
        self.name = name
        self._lock = threading.Lock()  # an AssistantAgent runs one task at a time

    def profile(self) -> RoleProfile:
        """An accord role profile from the agent's name and description."""
        return RoleProfile(_role_name(self.agent.name), str(self.agent.description))

    async def _run(self, task: str) -> Any:
        if self.reset:
            from autogen_core import CancellationToken

            await self.agent.on_reset(CancellationToken())
        return await self.agent.run(task=task)

    def complete(self, request: CompletionRequest) -> Completion:
        """The agent's last message as the answer; usage summed over its model calls."""
        start = time.perf_counter()
        with self._lock:
            result = run_coroutine(self._run(_task_text(request.messages)))
        prompt = completion = 0
        for message in result.messages:
            usage = getattr(message, "models_usage", None)
            if usage is not None:
                prompt += usage.prompt_tokens
                completion += usage.completion_tokens
        last = result.messages[-1] if result.messages else None
        text = getattr(last, "content", "") if last is not None else ""
        usage = Usage(prompt, completion, (time.perf_counter() - start) * 1000.0, "autogen")
        return Completion(str(text).strip(), usage)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The option the agent names (agents give no log-probs)."""
        return score_by_naming(self, messages, options)


def _role_name(text: str) -> str:
    name = "_".join(text.lower().split())
    name = "".join(c for c in name if c.isalnum() or c in "_-.")
    return name if name[:1].isalpha() else f"agent_{name}"


backends.add("crewai-agent", CrewAIAgentBackend)
backends.add("autogen-agent", AutoGenAgentBackend)
