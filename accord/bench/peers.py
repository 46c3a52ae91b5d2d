"""Peers for `accord bench`: CrewAI and AutoGen answering the bench's items on its backend.

`peer:crewai` builds one CrewAI Agent + Task + Crew per item and calls `kickoff`; `peer:autogen`
builds one AutoGen `AssistantAgent` per item and calls `run`. Both talk to the bench's backend
(the embedded model unless `--backend` says otherwise) through accord's adapters
(`crewai_llm`, `autogen_client`), wrapped in a meter that keeps every request and completion, so
tokens and model time are the backend's own `Usage`, exactly as for accord's strategies.

What each framework is given, per item (the same information accord's roles get):

- the role accord's bench uses (`solver`, goal "answer the question correctly");
- the question as accord's `user_prompt` writes it: the prompt, the options of a
  multiple-choice item, and the answer hint ("Answer with just the number.", ...);
- greedy decoding (temperature 0) and accord's completion cap for the item (`Task.max_tokens`);
  CrewAI gets `FORMAT_TOKENS` more for the "Thought: ... Final Answer:" lines its prompt asks for.

What each framework actually sends is its own business and part of what is measured: AutoGen
sends the system message and the question as they are; CrewAI wraps them in its agent and task
templates (role, backstory, goal, the ReAct answer format, "expected criteria", "Begin!").
The exact messages of one item are stored in `bench_prompts` and shown in the report.

Answers are read from the framework's final text with accord's own parser (`read_answer`) and
normalised like every attempt before voting, then scored by the bench's one scorer. Accord
answers multiple-choice items by option scoring; peers can only generate, so their choice
answers are read from text, by whole words (`peer_answer`).

crewai / autogen are imported only when a peer decider is built
(`pip install 'accord[crewai]'`, `pip install 'accord[autogen]'`).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.bench.solver import SOLVER
from accord.consensus.normalise import normalise_answer, normalise_choice
from accord.consensus.records import Attempt, Decision, Task
from accord.interop._common import as_backend, require
from accord.models.base import Backend, Completion, CompletionRequest, Message, OptionScores
from accord.roles.agent import read_answer
from accord.roles.parse import named_choice
from accord.roles.prompt import system_prompt, user_prompt

# CrewAI's telemetry would try the network from the benchmark (set before crewai is imported)
os.environ.setdefault("CREWAI_TELEMETRY_OPT_OUT", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

FORMAT_TOKENS = 16  # "Thought: I now can give a great answer\nFinal Answer:" in SmolLM2 tokens
BACKSTORY = "You answer questions carefully."
EXPECTED = {
    "number": "Just the number.",
    "choice": "One of the options, exactly as written.",
    "text": "A brief answer.",
}
# the modules each peer needs, checked before a bench starts (one line naming the extra if not)
REQUIRES = {
    "crewai": ("crewai",),
    "autogen": ("autogen_core", "autogen_agentchat"),
}
_LEAD = re.compile(r"(?:final answer|the answer is|answer)\s*[:\-]?\s*", re.I)


def check_installed(peer: str) -> None:
    """Raise a ConfigError naming the pip extra when `peer`'s framework is not installed."""
    for module in REQUIRES.get(peer, ()):
        require(module)


@dataclass(frozen=True, slots=True)
class Call:
    """One backend call a framework made: what it sent and what came back."""

    request: CompletionRequest | None
    completion: Completion | None
    messages: tuple[Message, ...]
    prompt_tokens: int
    completion_tokens: int
    model_ms: float
    model: str
    text: str
    cached_prompt_tokens: int = 0


