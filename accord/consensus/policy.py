"""Policies and budgets as data: what a crew file or Python code says about spending."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from accord.consensus.grouping import ConsensusSpec, default_mode
from accord.errors import ConfigError

PolicyKind = Literal["single", "vote", "adaptive"]
OnInvalid = Literal["escalate", "retry", "both"]


class BudgetSpec(BaseModel):
    """Limits on what a decision or a run may spend; None means no limit.

    A decision that reaches a limit stops drawing attempts and returns the best answer so far,
    marked with `stop_reason` `budget:<limit>`. A run that reaches a limit ends the decisions in
    flight the same way and skips the tasks not yet started. Money is priced from the models'
    `price` (USD per million tokens); models without one cost nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens_per_decision: int | None = Field(default=None, ge=0)
    usd_per_decision: float | None = Field(default=None, ge=0)
    seconds_per_decision: float | None = Field(default=None, gt=0)
    tokens_per_run: int | None = Field(default=None, ge=0)
    seconds_per_run: float | None = Field(default=None, ge=0)
    usd_per_run: float | None = Field(default=None, ge=0)


class PolicySpec(BaseModel):
    """How a decision is made.

    `single`: one answer from the primary role. `vote`: a majority of `k` voter answers.
    `adaptive`: the primary answers; it is accepted when valid and its confidence reaches
    `threshold`, otherwise voters are asked until the stopping rule ends the vote.

    `on_invalid` says what a validator failure of the primary answer triggers: `escalate` (the
    vote), `retry` (ask the primary again up to `retries` times with the rejection reason in
    the prompt; an answer still invalid is unresolved) or `both` (retry, then vote).

    `batch` > 1 asks one agent for that many voter samples in one call (the llama backend
    evaluates the prompt once for all of them); the stopping rule is checked between batches,
    so a batch may draw samples a one-at-a-time vote would have stopped before.

    `weighted` makes the vote's winner the answer with the most summed confidence (ties by
    count) instead of the most votes; `settled` then weighs the lead in summed confidence
    (each vote still to come may add up to 1), the Beta and window rules still count votes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PolicyKind = "adaptive"
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    k: int = Field(default=5, ge=1, le=64)
    stopping: str = "settled"
    confidence: str = "auto"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    voter_temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    voters: list[str] | None = None
    on_invalid: OnInvalid = "escalate"
    retries: int = Field(default=1, ge=0, le=5)
    batch: int = Field(default=1, ge=1, le=16)
    weighted: bool = False
    # which answers agree: exact | final | semantic | judge (None: by the task's answer type)
    consensus: ConsensusSpec | None = None

    @field_validator("consensus", mode="before")
    @classmethod
    def _mode_name(cls, value: object) -> object:
        return {"mode": value} if isinstance(value, str) else value

    def consensus_for(self, answer_type: str) -> ConsensusSpec:
        """The consensus a task of `answer_type` gets: the policy's, else the type's default
        (`semantic` for free text, `exact` otherwise)."""
        return self.consensus or ConsensusSpec(mode=default_mode(answer_type))

    @field_validator("stopping", "confidence")
    @classmethod
    def _name_exists(cls, name: str, info: ValidationInfo) -> str:
        from accord.consensus.confidence import build_estimator
        from accord.consensus.stopping import stopping_rules

        try:  # confidence may combine estimators: "min:option_prob,verbalised"
            if info.field_name == "stopping":
                stopping_rules.get(name)
            else:
                build_estimator(name)
        except ConfigError as exc:  # as a pydantic error, so it gets a file position
            raise PydanticCustomError(
                "unknown_name", "{message}", {"message": exc.message, "hint": exc.hint}
            ) from None
        return name

    @property
    def label(self) -> str:
        """Short name for tables and the ledger: single, vote@5, adaptive@0.6."""
        if self.kind == "vote":
            return f"vote@{self.k}"
        if self.kind == "adaptive":
            return f"adaptive@{self.threshold:g}"
        return "single"
