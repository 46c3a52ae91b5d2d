"""Running a crew's goals: plan, validate, execute under permissions, audit every call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.crews.crew import Crew, PoolKind
from accord.errors import ConfigError
from accord.ledger.audit import AuditTrail
from accord.ledger.writer import DEFAULT_PATH, Ledger
from accord.planning.monitor import GoalResult, Monitor
from accord.planning.planner import Planner
from accord.planning.review import AgentReviewer
from accord.planning.validator import PlanValidator
from accord.roles.pool import AgentPool
from accord.tools.approval import ApprovalGate, Confirm
from accord.tools.base import ToolSet, canonical
from accord.tools.delegation import Delegations
from accord.tools.executor import ToolExecutor
from accord.tools.permissions import Permissions
from accord.tools.spec import ToolsSpec
from accord.tools.toolsets import create_toolset


@dataclass
class AgentRunResult:
    """What a goal run produced: the run id, each goal's result, where the ledger is."""

    run_id: str
    crew: str
    ledger_path: str
    goals: list[GoalResult] = field(default_factory=list)


Loc = tuple[str | int, ...]


def _where(crew: Crew, loc: Loc, message: str, hint: str) -> ConfigError:
    """A ConfigError at `loc` in the crew file (with line:col when the crew came from YAML)."""
    if crew.source and Path(crew.source).is_file():
        from accord.crews.yamlsource import load_marked

        return load_marked(crew.source).error(loc, message, hint)
    dotted = ".".join(str(p) for p in loc)
    return ConfigError(f"{dotted}: {message}", hint=hint)


def check_tools(crew: Crew, toolset: ToolSet | None = None) -> ToolsSpec:
    """The crew's tools section with its role (and, given the toolset, tool) names checked."""
    spec = crew.spec
    tools = spec.tools
    if tools is None:
        raise ConfigError(
            "the crew has no `tools:` section", path=crew.source, hint="see configs/refund.yaml"
        )
    if not spec.goals:
        raise ConfigError(
            "the crew has no `goals:`", path=crew.source, hint="add `goals: [{id, goal}]`"
        )
    if not tools.planners:
        raise _where(crew, ("tools",), "name at least one planner role", "add `planners: [ROLE]`")
    roles = sorted(r.name for r in spec.roles)
    named: list[tuple[Loc, str | None]] = [(("tools", "grants", r), r) for r in tools.grants]
    named += [(("tools", "planners", i), p) for i, p in enumerate(tools.planners)]
    named += [(("tools", "executor"), tools.executor)]
    named += [
        (("tools", "approvals", i, k), getattr(a, k))
        for i, a in enumerate(tools.approvals)
        for k in ("role", "reviewed_by")
    ]
    named += [(("goals", i, "role"), g.role) for i, g in enumerate(spec.goals)]
    named += [
        (("tools", "delegations", i, k), getattr(d, k))
        for i, d in enumerate(tools.delegations)
        for k in ("role", "to")
    ]
    for loc, name in named:
        if name is not None and name not in roles:
            raise _where(crew, loc, f"unknown role {name!r}", f"known roles: {', '.join(roles)}")
    if toolset is not None:
        used: list[tuple[Loc, str]] = [
            (("tools", "grants", r, i, "tool"), g.tool)
            for r, grants in tools.grants.items()
            for i, g in enumerate(grants)
        ]
        used += [(("tools", "approvals", i, "tool"), a.tool) for i, a in enumerate(tools.approvals)]
        used += [
            (("tools", "limits", i, "tool"), lim.tool)
            for i, lim in enumerate(tools.limits)
            if lim.tool != "*"
        ]
        used += [
            (("tools", "delegations", i, "tools", j), name)
            for i, d in enumerate(tools.delegations)
            for j, name in enumerate(d.tools)
        ]
        for loc, name in used:
            if name not in toolset:
                raise _where(
                    crew,
                    loc,
                    f"unknown tool {name!r}",
                    f"tools of {tools.toolset!r}: {', '.join(toolset)}",
                )
    return tools


