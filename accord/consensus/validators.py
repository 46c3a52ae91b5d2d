"""Validators: hard checks of an answer. A Protocol and a registry by name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from accord.consensus.records import Task, Verdict
from accord.errors import ConfigError
from accord.registry import Registry


class Validator(Protocol):
    """Checks one answer to one task."""

    name: str

    def check(self, task: Task, answer: str) -> Verdict:
        """Whether `answer` is acceptable for `task`, and why not."""
        ...


validators: Registry[Validator] = Registry("validator")


@validators.register("nonempty")
class NonEmpty:
    """The answer is not empty."""

    name = "nonempty"

    def check(self, task: Task, answer: str) -> Verdict:
        """Reject an empty answer."""
        return Verdict(True) if answer.strip() else Verdict(False, "empty answer")


@validators.register("choices")
class AllowedChoices:
    """The answer is one of the task's options (or of `allowed`, when given)."""

    name = "choices"

    def __init__(self, allowed: Sequence[str] | None = None) -> None:
        self.allowed = tuple(allowed) if allowed else None

    def check(self, task: Task, answer: str) -> Verdict:
        """Reject an answer outside the allowed options."""
        allowed = self.allowed or task.choices
        if not allowed or answer in allowed:
            return Verdict(True)
        return Verdict(False, f"{answer!r} is not one of the allowed choices")


@validators.register("regex")
class MatchesRegex:
    """The whole answer matches a regular expression."""

    name = "regex"

    def __init__(self, pattern: str) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"invalid regex {pattern!r}: {exc}") from None

    def check(self, task: Task, answer: str) -> Verdict:
        """Reject an answer the pattern does not fully match."""
        if self.pattern.fullmatch(answer.strip()):
            return Verdict(True)
        return Verdict(False, f"{answer!r} does not match /{self.pattern.pattern}/")


@validators.register("numeric")
class Numeric:
    """The answer is a number, optionally an integer within [min, max]."""

    name = "numeric"

    def __init__(
        self, min: float | None = None, max: float | None = None, integer: bool = False
    ) -> None:
        self.low, self.high, self.integer = min, max, integer

    def check(self, task: Task, answer: str) -> Verdict:
        """Reject a non-number or one out of range."""
        try:
            value = float(answer)
        except ValueError:
            return Verdict(False, f"{answer!r} is not a number")
        if self.integer and not value.is_integer():
            return Verdict(False, f"{answer!r} is not an integer")
        if self.low is not None and value < self.low:
            return Verdict(False, f"{value:g} is below the minimum {self.low:g}")
        if self.high is not None and value > self.high:
            return Verdict(False, f"{value:g} is above the maximum {self.high:g}")
        return Verdict(True)


class AllOf:
    """Passes when every validator passes; the first failure's reason is kept."""

    name = "all"

    def __init__(self, parts: Sequence[Validator]) -> None:
        self.parts = tuple(parts)

    def check(self, task: Task, answer: str) -> Verdict:
        """Run the parts in order and stop at the first failure."""
        for part in self.parts:
            verdict = part.check(task, answer)
            if not verdict.ok:
                return Verdict(False, f"{part.name}: {verdict.reason}")
        return Verdict(True)


ValidatorConfig = str | Mapping[str, object]


def build_validator(config: ValidatorConfig) -> Validator:
    """A validator from `name` or `{name: options}` (options a mapping or one positional)."""
    if isinstance(config, str):
        return validators.create(config)
    if len(config) != 1:
        raise ConfigError(
            "a validator is written as `name` or `{name: options}`",
            hint="e.g. `- regex: '^[0-9]+$'`",
        )
    ((name, options),) = config.items()
    factory = validators.get(name)
    if isinstance(options, Mapping):
        return factory(**options)
    return factory() if options is None else factory(options)


def default_validators(task: Task) -> list[Validator]:
    """The checks every task of its answer type gets."""
    found: list[Validator] = [NonEmpty()]
    if task.answer_type == "number":
        found.append(Numeric())
    if task.choices:
        found.append(AllowedChoices())
    return found
