"""Plans: steps (tool, args, role, depends_on, expected outcome), read from a planner's text."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accord.tools.base import canonical


class PlanStep(BaseModel):
    """One step: `tool` with `args` as `role` after `depends_on`; `expect` checks the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    role: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    expect: list[str] = Field(
        default_factory=list, description="constraints on the result, e.g. `eligible == true`"
    )

    @field_validator("expect", "depends_on", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Plan(BaseModel):
    """An ordered list of steps toward one goal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[PlanStep] = Field(min_length=1, max_length=32)

    def canonical(self) -> str:
        """Stable JSON text: equal plans (as data) have equal text, so votes can count them."""
        return canonical(self.model_dump(mode="json"))

    def step(self, step_id: str) -> PlanStep:
        """The step called `step_id`."""
        return next(s for s in self.steps if s.id == step_id)


class PlanParseError(ValueError):
    """The planner's reply holds no readable plan."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _first_json(text: str) -> Any:
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                return decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue
    raise PlanParseError("no JSON object in the reply")


def parse_plan(text: str) -> Plan:
    """A Plan from a reply: `{"steps": [...]}` or a bare list of steps, maybe in a code fence."""
    data = _first_json(text)
    if isinstance(data, list):
        data = {"steps": data}
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "plan"
        raise PlanParseError(f"{where}: {error['msg']}") from None
