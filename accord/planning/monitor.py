"""Execution monitoring: steps run in dependency order, each result is checked against its
expected outcome, and a failed or surprising step triggers reflection and a bounded replan of
the remaining steps. Calls needing approval are reviewed and approved (or not) on the way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from accord.planning.fence import fence
from accord.planning.plan import Plan, PlanStep
from accord.planning.planner import Planner, PlanningResult, PlanRequest
from accord.planning.validator import DoneStep
from accord.tools.approval import ApprovalGate, Review
from accord.tools.base import canonical
from accord.tools.calls import CallOutcome, CallRequest
from accord.tools.constraints import parse_all
from accord.tools.executor import ToolExecutor
from accord.tools.spec import GoalSpec

StepStatus = Literal["done", "deduplicated", "failed", "refused", "surprise", "denied", "skipped"]
GoalStatus = Literal["completed", "failed", "denied", "no_plan"]
Reviewer = Callable[[str, CallRequest, str], Awaitable[Review]]


@dataclass(frozen=True)
class StepRun:
    """What happened to one step."""

    step: PlanStep
    role: str
    status: StepStatus
    result: Any = None
    reason: str = ""
    approval: str = ""


@dataclass
class GoalResult:
    """A goal's outcome: its status, every step run, every planning decision."""

    goal_id: str
    goal: str
    status: GoalStatus = "failed"
    steps: list[StepRun] = field(default_factory=list)
    plans: list[PlanningResult] = field(default_factory=list)
    revisions: int = 0

    @property
    def replans(self) -> int:
        """Plans asked for again after the validator rejected one (before any vote)."""
        return sum(
            sum(1 for a in p.decision.attempts if a.kind == "primary") - 1 for p in self.plans
        )


def dependency_order(plan: Plan) -> list[PlanStep]:
    """Steps in an order that respects depends_on, otherwise keeping the plan's order."""
    ids = {s.id for s in plan.steps}
    placed: set[str] = set()
    out: list[PlanStep] = []
    while len(out) < len(plan.steps):
        ready = [
            s
            for s in plan.steps
            if s.id not in placed and all(d in placed or d not in ids for d in s.depends_on)
        ]
        if not ready:  # a cycle: the validator rejects these; keep the rest in plan order
            ready = [s for s in plan.steps if s.id not in placed][:1]
        out.append(ready[0])
        placed.add(ready[0].id)
    return out


