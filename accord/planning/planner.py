"""The planner: a role turns a goal into a plan; an invalid plan is a low-confidence decision.

The primary planner answers; the validator checks the plan. A rejected plan is asked for again
with the validator's reasons (replanning), up to `max_replans` times; when replanning does not
converge, planners vote (k attempts in parallel, only valid plans count, the majority plan wins).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from accord.consensus.confidence import estimators
from accord.consensus.records import Attempt, Decision, Task, Verdict
from accord.consensus.records import Path as DecisionPath
from accord.consensus.voting import Tally
from accord.planning.fence import OPEN, RULE, fence
from accord.planning.plan import Plan, PlanParseError, parse_plan
from accord.planning.validator import DoneStep, PlanValidator, Problem
from accord.roles.pool import AgentPool
from accord.tools.base import ToolSet, canonical
from accord.tools.delegation import Delegations

OnAttempt = Callable[[str, Attempt, Sequence[Problem]], None]
REPLY_FORMAT = (
    '{"steps": [{"id": "s1", "tool": "TOOL", "args": {...}, "depends_on": [], '
    '"expect": ["field == value"]}]}'
)


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the goal, the executing role, and (when revising) what already happened."""

    goal_id: str
    goal: str
    role: str
    header: str = "PLAN"
    feedback: str = ""
    done: Mapping[str, DoneStep] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanningResult:
    """The chosen plan (None when no valid plan was found) and the decision that chose it."""

    plan: Plan | None
    decision: Decision
    problems: tuple[Problem, ...] = ()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class Planner:
    """Asks planner roles for plans and checks them; replans, then votes."""

    def __init__(
        self,
        pool: AgentPool,
        planners: Sequence[str],
        tools: ToolSet,
        validator: PlanValidator,
        *,
        roles_tools: Mapping[str, list[str]],
        max_replans: int = 2,
        vote_k: int = 3,
        voter_temperature: float = 0.8,
        seed: int = 0,
        max_tokens: int = 320,
        on_attempt: OnAttempt | None = None,
        delegations: Delegations | None = None,
    ) -> None:
        self.pool = pool
        self.planners = list(planners)
        self.tools = tools
        self.validator = validator
        self.roles_tools = roles_tools
        self.max_replans = max_replans
        self.vote_k = vote_k
        self.voter_temperature = voter_temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.on_attempt = on_attempt
        self.delegations = delegations or Delegations()
        self.estimator = estimators.create("auto")

    def prompt(self, req: PlanRequest, header: str, feedback: str) -> str:
        """The planner's prompt: goal, the executing role's tools, schemas, history, format."""
        own = list(self.roles_tools.get(req.role, []))
        delegable = self.delegations.of(req.role)
        granted = sorted({*own, *(t for tools in delegable.values() for t in tools)})
        lines = [
            f"{header} [{req.goal_id}]",
            f"Goal: {req.goal}",
            f"Steps run as {req.role}, which may call: {', '.join(own) or 'no tools'}.",
        ]
        if delegable:
            lines.append(
                'A step may set "role" only to run these tools as that role: '
                + "; ".join(f"{r}: {', '.join(t)}" for r, t in delegable.items())
                + "."
            )
        lines.append("Tools: " + json.dumps(self.tools.schemas(granted), separators=(",", ":")))
        if req.done or OPEN in feedback:  # tool results and failure reasons are fenced data
            lines.append(RULE)
        if req.done:
            lines.append("Completed steps (you may list their ids in depends_on):")
            lines.append(
                fence(
                    *(
                        f"{d.id} {d.tool}({canonical(d.args)}) -> {canonical(d.result)}"
                        for d in req.done.values()
                    )
                )
            )
        if feedback:
            lines.append(feedback)
        lines.append(f"Reply with JSON only: {REPLY_FORMAT}")
        return "\n".join(lines)

    def check(self, raw: str, done: Mapping[str, DoneStep]) -> tuple[Plan | None, list[Problem]]:
        """Parse and validate a reply."""
        try:
            plan = parse_plan(raw)
        except PlanParseError as exc:
            return None, [Problem("structure", None, f"unreadable plan: {exc}")]
        return plan, self.validator.validate(plan, done)

    async def _ask(
        self,
        role: str,
        task: Task,
        kind: str,
        temperature: float,
        seed: int,
        done: Mapping[str, DoneStep],
    ) -> tuple[Attempt, Plan | None, list[Problem]]:
        raw = await self.pool.attempt(
            role,
            task,
            kind=kind,  # type: ignore[arg-type]
            temperature=temperature,
            seed=seed,
        )
        plan, problems = self.check(raw.raw, done)
        ok = plan is not None and not problems
        verdict = Verdict(ok, "; ".join(map(str, problems[:4])))
        attempt = replace(
            raw,
            answer=plan.canonical() if plan else "",
            verdict=verdict,
            confidence=self.estimator.estimate(task, raw) if ok else 0.0,
        )
        if self.on_attempt:
            self.on_attempt(task.id, attempt, problems)
        return attempt, plan, problems

    def _task(self, req: PlanRequest, header: str, feedback: str) -> Task:
        return Task(
            id=f"{req.goal_id}.{_slug(header)}",
            prompt=self.prompt(req, header, feedback),
            max_tokens=self.max_tokens,
            role=self.planners[0],
        )

    async def plan(self, req: PlanRequest) -> PlanningResult:
        """Plan, replan with the validator's reasons, and vote when replanning fails."""
        start = time.perf_counter()
        attempts: list[Attempt] = []
        feedback = req.feedback
        problems: list[Problem] = []
        for round_ in range(self.max_replans + 1):
            header = req.header if round_ == 0 else f"{req.header} RETRY {round_}"
            task = self._task(req, header, feedback)
            attempt, plan, problems = await self._ask(
                self.planners[0], task, "primary", 0.0, self.seed + round_, req.done
            )
            attempts.append(attempt)
            if plan is not None and not problems:
                path: DecisionPath = "single" if round_ == 0 else "escalated"
                return PlanningResult(
                    plan,
                    self._decision(
                        task,
                        attempts,
                        plan.canonical(),
                        attempt.confidence,
                        path,
                        "valid" if round_ == 0 else f"valid after {round_} replan(s)",
                        start,
                    ),
                )
            feedback = (
                "Your previous plan was rejected: "
                + "; ".join(map(str, problems))
                + ". Fix these problems."
            )
        return await self._vote(req, feedback, attempts, problems, start)

    async def _vote(
        self,
        req: PlanRequest,
        feedback: str,
        attempts: list[Attempt],
        problems: list[Problem],
        start: float,
    ) -> PlanningResult:
        task = self._task(req, f"{req.header} VOTE", feedback)
        asks = [
            self._ask(
                self.planners[i % len(self.planners)],
                task,
                "voter",
                self.voter_temperature,
                self.seed + 100 + i,
                req.done,
            )
            for i in range(self.vote_k)
        ]
        votes = await asyncio.gather(*asks)
        attempts.extend(a for a, _, _ in votes)
        plans = {p.canonical(): p for a, p, probs in votes if p is not None and not probs}
        tally = Tally.of((a.answer, 1.0) for a, _, _ in votes if a.verdict.ok)
        if tally.leader is None:
            last = tuple(votes[-1][2]) or tuple(problems)
            return PlanningResult(
                None,
                self._decision(task, attempts, "", 0.0, "escalated", "no valid plan", start),
                last,
            )
        return PlanningResult(
            plans[tally.leader],
            self._decision(task, attempts, tally.leader, tally.share, "escalated", "vote", start),
        )

    def _decision(
        self,
        task: Task,
        attempts: list[Attempt],
        answer: str,
        confidence: float,
        path: DecisionPath,
        reason: str,
        start: float,
    ) -> Decision:
        status = "accepted" if answer else "unresolved"
        return Decision(
            task_id=task.id,
            answer=answer,
            confidence=confidence,
            path=path,
            stop_reason=reason,
            status=status,  # type: ignore[arg-type]
            policy=f"plan:replan@{self.max_replans}+vote@{self.vote_k}",
            attempts=tuple(attempts),
            wall_ms=(time.perf_counter() - start) * 1e3,
        )
