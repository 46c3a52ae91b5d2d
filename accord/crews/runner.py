"""The task-graph runner: independent tasks run in parallel, dependants get their outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from itertools import islice
from typing import Protocol

from accord.consensus.outcomes import StopReason
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.consensus.records import Decision, Task
from accord.consensus.spending import RunSpend
from accord.crews.plan import runtime_task
from accord.crews.spec import TaskSpec
from accord.errors import RunError

OnDecision = Callable[[TaskSpec, Decision], None]


class Decider(Protocol):
    """What the runner calls: a coordinator, a cascade of them, or a wrapper of either."""

    @property
    def spend(self) -> RunSpend:
        """The run's spending, which the runner checks before it starts a task."""
        ...

    async def decide(self, task: Task, policy: PolicySpec | None = None) -> Decision:
        """Decide one task."""
        ...


def _skipped(task: TaskSpec, reason: str) -> Decision:
    return Decision(
        task_id=task.id,
        answer="",
        confidence=0.0,
        path="single",
        stop_reason=reason,
        status="unresolved",
        policy=(task.policy.label if task.policy else "-"),
        attempts=(),
        wall_ms=0.0,
    )


class GraphRunner:
    """Runs tasks once their dependencies are decided, at most `concurrency` at a time."""

    def __init__(
        self,
        coordinator: Decider,
        *,
        concurrency: int = 4,
        budget: BudgetSpec | None = None,
        on_decision: OnDecision | None = None,
        keep_attempts: bool = True,
    ) -> None:
        self.coordinator = coordinator
        self.keep_attempts = keep_attempts
        self.concurrency = concurrency
        # the coordinator counts each attempt as it completes; a budget given here replaces its
        # run limits (the crew passes the same one)
        self.spend: RunSpend = coordinator.spend
        if budget is not None:
            self.spend.budget = budget
        self.on_decision = on_decision

    def _out_of_budget(self) -> str | None:
        limit = self.spend.exhausted()
        return None if limit is None else StopReason.budget(limit)

    async def run(
        self, tasks: Sequence[TaskSpec], *, reused: Mapping[str, Decision] | None = None
    ) -> dict[str, Decision]:
        """Decide every task not in `reused` (a resumed run's); returns all by task id."""
        done: dict[str, Decision] = dict(reused or {})
        for d in done.values():  # a resumed run's earlier spending counts against its budget
            self.spend.add(d.attempts)
        waiting = {t.id: t for t in tasks if t.id not in done}
        running: dict[asyncio.Future[Decision], TaskSpec] = {}
        while waiting or running:
            self._start(waiting, running, done)
            if not running:
                break
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                self._finish(done, task, future.result())
        return done

    def _start(
        self,
        waiting: dict[str, TaskSpec],
        running: dict[asyncio.Future[Decision], TaskSpec],
        done: dict[str, Decision],
    ) -> None:
        """Start ready tasks while slots are free; tasks over budget are skipped at once.

        Only as many ready tasks as there are free slots are looked for (a full scan per
        completion made 10k-task runs quadratic), and the search repeats after skips, so the
        dependants of a skipped task get their (skipped) decision too.
        """
        while len(running) < self.concurrency:
            ready = (t for t in waiting.values() if all(d in done for d in t.depends_on))
            batch = list(islice(ready, self.concurrency - len(running)))
            if not batch:
                return
            for task in batch:
                del waiting[task.id]
                reason = self._out_of_budget()
                if reason:
                    self._finish(done, task, _skipped(task, reason))
                    continue
                context = {d: done[d].answer for d in task.depends_on}
                running[asyncio.ensure_future(self._decide(task, context))] = task

    async def _decide(self, task: TaskSpec, context: dict[str, str]) -> Decision:
        try:
            return await self.coordinator.decide(
                runtime_task(task, context), task_policy(task, self.coordinator)
            )
        except RunError as exc:
            return _skipped(task, f"error: {exc}")

    def _finish(self, done: dict[str, Decision], task: TaskSpec, decision: Decision) -> None:
        if self.on_decision:
            self.on_decision(task, decision)
        # Without attempts a kept decision is a few hundred bytes: long runs stay flat.
        done[task.id] = decision if self.keep_attempts else replace(decision, attempts=())


def task_policy(task: TaskSpec, coordinator: object) -> PolicySpec | None:
    """The policy `task` is decided under: its own or the crew's, with its `consensus:`."""
    if task.consensus is None:
        return task.policy
    base = task.policy or getattr(coordinator, "policy", None) or PolicySpec()
    return base.model_copy(update={"consensus": task.consensus})