class GoalRun:
    """The parts of one goal run, wired together: executor, approvals, planner, monitor."""

    def __init__(
        self,
        crew: Crew,
        agents: AgentPool,
        ledger: Ledger,
        run_id: str,
        *,
        confirm: Confirm | None = None,
        toolset: ToolSet | None = None,
    ) -> None:
        spec = crew.spec
        self.spec, self.tools_spec = spec, check_tools(crew)
        self.agents, self.ledger, self.run_id = agents, ledger, run_id
        self.toolset = toolset or create_toolset(self.tools_spec.toolset, **self.tools_spec.options)
        check_tools(crew, self.toolset)
        self.permissions = Permissions(self.tools_spec.grants)
        self.delegations = Delegations(self.tools_spec.delegations)
        self.audit = AuditTrail(ledger, run_id, batch=256)  # flushed after every goal
        self.executor = ToolExecutor(
            self.toolset,
            self.permissions,
            limits=self.tools_spec.limits,
            keys=self.toolset.keys,
            audit=self.audit,
            run_id=run_id,
            delegations=self.delegations,
            require_human=self.tools_spec.require_human,
        )
        self.gate = ApprovalGate(
            self.tools_spec.approvals,
            confirm=confirm,
            require_human=self.tools_spec.require_human,
        )
        self.default_role = self.tools_spec.executor or next(
            r.name for r in spec.roles if r.name not in self.tools_spec.planners
        )
        self.review = AgentReviewer(agents, ledger, run_id, seed=spec.seed)

    def _probe(self, role: str) -> Callable[[str, dict[str, Any]], Any]:
        seen: dict[str, Any] = {}

        def probe(tool: str, args: dict[str, Any]) -> Any:
            key = f"{tool}:{canonical(args)}"
            if key not in seen:
                outcome = self.executor.call(role, tool, args, stage="validate")
                seen[key] = outcome.result if outcome.ok else None
            return seen[key]

        return probe

    def monitor(self, role: str) -> Monitor:
        """A monitor whose planner validates plans as `role` would run them."""
        ts = self.tools_spec
        validator = PlanValidator(
            self.toolset,
            self.permissions,
            default_role=role,
            probe=self._probe(role),
            delegations=self.delegations,
        )
        roles_tools = {r: self.permissions.tools_of(r) for r in ts.grants if r not in ts.planners}
        planner = Planner(
            self.agents,
            ts.planners,
            self.toolset,
            validator,
            roles_tools=roles_tools,
            max_replans=ts.max_replans,
            vote_k=ts.vote_k,
            voter_temperature=self.spec.policy.voter_temperature,
            seed=self.spec.seed,
            on_attempt=self._audit_refusals,
            delegations=self.delegations,
        )
        return Monitor(
            planner,
            self.executor,
            self.gate,
            reviewer=self.review,
            max_revisions=ts.max_replans,
            on_plan=lambda p: self.ledger.record(self.run_id, p.decision),
        )

    def _audit_refusals(self, task_id: str, attempt: Any, problems: Sequence[Any]) -> None:
        """A planned call the permissions refuse is audited as a refused call (stage=plan)."""
        for p in problems:
            if p.kind == "permission":
                self.audit.append(
                    "delegation" if p.policy == "delegation" else "tool_call",
                    p.role or self.default_role,
                    "refused",
                    tool=p.tool,
                    args=p.args,
                    policy=p.policy,
                    detail=f"stage=plan; step={p.step}; plan={task_id}; {p.message}",
                )


async def arun_goals(
    crew: Crew,
    *,
    db: str | Path = DEFAULT_PATH,
    backend: str | None = None,
    pool: PoolKind | AgentPool = "local",
    address: str | None = None,
    confirm: Confirm | None = None,
    only: Sequence[str] | None = None,
    on_goal: Callable[[GoalResult], None] | None = None,
    ledger: Ledger | None = None,
) -> AgentRunResult:
    """Plan and run each goal of `crew` (or those in `only`), in order."""
    spec = crew.spec
    tools_spec = check_tools(crew)
    goals = [g for g in spec.goals if only is None or g.id in only]
    if only is not None and not goals:
        raise ConfigError(
            f"no goal named {', '.join(only)}",
            hint=f"known goals: {', '.join(g.id for g in spec.goals)}",
        )
    toolset = create_toolset(tools_spec.toolset, **tools_spec.options)
    check_tools(crew, toolset)
    agents = (
        crew.build_pool(pool, backend=backend, address=address) if isinstance(pool, str) else pool
    )
    ledger = ledger or Ledger(db)
    tiers = sorted({backend or spec.models[r.model].backend for r in spec.roles})
    meta = {"source": crew.source, "backend": ",".join(tiers), "policy": "plan"}
    try:
        with ledger.run(
            spec.name, **meta, seed=spec.seed, config=spec.model_dump(mode="json")
        ) as log:
            result = AgentRunResult(log.id, spec.name, ledger.path)
            wiring = GoalRun(crew, agents, ledger, log.id, confirm=confirm, toolset=toolset)
            try:
                for goal in goals:
                    role = goal.role or wiring.default_role
                    outcome = await wiring.monitor(role).run_goal(goal, role)
                    wiring.audit.append(
                        "goal",
                        role,
                        outcome.status,
                        policy="monitor",
                        detail=f"goal={goal.id}; {len(outcome.steps)} step(s); "
                        f"{outcome.revisions} revision(s)",
                    )
                    wiring.audit.flush()
                    result.goals.append(outcome)
                    if on_goal:
                        on_goal(outcome)
            finally:
                wiring.audit.flush()  # before the run's end is written
    finally:
        if isinstance(pool, str):
            agents.close()
    return result


def run_goals(crew: Crew, **options: Any) -> AgentRunResult:
    """Synchronous form of `arun_goals`."""
    return asyncio.run(arun_goals(crew, **options))
