"""Constraints like `amount <= 500` or `amount <= lookup_order.paid`, parsed once, checked often.

The language is deliberately tiny: `NAME OP VALUE`, where NAME is a dotted path into the
arguments (or into earlier results), OP one of `<= < >= > == != in not-in`, and VALUE a literal
(number, quoted string, true/false/null, a [list]) or another dotted path.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accord.errors import ConfigError

_PATTERN = re.compile(
    r"^\s*(?P<left>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>|not in|in)\s*(?P<right>.+?)\s*$"
)
_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$|^[A-Za-z_]\w*$")
_LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Ref:
    """A dotted path to look up at check time."""

    path: str


@dataclass(frozen=True, slots=True)
class Constraint:
    """One parsed constraint; `check` answers True, False, or None when a name is unknown."""

    text: str
    left: str
    op: str
    right: Any

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse `text`; a malformed constraint is a ConfigError naming it."""
        found = _PATTERN.match(text)
        if not found:
            raise ConfigError(
                f"cannot read constraint {text!r}",
                hint="write `NAME OP VALUE`, e.g. `amount <= 500`",
            )
        raw = found["right"]
        right: Any
        if raw in _LITERALS:
            right = _LITERALS[raw]
        elif _NAME.match(raw):
            right = Ref(raw)
        else:
            try:
                right = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                raise ConfigError(
                    f"cannot read the value in constraint {text!r}",
                    hint="quote strings: `status == 'paid'`",
                ) from None
        return cls(text.strip(), found["left"], found["op"], right)

    @property
    def names(self) -> tuple[str, ...]:
        """The dotted names this constraint reads."""
        return (self.left, self.right.path) if isinstance(self.right, Ref) else (self.left,)

    def check(self, env: Mapping[str, Any]) -> bool | None:
        """Whether the constraint holds in `env` (None when a name cannot be resolved)."""
        left = lookup(env, self.left)
        right = lookup(env, self.right.path) if isinstance(self.right, Ref) else self.right
        if left is _MISSING or right is _MISSING:
            return None
        try:
            return bool(_OPS[self.op](left, right))
        except TypeError:
            return False

    def explain(self, env: Mapping[str, Any]) -> str:
        """The constraint with the values it saw, for refusal messages."""
        left = lookup(env, self.left)
        shown = "?" if left is _MISSING else repr(left)
        if isinstance(self.right, Ref):
            right = lookup(env, self.right.path)
            return f"{self.text} (got {shown} vs {'?' if right is _MISSING else repr(right)})"
        return f"{self.text} (got {shown})"


def lookup(env: Mapping[str, Any], path: str) -> Any:
    """`a.b.c` in nested mappings; a sentinel when any part is missing."""
    current: Any = env
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def parse_all(texts: list[str] | tuple[str, ...]) -> tuple[Constraint, ...]:
    """Parse several constraints."""
    return tuple(Constraint.parse(t) for t in texts)


def failing(constraints: tuple[Constraint, ...], env: Mapping[str, Any]) -> list[str]:
    """Explanations of the constraints that do not hold (unknown names count as failing)."""
    return [c.explain(env) for c in constraints if not c.check(env)]