class MeteredBackend:
    """Wraps the bench's backend and keeps every call the framework makes through it."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def complete(self, request: CompletionRequest) -> Completion:
        """The inner backend's completion (recorded)."""
        completion = self.inner.complete(request)
        usage = completion.usage
        call = Call(
            request,
            completion,
            request.messages,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.wall_ms,
            usage.model,
            completion.text,
            usage.cached_prompt_tokens,
        )
        with self._lock:
            self._calls.append(call)
        return completion

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The inner backend's option scores (recorded; the adapters do not use them)."""
        scores = self.inner.score(messages, options)
        usage = scores.usage
        call = Call(
            None,
            None,
            messages,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.wall_ms,
            usage.model,
            "",
            usage.cached_prompt_tokens,
        )
        with self._lock:
            self._calls.append(call)
        return scores

    def take(self) -> list[Call]:
        """The calls since the last `take`."""
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def close(self) -> None:
        """Close the inner backend if it can be closed."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def peer_answer(raw: str, task: Task) -> str:
    """A framework's final text read as accord reads a generated answer, then normalised.

    Numbers and text go through accord's `read_answer`. Choices are read by whole words
    (`named_choice`): the reply as an option or its letter, else the option after the last
    "answer is" / "Final Answer:", else the one option the first line names.
    """
    if not task.choices:
        answer = read_answer(raw, task)
        return normalise_answer(answer, task) if answer else ""
    answer = normalise_choice(raw.strip().strip(".!\"'"), task.choices)
    if answer not in task.choices:
        leads = list(_LEAD.finditer(raw))
        after = raw[leads[-1].end() :].strip().split("\n", 1)[0] if leads else ""
        if after:
            answer = normalise_choice(after.split()[0].strip(".,;:!\"'"), task.choices)
            if answer not in task.choices:
                answer = named_choice(after, task.choices)
    if answer not in task.choices:
        lines = [line for line in raw.strip().splitlines() if line.strip()]
        answer = named_choice(lines[0], task.choices) if lines else ""
    return answer


def peer_decision(
    peer: str, task: Task, raw: str, calls: list[Call], wall_ms: float, seed: int
) -> Decision:
    """A bench Decision for one peer run: one attempt per backend call, the answer on the last."""
    answer = peer_answer(raw, task)
    attempts = tuple(
        Attempt(
            task_id=task.id,
            role=f"{peer}:{SOLVER.name}",
            model=c.model,
            answer=answer if i == len(calls) - 1 else "",
            raw=raw if i == len(calls) - 1 else c.text,
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            cached_prompt_tokens=c.cached_prompt_tokens,
            model_ms=c.model_ms,
            seed=seed,
            temperature=c.request.temperature if c.request else 0.0,
            kind="primary",
        )
        for i, c in enumerate(calls)
    )
    return Decision(
        task_id=task.id,
        answer=answer,
        confidence=0.0,
        path="single",
        stop_reason=f"{peer}: {len(calls)} LLM call{'s' if len(calls) != 1 else ''}",
        status="accepted",
        policy=f"peer:{peer}",
        attempts=attempts,
        wall_ms=wall_ms,
    )


class PeerDecider(ABC):
    """A peer framework deciding bench tasks on the bench's backend; the base of both peers."""

    peer = ""

    def __init__(
        self,
        *,
        backend: Backend | str,
        backend_options: Mapping[str, object] | None = None,
        seed: int = 0,
    ) -> None:
        check_installed(self.peer)
        self.seed = seed
        self.backend = MeteredBackend(as_backend(backend, dict(backend_options or {})))
        self.transcript: list[Call] = []  # the calls of the last decision (prompts for reports)

    @abstractmethod
    async def _answer(self, task: Task) -> str:
        """The framework's final text for `task` (each peer runs its own framework)."""

    async def decide(self, task: Task) -> Decision:
        """Run the framework on `task` once; its calls become the decision's attempts."""
        self.backend.take()
        start = time.perf_counter()
        raw = await self._answer(task)
        wall_ms = (time.perf_counter() - start) * 1000.0
        self.transcript = self.backend.take()
        return peer_decision(self.peer, task, raw, self.transcript, wall_ms, self.seed)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()


class CrewAIDecider(PeerDecider):
    """One CrewAI Agent + Task + Crew per item, `kickoff()` in a worker thread."""

    peer = "crewai"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        from accord.interop.crewai_llm import crewai_llm

        self.llm = crewai_llm(self.backend, temperature=0.0)

    def _kickoff(self, task: Task) -> str:
        crewai = require("crewai")
        self.llm.max_tokens = task.max_tokens + FORMAT_TOKENS
        agent = crewai.Agent(
            role=SOLVER.name,
            goal=SOLVER.goal,
            backstory=BACKSTORY,
            llm=self.llm,
            allow_delegation=False,
            verbose=False,
        )
        job = crewai.Task(
            description=user_prompt(task),
            expected_output=EXPECTED.get(task.answer_type, "The answer."),
            agent=agent,
        )
        crew = crewai.Crew(
            agents=[agent], tasks=[job], process=crewai.Process.sequential, verbose=False
        )
        return str(crew.kickoff().raw)

    async def _answer(self, task: Task) -> str:
        # CrewAI's kickoff is synchronous (and may run its own event loop): keep it off ours
        return await asyncio.to_thread(self._kickoff, task)


class AutoGenDecider(PeerDecider):
    """One AutoGen AssistantAgent per item with accord's system prompt, `run(task=question)`."""

    peer = "autogen"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        from accord.interop.autogen_client import autogen_client

        self.client = autogen_client(self.backend, temperature=0.0)

    async def _answer(self, task: Task) -> str:
        agents = require("autogen_agentchat.agents")
        self.client.max_tokens = task.max_tokens
        agent = agents.AssistantAgent(
            SOLVER.name, model_client=self.client, system_message=system_prompt(SOLVER)
        )
        result = await agent.run(task=user_prompt(task))
        replies = [m for m in result.messages if getattr(m, "source", None) == SOLVER.name]
        content = replies[-1].content if replies else ""
        return content if isinstance(content, str) else str(content)


PEERS: dict[str, type[PeerDecider]] = {"crewai": CrewAIDecider, "autogen": AutoGenDecider}


def create_peer(name: str, **options: Any) -> PeerDecider:
    """The peer decider registered as `name` (imports its framework)."""
    return PEERS[name](**options)
