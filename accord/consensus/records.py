"""Internal records of a decision: the task as asked, attempts, verdicts and the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from accord.consensus.outcomes import StopReason, of

AnswerType = Literal["text", "number", "choice", "free"]
Path = Literal["single", "escalated", "vote"]
Status = Literal["accepted", "unresolved"]
# primary: the first answer; retry: the primary again, told why its answer was rejected;
# voter: a vote sample; critic: a critic role judging another attempt's answer; judge: a role
# asked whether two answers mean the same (the `judge` consensus mode).
AttemptKind = Literal["primary", "voter", "retry", "critic", "judge"]
ANSWER_KINDS = frozenset({"primary", "voter", "retry"})


@dataclass(frozen=True, slots=True)
class Task:
    """One question as a role sees it: the prompt after context, and how to read the answer."""

    id: str
    prompt: str
    answer_type: AnswerType = "text"
    choices: tuple[str, ...] = ()
    max_tokens: int = 32
    role: str | None = None
    expected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """A validator's judgement of one answer."""

    ok: bool
    reason: str = ""
    # the attempt raised (`Type: message`) and gave no answer: a retry cannot fix that
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One answer from one role, with what it cost and the signals for confidence."""

    task_id: str
    role: str
    model: str
    answer: str
    raw: str
    prompt_tokens: int
    completion_tokens: int
    model_ms: float
    seed: int
    temperature: float
    kind: AttemptKind = "primary"
    option_prob: float | None = None
    mean_logprob: float | None = None
    min_logprob: float | None = None
    confidence: float = 0.0
    verdict: Verdict = field(default_factory=lambda: Verdict(True))
    critic_score: float | None = None
    # of prompt_tokens, how many the model did not evaluate again (a cached prompt state)
    cached_prompt_tokens: int = 0
    # the chat messages sent to the model, as (role, content) pairs (the ledger's `prompt`)
    messages: tuple[tuple[str, str], ...] = ()

    @property
    def evaluated_tokens(self) -> int:
        """Tokens the model actually processed: the uncached prompt plus the completion."""
        return self.tokens - self.cached_prompt_tokens

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class VoteGroup:
    """One group of a vote: the answer that stands for it, its votes, share and members."""

    answer: str
    votes: int
    share: float
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one task: the answer, how it was reached, and every attempt it took."""

    task_id: str
    answer: str
    confidence: float
    path: Path
    stop_reason: str  # the ledger's text; a StopReason when the coordinator decided
    status: Status
    policy: str
    attempts: tuple[Attempt, ...]
    wall_ms: float
    votes: tuple[tuple[str, float], ...] = ()
    groups: tuple[VoteGroup, ...] = ()

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens summed over attempts."""
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens summed over attempts."""
        return sum(a.completion_tokens for a in self.attempts)

    @property
    def tokens(self) -> int:
        """All tokens summed over attempts."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def model_ms(self) -> float:
        """Model time summed over attempts."""
        return sum(a.model_ms for a in self.attempts)

    @property
    def escalated(self) -> bool:
        """Whether more than the primary attempt was needed."""
        return self.path != "single"

    @property
    def over_budget(self) -> bool:
        """Whether a budget ended this decision (or a cascade tier of it) early: its answer is
        the best found so far."""
        return self.stop.over_budget

    @property
    def stop(self) -> StopReason:
        """Why the decision stopped, typed (text from outside the coordinator: `other`)."""
        return of(self.stop_reason)
