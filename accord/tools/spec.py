"""What a crew file says about tools: grants per role, pre-approvals, limits. `extra="forbid"`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accord.errors import ConfigError
from accord.tools.constraints import Constraint

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s\s*$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_constraints(values: list[str]) -> list[str]:
    for text in values:
        try:
            Constraint.parse(text)
        except ConfigError as exc:
            raise ValueError(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None
    return values


class GrantSpec(_Spec):
    """One tool a role may call, with optional argument limits and an approval rule.

    `limits` must hold for the call to be allowed; when they do not, `over_limit` says whether
    the call is refused (`deny`, the default) or sent for approval. `requires_approval`
    defaults to true for irreversible tools.
    """

    tool: str
    limits: list[str] = Field(default_factory=list)
    over_limit: Literal["deny", "approval"] = "deny"
    requires_approval: bool | None = None

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: list[str]) -> list[str]:
        return _check_constraints(value)


class PreApprovalSpec(_Spec):
    """A call the crew file approves in advance (so non-interactive runs may make it)."""

    tool: str
    role: str | None = None
    when: list[str] = Field(default_factory=list)
    reviewed_by: str | None = Field(
        default=None, description="a role that must also approve each call (an agent review)"
    )
    min_confidence: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description="the reviewer's approval counts only at this confidence or above",
    )

    @field_validator("when")
    @classmethod
    def _when(cls, value: list[str]) -> list[str]:
        return _check_constraints(value)


class LimitSpec(_Spec):
    """A governance limit for a tool and/or role (`*` = any): calls per run, or a rate."""

    tool: str = "*"
    role: str = "*"
    per_run: int | None = Field(default=None, ge=0, description="quota: calls per run")
    total: dict[str, float] | None = Field(
        default=None, description="quota on the sum of an argument per run, e.g. {amount: 2000}"
    )
    rate: str | None = Field(default=None, description="calls per window, e.g. `5/1s`")

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None and not _RATE.match(value):
            raise ValueError("write a rate as CALLS/SECONDSs, e.g. `5/1s`")
        return value

    @model_validator(mode="after")
    def _something(self) -> LimitSpec:
        if self.per_run is None and self.total is None and self.rate is None:
            raise ValueError("a limit needs `per_run`, `total` or `rate`")
        return self

    @property
    def rate_pair(self) -> tuple[int, float] | None:
        """(calls, seconds) of `rate`, or None."""
        found = _RATE.match(self.rate or "")
        return (int(found[1]), float(found[2])) if found else None


class DelegationSpec(_Spec):
    """`role` may have plan steps run `tools` as `to`, under `to`'s grants (audited as such).

    Without a delegation, a step runs under the grants of the role executing the goal: a plan
    cannot choose whose permissions apply.
    """

    role: str = Field(description="the delegating role (the one executing the goal)")
    to: str = Field(description="the role whose grants the delegated calls use")
    tools: list[str] = Field(min_length=1, description="the tools that may be delegated")


def _grant(value: Any) -> Any:
    return {"tool": value} if isinstance(value, str) else value


class ToolsSpec(_Spec):
    """The tools section of a crew file."""

    toolset: str = Field(description="a registered toolset, e.g. `shop`")
    options: dict[str, Any] = Field(default_factory=dict)
    grants: dict[str, list[GrantSpec]] = Field(default_factory=dict)
    approvals: list[PreApprovalSpec] = Field(default_factory=list)
    limits: list[LimitSpec] = Field(default_factory=list)
    delegations: list[DelegationSpec] = Field(default_factory=list)
    require_human: list[Literal["write", "irreversible"]] = Field(
        default_factory=list,
        description="effects whose calls an operator must confirm, whatever else approves them",
    )
    executor: str | None = Field(default=None, description="the role that runs plan steps")
    planners: list[str] = Field(default_factory=list)
    max_replans: int = Field(default=2, ge=0, le=10)
    vote_k: int = Field(default=3, ge=1, le=15)

    @field_validator("grants", mode="before")
    @classmethod
    def _short_grants(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {role: [_grant(g) for g in (grants or [])] for role, grants in value.items()}
        return value


class GoalSpec(_Spec):
    """A goal for the planner: what to achieve, and which role executes the plan."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    goal: str = Field(min_length=1)
    role: str | None = None
