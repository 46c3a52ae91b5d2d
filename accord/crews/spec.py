"""Crew specs: what a crew file (or Python code) declares. Pydantic, `extra="forbid"`."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accord.consensus.grouping import ConsensusSpec
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.crews.scoring import MatchSpec
from accord.memory.spec import MemorySpec
from accord.tools.spec import GoalSpec, ToolsSpec

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Spec):
    """A model tier: which backend runs it and with what options."""

    backend: str = "llama"
    model: str | None = Field(default=None, description="a known model name or a GGUF path")
    options: dict[str, Any] = Field(default_factory=dict)


class PriceSpec(_Spec):
    """What a model costs, in USD per million tokens (for the ledger and money budgets).

    `cached_prompt_usd_per_mtok`: the price of prompt tokens the server read from its prompt
    cache (default: the prompt price)."""

    prompt_usd_per_mtok: float = Field(default=0.0, ge=0)
    completion_usd_per_mtok: float = Field(default=0.0, ge=0)
    cached_prompt_usd_per_mtok: float | None = Field(default=None, ge=0)


class RoleSpec(_Spec):
    """A role: who it is, which model tier it uses, how many replicas vote in parallel."""

    name: str = Field(pattern=NAME_PATTERN)
    goal: str = ""
    instructions: str = ""
    model: str = "default"
    replicas: int = Field(default=1, ge=1, le=64)


def _label(value: object) -> object:
    """A number label as text (`42`, `0.5`); booleans and the rest are left to validation."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class TaskSpec(_Spec):
    """A task: a question for the crew, how to read its answer, and what it depends on."""

    id: str = Field(pattern=NAME_PATTERN)
    question: str = Field(min_length=1)
    # text: a short answer (the reply's first line); free: the whole reply (a report, a
    # CrewAI task's output); number; choice (one of `choices`)
    answer_type: Literal["text", "number", "choice", "free"] | None = None
    choices: list[str] = Field(default_factory=list)
    role: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    policy: PolicySpec | None = None
    # which answers agree in a vote on this task (overrides the policy's `consensus`)
    consensus: ConsensusSpec | None = None
    validators: list[str | dict[str, Any]] = Field(default_factory=list)
    expected: list[str] = Field(default_factory=list)
    # how an answer is scored against `expected` (exact | contains | regex | numeric | ...)
    match: MatchSpec | None = None
    max_tokens: int = Field(default=32, ge=1, le=4096)
    output_file: str | None = Field(
        default=None,
        description="write the answer to this file after `accord run` (a relative path, "
        "under --out DIR or the working directory; CrewAI's output_file)",
    )

    @field_validator("output_file")
    @classmethod
    def _relative_inside(cls, value: str | None) -> str | None:
        if value is not None and (PurePath(value).is_absolute() or ".." in PurePath(value).parts):
            raise ValueError("must be a relative path that stays inside its folder (no '..')")
        return value

    @field_validator("consensus", mode="before")
    @classmethod
    def _mode_name(cls, value: object) -> object:
        return {"mode": value} if isinstance(value, str) else value

    @field_validator("expected", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        """One value or a list; numbers may be written unquoted (`expected: 42`)."""
        values = [value] if isinstance(value, str | int | float) else value
        if isinstance(values, list):
            return [_label(v) for v in values]
        return values

    @field_validator("match", mode="before")
    @classmethod
    def _match_mode(cls, value: object) -> object:
        return {"mode": value} if isinstance(value, str) else value

    @property
    def kind(self) -> Literal["text", "number", "choice", "free"]:
        """The answer type, inferred from `choices` when not given."""
        return self.answer_type or ("choice" if self.choices else "text")


class CascadeSpec(_Spec):
    """Model tiers to climb while a decision stays unsure (FrugalGPT-style).

    Tier 1 is the roles on their own models; each listed tier runs the same roles on that
    model. A decision climbs while it is unresolved or its confidence is below `climb_below`
    (the policy's threshold when not given); every tier's attempts are in its cost.
    """

    tiers: list[str] = Field(min_length=1, description="model tier names from `models:`")
    climb_below: float | None = Field(default=None, ge=0.0, le=1.0)


class SourceSpec(_Spec):
    """Tasks read from a labelled file (BIG-bench JSON or JSONL)."""

    path: str
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)
    prefix: str | None = Field(default=None, pattern=NAME_PATTERN)
    role: str | None = None
    policy: PolicySpec | None = None
    answer_type: Literal["text", "number", "choice"] | None = None
    max_tokens: int = Field(default=16, ge=1, le=4096)


class LedgerSpec(_Spec):
    """What the ledger keeps of a run beyond its costs and answers."""

    store_prompts: bool = Field(
        default=True, description="keep the messages each attempt sent (attempts.prompt)"
    )


class AllowSpec(_Spec):
    """Explicit opt-ins for what a crew file may not do by default (see README, Security)."""

    files_outside_crew_dir: bool = Field(
        default=False,
        description="`sources:` and `code_tests` tests_file may name files outside the folder "
        "of the crew file (symbolic links included)",
    )
    api_key_over_http: bool = Field(
        default=False,
        description="an openai backend may send its API key to a base_url that is neither "
        "https nor a loopback address",
    )


class CrewSpec(_Spec):
    """A whole crew: models, roles, tasks (inline and from sources), policy and budget."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    seed: int = 0
    models: dict[str, ModelSpec] = Field(default_factory=lambda: {"default": ModelSpec()})
    roles: list[RoleSpec] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(default_factory=list)
    sources: list[SourceSpec] = Field(default_factory=list)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    prices: dict[str, PriceSpec] = Field(
        default_factory=dict, description="prices by the model name the ledger records"
    )
    concurrency: int = Field(default=4, ge=1, le=1024)
    tools: ToolsSpec | None = Field(default=None, description="tools, grants, limits")
    goals: list[GoalSpec] = Field(default_factory=list, description="goals to plan for")
    memory: MemorySpec | None = None
    cascade: CascadeSpec | None = None
    allow: AllowSpec = Field(default_factory=AllowSpec)
    ledger: LedgerSpec = Field(default_factory=LedgerSpec)
