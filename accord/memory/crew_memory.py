"""Memory for a crew run: context before each decision, remembering after it.

`CrewMemory.wrap(coordinator)` is the whole hook: the wrapper prepends the packed memory to
each task's prompt and remembers each decision, so the coordinator knows nothing of memory.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.consensus.records import Decision, Task
from accord.memory.packing import Candidate, Packed, TokenCounter, approx_tokens, pack
from accord.memory.records import MemoryStoreError, verification, verifies
from accord.memory.spec import MemorySpec
from accord.memory.store import MemoryStore
from accord.memory.working import WorkingMemory
from accord.models.embed import HashEmbedder

if TYPE_CHECKING:
    from accord.consensus.policy import PolicySpec
    from accord.consensus.spending import RunSpend
    from accord.ledger.writer import Ledger

_LEXICAL = HashEmbedder()


def fact_text(question: str, answer: str) -> str:
    """How a decided question is remembered."""
    return f"{' '.join(question.split())} Answer: {answer}"


class CrewMemory:
    """Working memory of one run plus the crew's long-term store."""

    def __init__(
        self,
        spec: MemorySpec,
        store: MemoryStore | None,
        *,
        crew: str,
        run_id: str,
        count: TokenCounter = approx_tokens,
        working: WorkingMemory | None = None,
    ) -> None:
        self.spec = spec
        self.store = store if spec.long_term else None
        self.crew = crew
        self.run_id = run_id
        self.count = count
        self.working = working or WorkingMemory(run_id)
        for goal in spec.goals:
            self.working.add_goal(goal)
        self.questions: dict[str, str] = {}
        self.errors: list[MemoryStoreError] = []

    def _working_candidates(self, prompt: str) -> list[Candidate]:
        items = self.working.items()
        if not items:
            return []
        query = _LEXICAL.embed([prompt])[0]
        relevance = (_LEXICAL.embed([i.text for i in items]) @ query).tolist()
        floor = self.spec.min_similarity
        return [
            c
            for c in self.working.candidates([float(r) for r in relevance])
            if c.kind == "goal" or c.relevance >= floor
        ]

    def _long_term_candidates(self, prompt: str) -> list[Candidate]:
        if self.store is None or self.spec.top_k == 0:
            return []
        found = self.store.search(
            prompt,
            k=self.spec.top_k,
            crew=self.crew,
            verified=True,
            exclude_run=self.run_id,
            min_score=self.spec.min_similarity,
        )
        if not found:
            return []
        stamps = np.array([m.created_at.timestamp() for m in found])
        span = float(stamps.max() - stamps.min()) or 1.0
        return [
            Candidate(
                f"lt:{m.id}",
                m.kind,
                m.text,
                float(m.score or 0.0),
                float((s - stamps.min()) / span),
                m.verified,
                "long_term",
            )
            for m, s in zip(found, stamps, strict=True)
        ]

    def context_for(self, task: Task) -> Packed:
        """The memory block for `task` within the budget; what was left out is logged."""
        self.questions.setdefault(task.id, task.prompt)
        cands = self._working_candidates(task.prompt) + self._long_term_candidates(task.prompt)
        packed = pack(cands, self.spec.budget_tokens, count=self.count)
        if self.store is not None:
            self.store.log_context(self.run_id, task.id, packed)
        return packed

    def remember(self, task: Task, decision: Decision) -> None:
        """Update working memory; store verified facts (and their triple) long-term."""
        question = self.questions.get(task.id, task.prompt)
        self.working.set_status(task.id, decision.status)
        if not decision.answer:
            return
        text = fact_text(question, decision.answer)
        if not verifies(decision):
            self.working.add_result(task.id, text)
            return
        self.working.add_fact(text, decision=decision)
        if self.store is None:
            return
        role = decision.attempts[0].role if decision.attempts else None
        item = self.store.remember(
            text,
            crew=self.crew,
            kind="fact",
            role=role,
            verified=True,
            source=verification(decision),
            run_id=self.run_id,
            task_id=task.id,
        )
        self.store.graph.add(
            task.id,
            "answer",
            decision.answer,
            crew=self.crew,
            run_id=self.run_id,
            task_id=task.id,
            item_id=item,
        )
        if self.spec.max_items is not None or self.spec.max_age_days is not None:
            self.store.retain(
                self.crew, max_items=self.spec.max_items, max_age_days=self.spec.max_age_days
            )

    def wrap(self, coordinator: Any) -> MemoryCoordinator:
        """`coordinator` with this memory in front of every decision."""
        return MemoryCoordinator(coordinator, self)


class MemoryCoordinator:
    """Wraps a Coordinator: memory goes into the prompt, decisions go into memory."""

    def __init__(self, inner: Any, memory: CrewMemory) -> None:
        self.inner = inner
        self.memory = memory

    @property
    def policy(self) -> Any:
        """The wrapped decider's policy (a task's `consensus:` is applied to it)."""
        return getattr(self.inner, "policy", None)

    @property
    def spend(self) -> RunSpend:
        """The wrapped decider's spending."""
        return self.inner.spend

    async def decide(self, task: Task, policy: PolicySpec | None = None) -> Decision:
        """Decide `task` with memory in its prompt, then remember the decision."""
        packed = self.memory.context_for(task)
        asked = replace(task, prompt=f"{packed.text}\n\n{task.prompt}") if packed.text else task
        decision = await self.inner.decide(asked, policy)
        try:
            self.memory.remember(task, decision)
        except MemoryStoreError as exc:  # the decision is paid for: keep it, note the failure
            self.memory.errors.append(exc)
        return decision


def attach_memory(
    spec: MemorySpec | None,
    ledger: Ledger,
    *,
    crew: str,
    run_id: str,
    working: WorkingMemory | None = None,
) -> CrewMemory | None:
    """The run's memory when the crew has it on (None otherwise), in the ledger's database.

    `working` is a working memory the caller keeps (goals and notes added to it during the
    run reach the prompts of the decisions that follow); a new one when None.
    """
    if spec is None or not spec.enabled:
        return None
    if working is not None:
        working.run_id = run_id
    store = MemoryStore.for_ledger(ledger, embedder=spec.embedder) if spec.long_term else None
    return CrewMemory(spec, store, crew=crew, run_id=run_id, working=working)
