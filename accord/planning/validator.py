"""The plan validator: tool schemas, permissions and declared preconditions, before anything runs.

Preconditions come from the tools: `requires` (a refund needs the order looked up and the
policy checked first, on the same order) and `checks` (the amount cannot exceed what was paid).
A check that reads another tool's result is decided from completed steps or, when given a
`probe`, by running that read-only tool now; otherwise it is left to the execution monitor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from accord.crews.loader import find_cycle
from accord.planning.plan import Plan, PlanStep
from accord.tools.base import Tool, ToolSet, explain_validation
from accord.tools.constraints import parse_all
from accord.tools.delegation import Delegations
from accord.tools.permissions import Permissions

ProblemKind = Literal["structure", "unknown_tool", "schema", "permission", "precondition"]
Probe = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a plan is invalid, at which step."""

    kind: ProblemKind
    step: str | None
    message: str
    role: str | None = None
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    policy: str = ""

    def __str__(self) -> str:
        where = f"step {self.step!r}: " if self.step else ""
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class DoneStep:
    """A step that already ran (for replanning the rest): its call and result."""

    id: str
    tool: str
    args: dict[str, Any]
    result: Any


class PlanValidator:
    """Checks plans against the tool registry, the permissions and tool preconditions.

    Steps are checked as `default_role` (the role executing the goal) would make them: a step
    naming another `role` is valid only under a delegation the crew file declares.
    """

    def __init__(
        self,
        tools: ToolSet,
        permissions: Permissions,
        *,
        default_role: str,
        probe: Probe | None = None,
        delegations: Delegations | None = None,
    ) -> None:
        self.tools = tools
        self.permissions = permissions
        self.default_role = default_role
        self.probe = probe
        self.delegations = delegations or Delegations()

    def validate(self, plan: Plan, done: Mapping[str, DoneStep] | None = None) -> list[Problem]:
        """Every problem found in `plan` (empty when it is valid)."""
        done = done or {}
        problems = self._structure(plan, done)
        if problems:
            return problems
        for step in plan.steps:
            problems += self._step(plan, step, done)
        return problems

    def _structure(self, plan: Plan, done: Mapping[str, DoneStep]) -> list[Problem]:
        problems: list[Problem] = []
        seen: set[str] = set()
        for step in plan.steps:
            if step.id in seen or step.id in done:
                problems.append(Problem("structure", step.id, f"duplicate step id {step.id!r}"))
            seen.add(step.id)
        for step in plan.steps:
            for dep in step.depends_on:
                if dep not in seen and dep not in done:
                    problems.append(
                        Problem("structure", step.id, f"depends on unknown step {dep!r}")
                    )
        cycle = find_cycle({s.id: s.depends_on for s in plan.steps})
        if cycle:
            problems.append(
                Problem("structure", cycle[0], f"dependency cycle: {' -> '.join(cycle)}")
            )
        return problems

    def _step(self, plan: Plan, step: PlanStep, done: Mapping[str, DoneStep]) -> list[Problem]:
        role = self.default_role
        if step.tool not in self.tools:
            return [
                Problem(
                    "unknown_tool",
                    step.id,
                    f"unknown tool {step.tool!r} (known: {', '.join(self.tools)})",
                    role,
                    step.tool,
                    step.args,
                )
            ]
        tool = self.tools.get(step.tool)
        try:
            args = tool.validate(step.args)
        except ValidationError as exc:
            return [
                Problem(
                    "schema",
                    step.id,
                    f"{step.tool}: {explain_validation(exc)}",
                    role,
                    step.tool,
                    step.args,
                )
            ]
        for text in step.expect:
            try:
                parse_all([text])
            except Exception as exc:  # a ConfigError naming the bad constraint
                return [Problem("schema", step.id, f"expect: {exc}", role, step.tool, args)]
        grantee = step.role or role
        if grantee != role and self.delegations.rule(role, grantee, tool.name) is None:
            reason = self.delegations.refusal(role, grantee, tool.name)
            return [Problem("permission", step.id, reason, role, step.tool, args, "delegation")]
        permit = self.permissions.check(grantee, tool, args)
        if permit.verdict == "deny":
            return [
                Problem("permission", step.id, permit.reason, role, step.tool, args, permit.policy)
            ]
        return self._preconditions(plan, step, tool, args, done)

    def _preconditions(
        self,
        plan: Plan,
        step: PlanStep,
        tool: Tool,
        args: dict[str, Any],
        done: Mapping[str, DoneStep],
    ) -> list[Problem]:
        problems: list[Problem] = []
        before = _ancestors(plan, step.id)
        env: dict[str, Any] = dict(args)
        for needed in tool.requires:
            found = self._find(plan, before, done, needed, args)
            if found is None:
                shared = _shared_args(self.tools, needed, args)
                problems.append(
                    Problem(
                        "precondition",
                        step.id,
                        f"{tool.name} needs {needed}({_show(shared)}) to run first "
                        f"(add it and list it in depends_on)",
                        self.default_role,
                        tool.name,
                        args,
                    )
                )
                continue
            result = self._result_of(found, done)
            if result is not None:
                env[needed] = result
        for check in parse_all(tool.checks):
            verdict = check.check(env)
            if verdict is False:
                problems.append(
                    Problem(
                        "precondition",
                        step.id,
                        f"{tool.name}: {check.explain(env)}",
                        self.default_role,
                        tool.name,
                        args,
                    )
                )
        return problems

    def _find(
        self,
        plan: Plan,
        before: set[str],
        done: Mapping[str, DoneStep],
        needed: str,
        args: dict[str, Any],
    ) -> PlanStep | DoneStep | None:
        shared = _shared_args(self.tools, needed, args)
        for d in done.values():
            if d.tool == needed and all(d.args.get(k) == v for k, v in shared.items()):
                return d
        for step in plan.steps:
            if (
                step.id in before
                and step.tool == needed
                and all(step.args.get(k) == v for k, v in shared.items())
            ):
                return step
        return None

    def _result_of(self, found: PlanStep | DoneStep, done: Mapping[str, DoneStep]) -> Any:
        if isinstance(found, DoneStep):
            return found.result
        tool = self.tools.get(found.tool)
        if self.probe is None or tool.effect != "read":
            return None
        return self.probe(found.tool, dict(found.args))


def _ancestors(plan: Plan, step_id: str) -> set[str]:
    deps = {s.id: s.depends_on for s in plan.steps}
    out: set[str] = set()
    todo = list(deps.get(step_id, []))
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(deps.get(dep, []))
    return out


def _shared_args(tools: ToolSet, needed: str, args: dict[str, Any]) -> dict[str, Any]:
    fields = tools.get(needed).args_model.model_fields if needed in tools else {}
    return {k: v for k, v in args.items() if k in fields}


def _show(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())
