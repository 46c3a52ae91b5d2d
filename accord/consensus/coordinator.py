"""The coordinator: one answer, validation and confidence, and a vote only when needed."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from accord.consensus.confidence import agreement, build_estimator
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.consensus.records import Attempt, Decision, Task, Verdict
from accord.consensus.stopping import stopping_rules
from accord.consensus.validators import AllOf, Validator, default_validators
from accord.consensus.voting import Tally
from accord.errors import ConfigError

if TYPE_CHECKING:
    from accord.roles.pool import AgentPool

ValidatorsFor = Callable[[Task], Sequence[Validator]]


FAILED = "attempt failed: "


def failed_attempt(
    task: Task, role: str, kind: str, temperature: float, seed: int, exc: Exception
) -> Attempt:
    """The record of an attempt that raised: no answer, no tokens, the reason as verdict."""
    cause = getattr(exc, "cause", None)  # a Ray task error wraps the actor's exception
    exc = cause if isinstance(cause, Exception) else exc
    reason = f"{FAILED}{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    return Attempt(
        task_id=task.id,
        role=role,
        model="-",
        answer="",
        raw="",
        prompt_tokens=0,
        completion_tokens=0,
        model_ms=0.0,
        seed=seed,
        temperature=temperature,
        kind=kind,
        verdict=Verdict(False, reason),
    )  # type: ignore[arg-type]


def task_seed(base: int, task_id: str) -> int:
    """A stable per-task seed: the same task gets the same seeds in every run."""
    return (base * 1_000_003 + zlib.crc32(task_id.encode())) % (2**31)


class Coordinator:
    """Decides tasks with a policy, spending attempts only where they buy accuracy."""

    def __init__(
        self,
        pool: AgentPool,
        *,
        policy: PolicySpec | None = None,
        budget: BudgetSpec | None = None,
        primary: str | None = None,
        validators_for: ValidatorsFor | None = None,
        seed: int = 0,
    ) -> None:
        self.pool = pool
        self.policy = policy or PolicySpec()
        self.budget = budget or BudgetSpec()
        self.primary = primary or pool.roles()[0]
        self.validators_for = validators_for or default_validators
        self.seed = seed

    async def decide(self, task: Task, policy: PolicySpec | None = None) -> Decision:
        """Make one decision for `task` under `policy` (the coordinator's by default)."""
        policy = policy or self.policy
        start = time.perf_counter()
        run = _DecisionRun(self, task, policy)
        if policy.kind == "vote":
            await run.vote([], path="vote")
        else:
            first = await run.ask(task.role or self.primary, "primary", policy.temperature, 0)
            accept = first.verdict.ok and first.confidence >= policy.threshold
            if policy.kind == "single" or accept:
                run.finish_single(first, "confident" if accept else "single")
            else:
                start_votes = [first] if first.verdict.ok else []
                await run.vote(start_votes, path="escalated")
        return run.decision(policy, (time.perf_counter() - start) * 1000.0)


class _DecisionRun:
    """The mutable state of one decision while it is being made."""

    def __init__(self, coordinator: Coordinator, task: Task, policy: PolicySpec) -> None:
        self.c = coordinator
        self.task = task
        self.policy = policy
        self.seed = task_seed(coordinator.seed, task.id)
        self.attempts: list[Attempt] = []
        self.validator = AllOf(coordinator.validators_for(task))
        self.estimator = build_estimator(policy.confidence)
        self.answer = ""
        self.confidence = 0.0
        self.path = "single"
        self.stop_reason = ""
        self.tally = Tally(())

    def voters(self) -> list[str]:
        names = self.policy.voters or self.c.pool.roles()
        known = set(self.c.pool.roles())
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"policy voter {name!r} is not a role of this crew",
                    hint=f"known roles: {', '.join(sorted(known))}",
                )
        return names

    async def ask(self, role: str, kind: str, temperature: float, index: int) -> Attempt:
        try:
            raw = await self.c.pool.attempt(
                role,
                self.task,
                kind=kind,  # type: ignore[arg-type]
                temperature=temperature,
                seed=self.seed + index,
            )
        except ConfigError:
            raise
        except Exception as exc:  # a failed attempt is recorded; the decision goes on
            failed = failed_attempt(self.task, role, kind, temperature, self.seed + index, exc)
            self.attempts.append(failed)
            return failed
        verdict = self.validator.check(self.task, raw.answer)
        attempt = replace(raw, verdict=verdict, confidence=self.estimator.estimate(self.task, raw))
        self.attempts.append(attempt)
        return attempt

    def finish_single(self, attempt: Attempt, reason: str) -> None:
        self.answer, self.confidence = attempt.answer, attempt.confidence
        self.stop_reason = reason if attempt.verdict.ok else "invalid"

    def over_budget(self) -> bool:
        limit = self.c.budget.tokens_per_decision
        return limit is not None and sum(a.tokens for a in self.attempts) >= limit

    def _votes(self) -> Tally:
        return Tally.of((a.answer, a.confidence) for a in self.attempts if a.verdict.ok)

    async def vote(self, seeded: list[Attempt], *, path: str) -> None:
        """Draw voter attempts in parallel until the stopping rule ends the vote.

        Attempts already in flight when the vote ends are awaited and counted: their compute
        was spent, so they belong in the ledger and in the tally.
        """
        self.path = path
        rule = stopping_rules.create(self.policy.stopping)
        k_max = self.policy.k
        voters = self.voters()
        capacity = sum(self.c.pool.capacity(v) for v in voters)
        pending: set[asyncio.Future[Attempt]] = set()
        launched = 0
        reason = rule.done(self._votes(), k_max) if seeded else None
        while reason is None:
            while (
                len(pending) < capacity
                and len(self.attempts) + len(pending) < k_max
                and not self.over_budget()
            ):
                role = voters[launched % len(voters)]
                index = len(self.attempts) + len(pending)
                pending.add(
                    asyncio.ensure_future(
                        self.ask(role, "voter", self.policy.voter_temperature, index)
                    )
                )
                launched += 1
            if not pending:
                reason = "budget" if self.over_budget() else "k_max"
                break
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            reason = rule.done(self._votes(), k_max)
        if pending:
            await asyncio.gather(*pending)
        self.tally = self._votes()
        self.stop_reason = reason
        if self.tally.leader is not None:
            self.answer, self.confidence = self.tally.leader, agreement(self.tally)
        elif self.attempts:
            self.answer, self.confidence = self.attempts[0].answer, 0.0

    def decision(self, policy: PolicySpec, wall_ms: float) -> Decision:
        valid = any(a.verdict.ok and a.answer == self.answer for a in self.attempts)
        status = "accepted" if valid else "unresolved"
        failures = [a.verdict.reason for a in self.attempts if a.verdict.reason.startswith(FAILED)]
        if not valid and failures and len(failures) == len(self.attempts):
            self.stop_reason = failures[-1]
        votes = tuple((a, float(c)) for a, c, _ in self.tally.rows)
        return Decision(
            task_id=self.task.id,
            answer=self.answer,
            confidence=self.confidence,
            path=self.path,
            stop_reason=self.stop_reason,
            status=status,  # type: ignore[arg-type]
            policy=policy.label,
            attempts=tuple(self.attempts),
            wall_ms=wall_ms,
            votes=votes,
        )
