"""The Python API: build a Crew from YAML or from Role/Task objects, run it, get a result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
from accord.crews.runner import Decider, GraphRunner
from accord.crews.scoring import is_correct
from accord.crews.sources import import_crew
from accord.crews.spec import CrewSpec, ModelSpec, RoleSpec, TaskSpec
from accord.errors import ConfigError, RunInterrupted
from accord.ledger.audit_unsafe import audit_unsafe_runs
from accord.ledger.writer import DEFAULT_PATH, Ledger, RunLog
from accord.memory.crew_memory import attach_memory
from accord.memory.working import WorkingMemory
from accord.models.pricing import Price, PriceTable
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
        imported = import_crew(path, inputs=inputs)  # formats in accord.crews.sources
        if imported is None:
            return cls.from_yaml(path)
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
        from accord.roles.ray_runtime import current_actor_cache

        ensure_ray(address)
        return RayPool(specs, cache=current_actor_cache())  # actors reused by later runs

    def run(self, **options: Any) -> CrewResult:
        """Run every task and return the result; the ledger gets every attempt and decision.

        Takes `arun`'s keywords. SIGINT and SIGTERM stop the run cleanly (RunInterrupted, with
        the run's id) with the ledger flushed.
        """
        results: list[CrewResult] = []
        started: list[str] = []
        on_start = options.pop("on_start", None)

        def note_start(run_id: str, tasks: list[TaskSpec]) -> None:
            started.append(run_id)
            if on_start:
                on_start(run_id, tasks)

        async def main() -> None:
            # the result leaves through `results`, not as the task's result: asyncio.run
            # restores the SIGINT handler it installed and `signal.signal` then builds the
            # repr of that handler, which holds the main task, and so of its whole result
            # (~3 ms per 100 decisions)
            results.append(await self.arun(on_start=note_start, **options))

        try:
            asyncio.run(main())
            return results[0]
        except (KeyboardInterrupt, asyncio.CancelledError):
            if not started:
                raise
            raise RunInterrupted(started[0]) from None

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
        working: WorkingMemory | None = None,
    ) -> CrewResult:
        """Async form of `run`: decide every task, each decision recorded in the ledger.

        `resume` continues the run with that id: its decisions in the ledger are reused.
        `keep_attempts=False` drops each decision's attempts from the result once they are in
        the ledger, so memory stays flat over long runs (token sums then come from the ledger).
        `working` is the run's working memory, kept by the caller: goals and notes added to it
        during the run reach later prompts (when the crew has `memory:` on).
        """
        tasks = self.tasks()
        if self.spec.cascade is not None and not isinstance(pool, str):
            raise ConfigError(
                "a crew with a `cascade:` starts its own agents for every tier",
                hint="run it with pool='ray' or pool='local' instead of a pool object",
            )
        own_ledger = ledger is None
        ledger = ledger or Ledger(db)
        try:
            with self._pools(pool, backend, backend_options, address) as tier_pools:
                reused = stored_decisions(ledger, resume, self.spec.name) if resume else {}
                with ledger.run(**self._run_meta(backend, resume, ledger.prices)) as log:
                    if on_start:
                        on_start(log.id, tasks)
                    result = CrewResult(log.id, self.spec.name, [], ledger.path)
                    decider = self._decider(tier_pools, tasks, log, working)
                    record = _recorder(log, result, on_decision)
                    runner = GraphRunner(
                        decider,
                        concurrency=self.spec.concurrency,
                        budget=self.spec.budget,
                        on_decision=record,
                        keep_attempts=keep_attempts,
                    )
                    with cancel_on_signals(), audit_unsafe_runs(ledger, log.id):
                        decided = await runner.run(tasks, reused=reused)
        finally:
            if own_ledger:
                ledger.close()
        result.decisions = [decided[t.id] for t in tasks if t.id in decided]
        for task in (t for t in tasks if t.id in reused):
            result.correct[task.id] = is_correct(
                reused[task.id].answer, task.expected, task.kind, task.match
            )
            result.expected[task.id] = tuple(task.expected)
        return result

    @contextmanager
    def _pools(
        self,
        pool: PoolKind | AgentPool,
        backend: str | None,
        backend_options: dict[str, object] | None,
        address: str | None,
    ) -> Iterator[list[AgentPool]]:
        """The agents of every tier (the crew's own, then its cascade's), closed after use;
        a pool object that is passed in is used as it is, and left open."""
        if not isinstance(pool, str):
            yield [pool]
            return
        started: list[AgentPool] = []
        try:
            for tier in (None, *(self.spec.cascade.tiers if self.spec.cascade else ())):
                started.append(
                    self.build_pool(
                        pool,
                        backend=backend,
                        backend_options=backend_options,
                        address=address,
                        tier=tier,
                    )
                )
            yield started
        finally:
            for started_pool in started:
                started_pool.close()

    def _run_meta(
        self, backend: str | None, resume: str | None, prices: PriceTable
    ) -> dict[str, Any]:
        """What the ledger records of this run, and the prices of its rows."""
        spec = self.spec
        tiers = sorted({backend or spec.models[r.model].backend for r in spec.roles})
        return {
            "crew": spec.name,
            "source": self.source,
            "backend": ",".join(tiers),
            "policy": spec.policy.label,
            "seed": spec.seed,
            "config": spec.model_dump(),
            "run_id": resume,
            "prices": crew_prices(spec, prices),
            "store_prompts": None if spec.ledger.store_prompts else False,
        }

    def _decider(
        self,
        tier_pools: list[AgentPool],
        tasks: list[TaskSpec],
        log: RunLog,
        working: WorkingMemory | None = None,
    ) -> Decider:
        """The coordinator of each tier under one budget, a cascade over them, and memory."""
        spec = self.spec
        checks = validators_by_task({t.id: t.validators for t in tasks})
        spend = RunSpend(spec.budget, log.prices)  # one budget over every tier
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
        decider: Decider = coordinators[0]
        if spec.cascade is not None:
            decider = Cascade(coordinators, spec.policy, climb_below=spec.cascade.climb_below)
        memory = attach_memory(
            spec.memory, log.ledger, crew=spec.name, run_id=log.id, working=working
        )
        if memory is not None:  # memory wraps the decider: context in, decisions out
            decider = memory.wrap(decider)
        return decider


def crew_prices(spec: CrewSpec, prices: PriceTable) -> PriceTable:
    """`prices` with the crew's own (its `prices:`) in place; parameter counts are kept."""
    if not spec.prices:
        return prices
    return prices.with_overrides(
        {
            name: Price(
                p.prompt_usd_per_mtok,
                p.completion_usd_per_mtok,
                prices.prices.get(name, Price()).parameters,
                p.cached_prompt_usd_per_mtok,
            )
            for name, p in spec.prices.items()
        }
    )


def _recorder(log: RunLog, result: CrewResult, on_decision: OnDecision | None) -> OnDecision:
    """What the runner calls with each decision: grade it, queue it, tell the caller."""

    def record(task: TaskSpec, decision: Decision) -> None:
        correct = is_correct(decision.answer, task.expected, task.kind, task.match)
        result.correct[task.id] = correct
        result.expected[task.id] = tuple(task.expected)
        log.record(decision, expected=task.expected, correct=correct)
        if on_decision:
            on_decision(task, decision)

    return record
