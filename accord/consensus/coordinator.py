"""The coordinator: one answer, validation and confidence, and a vote only when needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from accord.consensus.attempts import failed_attempt, feedback_task, task_seed
from accord.consensus.confidence import agreement, build_estimator
from accord.consensus.critic import Critic, critic_score, critic_task, same_task
from accord.consensus.grouping import FinalGrouper, Grouping, build_grouper
from accord.consensus.outcomes import StopReason
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.consensus.records import (
    ANSWER_KINDS,
    Attempt,
    Decision,
    Path,
    Status,
    Task,
    Verdict,
    VoteGroup,
)
from accord.consensus.spending import DecisionSpend, RunSpend, affordable
from accord.consensus.stopping import stopping_rules
from accord.consensus.validators import AllOf, Validator, default_validators
from accord.consensus.voting import Tally
from accord.errors import ConfigError
from accord.models.pricing import PriceTable

if TYPE_CHECKING:
    from accord.consensus.pool import AgentPool, Kind

ValidatorsFor = Callable[[Task], Sequence[Validator]]


class Coordinator:
    """Decides tasks with a policy, spending attempts only where they buy accuracy.

    `spend` tracks the run's spending against `budget` (shared by every decision of a run;
    one is made when not given). `prices` prices attempts for the money limits.
    """

    def __init__(
        self,
        pool: AgentPool,
        *,
        policy: PolicySpec | None = None,
        budget: BudgetSpec | None = None,
        primary: str | None = None,
        validators_for: ValidatorsFor | None = None,
        seed: int = 0,
        prices: PriceTable | None = None,
        spend: RunSpend | None = None,
    ) -> None:
        self.pool = pool
        self.policy = policy or PolicySpec()
        self.budget = budget or (spend.budget if spend else BudgetSpec())
        self.primary = primary or pool.roles()[0]
        self.validators_for = validators_for or default_validators
        self.seed = seed
        self.spend = spend or RunSpend(self.budget, prices)

    async def decide(
        self, task: Task, policy: PolicySpec | None = None, *, spent: DecisionSpend | None = None
    ) -> Decision:
        """Make one decision for `task` under `policy` (the coordinator's by default).

        `spent` continues a decision's spending begun elsewhere (a cascade's lower tiers).
        """
        policy = policy or self.policy
        start = time.perf_counter()
        run = _DecisionRun(self, task, policy, spent)
        await run.make()
        return run.decision(policy, (time.perf_counter() - start) * 1000.0)


class _DecisionRun:
    """The mutable state of one decision while it is being made."""

    def __init__(
        self,
        coordinator: Coordinator,
        task: Task,
        policy: PolicySpec,
        spent: DecisionSpend | None = None,
    ) -> None:
        self.c = coordinator
        self.task = task
        self.policy = policy
        self.seed = task_seed(coordinator.seed, task.id)
        self.attempts: list[Attempt] = []
        checks = list(coordinator.validators_for(task))
        self.critics = [v for v in checks if isinstance(v, Critic) and v.role]
        for critic in self.critics:
            if critic.role not in coordinator.pool.roles():
                raise ConfigError(
                    f"critic role {critic.role!r} of task {task.id!r} is not a role of this crew",
                    hint=f"add a role named {critic.role!r} or use one of: "
                    + ", ".join(coordinator.pool.roles()),
                )
        self.validator = AllOf([v for v in checks if not (isinstance(v, Critic) and v.role)])
        self.estimator = build_estimator(policy.confidence)
        self.spent = spent or DecisionSpend(coordinator.spend)
        self.answer = ""
        self.confidence = 0.0
        self.path: Path = "single"
        self.stop_reason = StopReason("other")
        self.tally = Tally(())
        self.consensus = policy.consensus_for(task.answer_type)
        if self.consensus.mode == "judge":
            self._check_judge_role()
        self.grouper = build_grouper(self.consensus, self.judge_same)
        self.grouping = Grouping({}, {})

    async def make(self) -> None:
        """Run the policy: answer, validate, retry or escalate, within the budgets."""
        policy = self.policy
        # the run's budget, or (in a cascade's next tier) the decision's, is already spent
        if (limit := self.spent.exhausted()) is not None:
            self.stop_reason = StopReason.budget(limit)
            return
        if policy.kind == "vote":
            await self.vote([], path="vote")
            return
        first = await self.ask(self.task.role or self.c.primary, "primary", policy.temperature, 0)
        if self._rejected(first) and policy.on_invalid in ("retry", "both"):
            first = await self.retry(first)
        accept = first.verdict.ok and first.confidence >= policy.threshold
        limit = self.spent.exhausted()
        if accept or (policy.kind == "single" and (first.verdict.ok or limit is None)):
            self.finish_single(first, StopReason("confident" if accept else "single"))
        elif limit is not None:  # no valid answer in budget (`single` too: a timed-out call)
            self.finish_single(first, StopReason.budget(limit))
        elif not first.verdict.ok and policy.on_invalid == "retry":
            self.finish_single(first, StopReason("invalid"))
        else:
            await self.vote([first] if first.verdict.ok else [], path="escalated")

    @staticmethod
    def _rejected(attempt: Attempt) -> bool:
        """Invalid by a validator (not a failed call: a retry with feedback cannot fix that)."""
        return not attempt.verdict.ok and attempt.verdict.error is None

    async def retry(self, rejected: Attempt) -> Attempt:
        """Ask the primary again with the rejection reason, up to `retries` times."""
        role = self.task.role or self.c.primary
        for _ in range(self.policy.retries):
            if self.spent.exhausted() is not None:
                break
            task = feedback_task(self.task, rejected)
            rejected = await self.ask(
                role, "retry", self.policy.temperature, len(self.attempts), task=task
            )
            if not self._rejected(rejected):
                break
        return rejected

    def voters(self) -> list[str]:
        known = set(self.c.pool.roles())
        judges = {c.role for c in self.critics}
        names = self.policy.voters or [r for r in self.c.pool.roles() if r not in judges]
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"policy voter {name!r} is not a role of this crew",
                    hint=f"known roles: {', '.join(sorted(known))}",
                )
        return names

    async def _call(
        self, role: str, task: Task, kind: Kind, temperature: float, seed: int
    ) -> Attempt:
        """One attempt from the pool, abandoned at the time budget (TimeoutError)."""
        call = self.c.pool.attempt(
            role,
            task,
            kind=kind,
            temperature=temperature,
            seed=seed,
        )
        left = self.spent.seconds_left()
        if left is None:
            return await call
        return await asyncio.wait_for(call, max(left, 0.0))

    async def ask(
        self, role: str, kind: Kind, temperature: float, index: int, *, task: Task | None = None
    ) -> Attempt:
        """One answer attempt, validated (critic roles included) and given a confidence."""
        seed = self.seed + index
        try:
            raw = await self._call(role, task or self.task, kind, temperature, seed)
        except ConfigError:
            raise
        except Exception as exc:  # a failed attempt is recorded; the decision goes on
            return self._failed(role, kind, temperature, seed, exc)
        return await self._checked(raw)

    async def ask_many(
        self, role: str, kind: Kind, temperature: float, first: int, n: int
    ) -> list[Attempt]:
        """`n` answer attempts from one agent in one call (seeds first .. first+n-1)."""
        batched = getattr(self.c.pool, "attempts", None)
        if n == 1 or batched is None:
            return [await self.ask(role, kind, temperature, first + i) for i in range(n)]
        seeds = [self.seed + first + i for i in range(n)]
        call = batched(role, self.task, kind=kind, temperature=temperature, seeds=seeds)
        left = self.spent.seconds_left()
        try:
            raws = await (call if left is None else asyncio.wait_for(call, max(left, 0.0)))
        except ConfigError:
            raise
        except Exception as exc:
            return [self._failed(role, kind, temperature, seed, exc) for seed in seeds]
        return [await self._checked(raw) for raw in raws]

    def _failed(
        self, role: str, kind: Kind, temperature: float, seed: int, exc: Exception
    ) -> Attempt:
        if isinstance(exc, TimeoutError):
            limit = self.spent.exhausted() or "seconds"
            exc = TimeoutError(f"abandoned at the time budget ({limit})")
        return self._record(failed_attempt(self.task, role, kind, temperature, seed, exc))

    async def _checked(self, raw: Attempt) -> Attempt:
        """`raw` validated (critic roles included), given a confidence, and recorded."""
        seed = raw.seed
        if raw.task_id != self.task.id:
            raw = replace(raw, task_id=self.task.id)
        score, judged = None, []
        self.spent.add(raw)  # spent now: a critic asked next must see this answer's cost
        try:
            verdict = self.validator.check(self.task, raw.answer)
            for critic in self.critics if verdict.ok else ():
                if self.spent.exhausted() is not None:
                    verdict = Verdict(False, "no budget left for the critic")
                    break
                verdict, score, judgement = await self.judge(critic, raw.answer, seed)
                self.spent.add(judgement)
                judged.append(judgement)
                if not verdict.ok:
                    break
            attempt = replace(raw, verdict=verdict, critic_score=score)
            attempt = replace(attempt, confidence=self.estimator.estimate(self.task, attempt))
        except ConfigError:
            raise
        except Exception as exc:  # a broken check: the answer (and its cost) is kept, invalid
            reason = f"validation raised {type(exc).__name__}: {' '.join(str(exc).split())}"
            attempt = replace(raw, verdict=Verdict(False, reason[:500]), critic_score=score)
        self.attempts.append(attempt)  # its cost and the critics' are counted above
        self.attempts.extend(judged)  # after the answer they judge: they cost tokens too
        return attempt

    async def judge(self, critic: Critic, answer: str, seed: int) -> tuple[Verdict, float, Attempt]:
        """A critic role's verdict on `answer`, its P(yes), and the critic's own attempt."""
        role = str(critic.role)
        try:
            raw = await self._call(role, critic_task(self.task, answer), "critic", 0.0, seed)
        except ConfigError:
            raise
        except Exception as exc:  # no verdict from the critic: the answer is not validated
            failed = failed_attempt(self.task, role, "critic", 0.0, seed, exc)
            return Verdict(False, f"critic {role} gave no verdict"), 0.0, failed
        score = critic_score(raw)
        return critic.verdict(score), score, replace(raw, task_id=self.task.id, confidence=score)

    def _record(self, attempt: Attempt) -> Attempt:
        self.attempts.append(attempt)
        self.spent.add(attempt)
        return attempt

    def finish_single(self, attempt: Attempt, reason: StopReason) -> None:
        self.answer, self.confidence = attempt.answer, attempt.confidence
        if self.consensus.mode == "final" and attempt.verdict.ok:
            self.answer = FinalGrouper().final(self.task, attempt.answer)
        keep = attempt.verdict.ok or reason.kind == "budget"
        self.stop_reason = reason if keep else StopReason("invalid")

    def _answers(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kind in ANSWER_KINDS]

    async def _votes(self) -> Tally:
        """The valid answers tallied by group (`exact`: `4`, `4.0`, `four` are one; `semantic`
        and `judge`: answers that mean the same are one), regrouped with every new vote."""
        valid = [a for a in self._answers() if a.verdict.ok]
        self.grouping = await self.grouper.group(self.task, [a.answer for a in valid])
        votes = ((self.grouping.key(a.answer), a.confidence) for a in valid)
        return Tally.of(votes, weighted=self.policy.weighted)

    def _spelling(self, key: str) -> str:
        """The answer that stands for group `key`: its most frequent spelling (`final`: the
        final answer; `semantic`: the member closest to the group's centre)."""
        return self.grouping.shown.get(key, key)

    def _check_judge_role(self) -> None:
        judge = self.consensus.judge
        if judge is None or judge not in self.c.pool.roles():
            raise ConfigError(
                f"consensus judge role {judge!r} of task {self.task.id!r} is not a role of this"
                " crew",
                hint="set consensus: {mode: judge, judge: ROLE} to one of: "
                + ", ".join(self.c.pool.roles()),
            )

    async def judge_same(self, first: str, second: str) -> float:
        """The judge role's P(yes) that `first` and `second` say the same; its call is an
        attempt of kind `judge` (costed like any other; no verdict: 0)."""
        role = str(self.consensus.judge)
        seed = self.seed + len(self.attempts)
        try:
            raw = await self._call(role, same_task(self.task, first, second), "judge", 0.0, seed)
        except ConfigError:
            raise
        except Exception as exc:
            self._record(failed_attempt(self.task, role, "judge", 0.0, seed, exc))
            return 0.0
        score = critic_score(raw)
        self._record(replace(raw, task_id=self.task.id, kind="judge", confidence=score))
        return score

    def _groups(self) -> tuple[VoteGroup, ...]:
        """The vote's groups, leader first: what stood for each, its members and share."""
        members: dict[str, list[str]] = {}
        for a in self._answers():
            if a.verdict.ok and a.answer in self.grouping.keys:
                members.setdefault(self.grouping.key(a.answer), []).append(a.answer)
        total = self.tally.total or 1
        return tuple(
            VoteGroup(self._spelling(key), n, n / total, tuple(sorted(members.get(key, ()))))
            for key, n, _ in self.tally.rows
        )

    def _votes_cap(self, k_max: int) -> int:
        """The most valid votes this vote can still reach: `k_max` less the slots that
        invalid answers took (a stopping rule must not count on votes that cannot come)."""
        return k_max - sum(1 for a in self._answers() if not a.verdict.ok)

    async def vote(self, seeded: list[Attempt], *, path: Path) -> None:
        """Draw voter attempts in parallel until the stopping rule or a budget ends the vote.

        Attempts already in flight when the vote ends are awaited and counted: their compute
        was spent, so they belong in the ledger and in the tally (a time budget abandons them
        at its deadline instead).
        """
        self.path = path
        rule = stopping_rules.create(self.policy.stopping)
        k_max = self.policy.k
        voters = self.voters()
        capacity = sum(self.c.pool.capacity(v) for v in voters)
        pending: dict[asyncio.Future[list[Attempt]], int] = {}  # call -> samples it draws
        launched = 0
        next_index = len(self.attempts)
        reason = None
        if seeded:
            reason = self._rule(rule.done(await self._votes(), self._votes_cap(k_max)))
        while reason is None:
            limit = self.spent.exhausted()
            while limit is None and len(pending) < capacity:
                n = min(self.policy.batch, k_max - len(self._answers()) - sum(pending.values()))
                n = min(n, affordable(self.spent, self._answers(), sum(pending.values())))
                if n <= 0:
                    break
                role = voters[launched % len(voters)]
                temperature = self.policy.voter_temperature
                call = self.ask_many(role, "voter", temperature, next_index, n)
                pending[asyncio.ensure_future(call)] = n
                next_index += n
                launched += 1
            if not pending:
                reason = StopReason.budget(limit) if limit is not None else StopReason.rule("k_max")
                break
            finished, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                del pending[future]
                if future.exception() is not None:  # a ConfigError: stop the vote, then raise
                    await asyncio.gather(*pending, return_exceptions=True)
                    raise future.exception()  # type: ignore[misc]
            if (limit := self.spent.exhausted()) is not None:
                # a crossed budget is the reason, whatever the rule says
                reason = StopReason.budget(limit)
            else:
                reason = self._rule(rule.done(await self._votes(), self._votes_cap(k_max)))
        if pending:
            errors = await asyncio.gather(*pending, return_exceptions=True)
            for error in errors:
                if isinstance(error, BaseException):
                    raise error
        self.tally = await self._votes()
        self.stop_reason = reason
        answers = self._answers()
        if self.tally.leader is not None:
            self.answer = self._spelling(self.tally.leader)
            self.confidence = agreement(self.tally)
            if self.tally.total == 1:  # one vote agrees with itself: keep its own confidence
                self.confidence = min(self.confidence, self.tally.weight(0))
        elif answers:
            self.answer, self.confidence = answers[0].answer, 0.0

    def decision(self, policy: PolicySpec, wall_ms: float) -> Decision:
        answers = self._answers()
        leader = self.tally.leader
        valid = any(
            a.verdict.ok
            and (
                self.grouping.keys.get(a.answer) == leader
                if leader is not None
                else self.answer in (a.answer, FinalGrouper().final(self.task, a.answer))
            )
            for a in answers
        )
        status: Status = "accepted" if valid else "unresolved"
        failures = [a.verdict.error for a in answers if a.verdict.error is not None]
        if not valid and failures and len(failures) == len(answers) and not self.over_budget:
            self.stop_reason = StopReason.failed(failures[-1])
        votes = tuple((self._spelling(a), float(c)) for a, c, _ in self.tally.rows)
        return Decision(
            task_id=self.task.id,
            answer=self.answer,
            confidence=self.confidence,
            path=self.path,
            stop_reason=self.stop_reason,
            status=status,
            policy=policy.label,
            attempts=tuple(self.attempts),
            wall_ms=wall_ms,
            votes=votes,
            groups=self._groups(),
        )

    @property
    def over_budget(self) -> bool:
        return self.stop_reason.kind == "budget"

    @staticmethod
    def _rule(word: str | None) -> StopReason | None:
        """The stopping rule's verdict (None: the vote goes on)."""
        return None if word is None else StopReason.rule(word)
