"""The Python API: build a Crew from YAML or from Role/Task objects, run it, get a result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from accord.consensus.cascade import Cascade
from accord.consensus.checks import validators_by_task
from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.consensus.records import Decision
from accord.consensus.spending import RunSpend
from accord.crews.consensus_checks import consensus_warnings
from accord.crews.loader import check_references, load_crew, validate_spec
from accord.crews.plan import agent_specs, expand_sources
from accord.crews.resume import cancel_on_signals, stored_decisions
from accord.crews.runner import GraphRunner
from accord.crews.scoring import is_correct
from accord.crews.spec import CrewSpec, ModelSpec, RoleSpec, TaskSpec
from accord.errors import ConfigError, RunInterrupted
from accord.ledger.audit_unsafe import audit_unsafe_runs
from accord.ledger.writer import DEFAULT_PATH, Ledger
from accord.memory.crew_memory import attach_memory
from accord.models.pricing import Price
from accord.roles.pool import AgentPool, LocalPool, RayPool

PoolKind = Literal["ray", "local"]
OnDecision = Callable[[TaskSpec, Decision], None]


@dataclass
class CrewResult:
    """What a run produced: its id, every decision in task order, and where they are stored."""

    run_id: str
    crew: str
    decisions: list[Decision]
    ledger_path: str
    expected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    correct: dict[str, bool | None] = field(default_factory=dict)

    def __getitem__(self, task_id: str) -> Decision:
        for decision in self.decisions:
            if decision.task_id == task_id:
                return decision
        raise KeyError(task_id)

    @property
    def answers(self) -> dict[str, str]:
        """Final answers by task id."""
        return {d.task_id: d.answer for d in self.decisions}

    @property
    def tokens(self) -> int:
        """Tokens spent by the whole run."""
        return sum(d.tokens for d in self.decisions)

    @property
    def escalated(self) -> int:
        """Number of decisions that needed more than one attempt."""
        return sum(d.escalated for d in self.decisions)

    @property
    def accuracy(self) -> float | None:
        """Share of labelled decisions that were right (None without labels)."""
        marks = [c for c in self.correct.values() if c is not None]
        return sum(marks) / len(marks) if marks else None


class Crew:
    """A crew of roles deciding tasks under a policy, every attempt recorded in the ledger."""

    warnings: tuple[str, ...] = ()  # what an import could not carry over (see from_path)

    def __init__(
        self,
        spec: CrewSpec | None = None,
        *,
        name: str = "crew",
        roles: Sequence[RoleSpec] = (),
        tasks: Sequence[TaskSpec] = (),
        policy: PolicySpec | None = None,
        budget: BudgetSpec | None = None,
        models: dict[str, ModelSpec] | None = None,
        seed: int = 0,
        base_dir: str | Path | None = None,
        source: str | None = None,
    ) -> None:
        if spec is None:
            data: dict[str, Any] = {
                "name": name,
                "roles": list(roles),
                "tasks": list(tasks),
                "seed": seed,
            }
            if policy is not None:
                data["policy"] = policy
            if budget is not None:
                data["budget"] = budget
            if models is not None:
                data["models"] = models
            spec = validate_spec(data)
            problems = check_references(spec)
            if problems:
                loc, message, hint = problems[0]
                raise ConfigError(f"{'.'.join(map(str, loc))}: {message}", hint=hint)
        self.spec = spec
        self.base_dir = Path(base_dir) if base_dir else Path.cwd()
        self.source = source

    @classmethod
    def from_yaml(cls, path: str | Path) -> Crew:
        """Load and check a crew file."""
        path = Path(path)
        crew = cls(load_crew(path), base_dir=path.parent, source=str(path))
        crew.warnings = tuple(consensus_warnings(crew.spec))
        return crew

    @classmethod
    def from_path(cls, path: str | Path, *, inputs: dict[str, str] | None = None) -> Crew:
        """An accord crew file, or a CrewAI project (folder, config/*.yaml or crew.jsonc)."""
        from accord.interop.crewai_import import find_project, import_crewai

        project = find_project(path)
        if project is None:
            return cls.from_yaml(path)
        imported = import_crewai(path, inputs=inputs, project=project)
        crew = cls(imported.spec, base_dir=imported.base_dir, source=imported.source)
        crew.warnings = (*imported.warnings, *consensus_warnings(crew.spec))
        return crew

    def tasks(self) -> list[TaskSpec]:
        """Every task this crew will decide: inline ones, then those from sources."""
        return expand_sources(self.spec, self.base_dir)

    def build_pool(
        self,
        kind: PoolKind = "ray",
        *,
        backend: str | None = None,
        backend_options: dict[str, object] | None = None,
        address: str | None = None,
        tier: str | None = None,
    ) -> AgentPool:
        """Start the crew's agents: Ray actors (default) or in-process agents.

        `tier` starts the roles on that model tier instead of their own (a cascade tier).
        """
        specs = agent_specs(self.spec, backend=backend, backend_options=backend_options, tier=tier)
        if kind == "local":
            return LocalPool(specs)
        from accord.roles.actor import ensure_ray

        ensure_ray(address)
        return RayPool(specs)

    def run(
        self,
        *,
        db: str | Path = DEFAULT_PATH,
        backend: str | None = None,
        backend_options: dict[str, object] | None = None,
        pool: PoolKind | AgentPool = "ray",
        address: str | None = None,
        on_decision: OnDecision | None = None,
        on_start: Callable[[str, list[TaskSpec]], None] | None = None,
        ledger: Ledger | None = None,
        resume: str | None = None,
        keep_attempts: bool = True,
    ) -> CrewResult:
        """Run every task and return the result; the ledger gets every attempt and decision.

        `resume` continues the run with that id: its decisions in the ledger are reused.
        `keep_attempts=False` drops each decision's attempts from the result once they are in
        the ledger, so memory stays flat over long runs (token sums then come from the ledger).
        SIGINT and SIGTERM stop the run cleanly (RunInterrupted) with the ledger flushed.
        """
        self.last_run_id: str | None = None
        results: list[CrewResult] = []

        async def main() -> None:
            # the result leaves through `results`, not as the task's result: asyncio.run
            # restores the SIGINT handler it installed and `signal.signal` then builds the
            # repr of that handler, which holds the main task, and so of its whole result
            # (~3 ms per 100 decisions)
            results.append(
                await self.arun(
                    db=db,
                    backend=backend,
                    backend_options=backend_options,
                    pool=pool,
                    address=address,
                    on_decision=on_decision,
                    on_start=on_start,
                    ledger=ledger,
                    resume=resume,
                    keep_attempts=keep_attempts,
                )
            )

        try:
            asyncio.run(main())
            return results[0]
        except (KeyboardInterrupt, asyncio.CancelledError):
            if self.last_run_id is None:
                raise
            raise RunInterrupted(self.last_run_id) from None

    async def arun(
        self,
        *,
        db: str | Path = DEFAULT_PATH,
        backend: str | None = None,
        backend_options: dict[str, object] | None = None,
        pool: PoolKind | AgentPool = "ray",
        address: str | None = None,
        on_decision: OnDecision | None = None,
        on_start: Callable[[str, list[TaskSpec]], None] | None = None,
        ledger: Ledger | None = None,
        resume: str | None = None,
        keep_attempts: bool = True,
    ) -> CrewResult:
        """Async form of `run`, for embedding in an event loop."""
        tasks = self.tasks()
        spec = self.spec
        owns_pool = isinstance(pool, str)
        if spec.cascade is not None and not owns_pool:
            raise ConfigError(
                "a crew with a `cascade:` starts its own agents for every tier",
                hint="run it with pool='ray' or pool='local' instead of a pool object",
            )
        ledger = ledger or Ledger(db)
        ledger.open_in_background()  # opens while the agents start and the first tasks run
        saved_prices = ledger.prices
        started: list[AgentPool] = []  # closed whatever happens, once they are started
        run_id: str | None = None
        status = "failed"
        try:
            if isinstance(pool, str):
                for tier in (None, *(spec.cascade.tiers if spec.cascade else ())):
                    started.append(
                        self.build_pool(
                            pool,
                            backend=backend,
                            backend_options=backend_options,
                            address=address,
                            tier=tier,
                        )
                    )
            tier_pools = started if owns_pool else [pool]  # type: ignore[list-item]
            tiers = sorted({backend or spec.models[r.model].backend for r in spec.roles})
            reused = stored_decisions(ledger, resume, spec.name) if resume else {}
            run_id = ledger.start_run(
                spec.name,
                source=self.source,
                backend=",".join(tiers),
                policy=spec.policy.label,
                seed=spec.seed,
                config=spec.model_dump(),
                run_id=resume,
            )
            self.last_run_id = run_id
            result = CrewResult(run_id, spec.name, [], ledger.path)
            if on_start:
                on_start(run_id, tasks)

            def record(task: TaskSpec, decision: Decision) -> None:
                correct = is_correct(decision.answer, task.expected, task.kind, task.match)
                result.correct[task.id] = correct
                result.expected[task.id] = tuple(task.expected)
                ledger.record(
                    str(run_id),
                    decision,
                    expected=task.expected,
                    correct=correct,
                    store_prompts=None if spec.ledger.store_prompts else False,
                )
                if on_decision:
                    on_decision(task, decision)

            checks = validators_by_task({t.id: t.validators for t in tasks})
            if spec.prices:  # the crew's prices, for this run's ledger rows and money budgets
                ledger.prices = saved_prices.with_overrides(
                    {
                        name: Price(
                            p.prompt_usd_per_mtok,
                            p.completion_usd_per_mtok,
                            saved_prices.prices.get(name, Price()).parameters,
                            p.cached_prompt_usd_per_mtok,
                        )
                        for name, p in spec.prices.items()
                    }
                )
            spend = RunSpend(spec.budget, ledger.prices)  # one budget over every tier
            coordinators = [
                Coordinator(
                    tier_pool,
                    policy=spec.policy,
                    budget=spec.budget,
                    primary=spec.roles[0].name,
                    seed=spec.seed,
                    validators_for=checks,
                    spend=spend,
                )
                for tier_pool in tier_pools
            ]
            coordinator: Coordinator | Cascade = coordinators[0]
            if spec.cascade is not None:
                coordinator = Cascade(
                    coordinators, spec.policy, climb_below=spec.cascade.climb_below
                )
            memory = attach_memory(spec.memory, ledger, crew=spec.name, run_id=run_id)
            if memory is not None:  # memory wraps the coordinator: context in, decisions out
                coordinator = memory.wrap(coordinator)  # type: ignore[assignment]
            runner = GraphRunner(
                coordinator,
                concurrency=spec.concurrency,
                budget=spec.budget,
                on_decision=record,
                keep_attempts=keep_attempts,
            )
            with cancel_on_signals(), audit_unsafe_runs(ledger, run_id):
                decided = await runner.run(tasks, reused=reused)
            status = "finished"
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = "interrupted"
            raise
        finally:
            try:
                if run_id is not None:
                    ledger.finish_run(run_id, status)
                else:  # the run never started: the file opened for it is let go
                    ledger.stop_opening()
                    ledger.release_unless_running()
            finally:
                ledger.prices = saved_prices
                for started_pool in started:
                    started_pool.close()
        result.decisions = [decided[t.id] for t in tasks if t.id in decided]
        for task in (t for t in tasks if t.id in reused):
            result.correct[task.id] = is_correct(
                reused[task.id].answer, task.expected, task.kind, task.match
            )
            result.expected[task.id] = tuple(task.expected)
        return result