class Monitor:
    """Runs plans for goals, watching each step, and replans the rest when one goes wrong."""

    def __init__(
        self,
        planner: Planner,
        executor: ToolExecutor,
        gate: ApprovalGate,
        *,
        reviewer: Reviewer | None = None,
        max_revisions: int = 2,
        on_plan: Callable[[PlanningResult], None] | None = None,
    ) -> None:
        self.planner = planner
        self.executor = executor
        self.gate = gate
        self.reviewer = reviewer
        self.max_revisions = max_revisions
        self.on_plan = on_plan
        self.audit = executor.audit

    async def _plan(self, req: PlanRequest, result: GoalResult) -> Plan | None:
        planning = await self.planner.plan(req)
        result.plans.append(planning)
        if self.on_plan:
            self.on_plan(planning)
        decision = planning.decision
        self.audit.append(
            "plan",
            self.planner.planners[0],
            decision.status,
            result=decision.answer or None,
            policy=decision.policy,
            detail=f"goal={req.goal_id}; {req.header}; path={decision.path}; "
            f"{decision.stop_reason}; {len(decision.attempts)} attempt(s)",
        )
        return planning.plan

    async def run_goal(self, goal: GoalSpec, role: str) -> GoalResult:
        """Plan `goal`, run it step by step, and replan what remains when a step fails."""
        result = GoalResult(goal.id, goal.goal)
        plan = await self._plan(PlanRequest(goal.id, goal.goal, role), result)
        if plan is None:
            result.status = "no_plan"
            return result
        done: dict[str, DoneStep] = {}
        remaining = dependency_order(plan)
        while remaining:
            step = remaining.pop(0)
            run = await self._run_step(step, role, done)
            result.steps.append(run)
            if run.status in ("done", "deduplicated"):
                done[step.id] = DoneStep(step.id, step.tool, dict(step.args), run.result)
                continue
            if run.status == "denied":  # a human (or the rules) said no: do not work around it
                result.status = "denied"
                return result
            if result.revisions >= self.max_revisions:
                result.status = "failed"
                return result
            result.revisions += 1
            reflection = (  # the arguments and the reason (a tool's message) are data
                f"Step {step.id} ({step.tool}) {run.status}:\n"
                f"{fence(f'arguments: {canonical(step.args)}', f'reason: {run.reason}')}\n"
                "Plan only the remaining steps toward the goal."
            )
            self.audit.append(
                "replan",
                "monitor",
                "revise",
                tool=step.tool,
                args=step.args,
                detail=f"goal={goal.id}; revision {result.revisions}; {reflection}",
            )
            plan = await self._plan(
                PlanRequest(
                    goal.id,
                    goal.goal,
                    role,
                    header=f"REVISE {result.revisions}",
                    feedback=reflection,
                    done=done,
                ),
                result,
            )
            if plan is None:
                result.status = "failed"
                return result
            remaining = dependency_order(plan)
        result.status = "completed"
        return result

    def _blocked(self, step: PlanStep, done: dict[str, DoneStep]) -> str:
        missing = [d for d in step.depends_on if d not in done]
        if missing:
            return f"dependency {', '.join(missing)} did not complete"
        if step.tool not in self.executor.tools:
            return ""
        tool = self.executor.tools.get(step.tool)
        env: dict[str, Any] = dict(step.args)
        for d in done.values():
            if d.tool in tool.requires and all(
                d.args.get(k) == v for k, v in step.args.items() if k in d.args
            ):
                env[d.tool] = d.result
        broken = [c.explain(env) for c in parse_all(tool.checks) if c.check(env) is False]
        return "precondition failed at run time: " + "; ".join(broken) if broken else ""

    async def _run_step(
        self, step: PlanStep, default_role: str, done: dict[str, DoneStep]
    ) -> StepRun:
        # the role executing the goal makes every call: a step's `role` is only a request to
        # delegate, which the executor refuses unless the crew file declares it
        role = default_role
        delegate = step.role if step.role and step.role != role else None
        blocked = self._blocked(step, done)
        if blocked:
            status: StepStatus = "skipped" if blocked.startswith("dependency") else "failed"
            self.audit.append(
                "step",
                role,
                status,
                tool=step.tool,
                args=step.args,
                policy="monitor",
                detail=f"step={step.id}; {blocked}",
            )
            return StepRun(step, role, status, reason=blocked)
        outcome = self.executor.call(role, step.tool, step.args, step=step.id, delegate=delegate)
        approval = ""
        if outcome.decision == "needs_approval":
            outcome, approval = await self._approve(step, role, outcome)
            if outcome.decision == "refused" and outcome.policy != "deny-by-default":
                return StepRun(step, role, "denied", reason=outcome.reason, approval=approval)
        return self._judge(step, role, outcome, approval)

    async def _approve(
        self, step: PlanStep, role: str, outcome: CallOutcome
    ) -> tuple[CallOutcome, str]:
        request = outcome.request
        review = None
        reviewer = self.gate.reviewer_for(request)
        if reviewer is not None and self.reviewer is not None:
            review = await self.reviewer(reviewer, request, outcome.reason)
            self.audit.append(
                "review",
                reviewer,
                "approve" if review.approved else "reject",
                tool=step.tool,
                args=request.args,
                policy="review",
                detail=f"step={step.id}; {review.reason}",
            )
        approval = self.gate.decide(request, outcome.reason, review)
        self.audit.append(
            "approval",
            approval.by,
            "approved" if approval.approved else "denied",
            tool=step.tool,
            args=request.args,
            policy=approval.policy,
            detail=f"step={step.id}; sent for approval: {outcome.reason}; {approval.reason}",
        )
        if approval.approved and approval.by == "crew file":
            text = f"pre-approved in the crew file [{approval.policy}] ({outcome.reason})"
        else:
            text = (
                f"sent for approval ({outcome.reason}); "
                f"{'approved' if approval.approved else 'denied'} by {approval.by}"
                f" [{approval.policy}]"
            )
        again = self.executor.call(
            role,
            step.tool,
            step.args,
            step=step.id,
            approval=approval,
            delegate=request.delegate,
        )
        return again, text

    @staticmethod
    def _judge(step: PlanStep, role: str, outcome: CallOutcome, approval: str) -> StepRun:
        if outcome.decision in ("refused", "failed"):
            return StepRun(step, role, outcome.decision, reason=outcome.reason, approval=approval)
        result = outcome.result
        env = result if isinstance(result, dict) else {"result": result}
        missed = [c.explain(env) for c in parse_all(step.expect) if not c.check(env)]
        if missed:
            return StepRun(
                step, role, "surprise", result, "unexpected result: " + "; ".join(missed), approval
            )
        status: StepStatus = "deduplicated" if outcome.decision == "deduplicated" else "done"
        return StepRun(step, role, status, result, outcome.reason, approval)
