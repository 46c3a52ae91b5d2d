"""Tools: plain Python functions with typed arguments, declared effects and preconditions."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from accord.canonical import canonical as canonical  # re-exported: tools and planning use it
from accord.canonical import digest
from accord.errors import RunError, UnknownNameError

Effect = Literal["read", "write", "irreversible"]


class ToolFailure(RunError):
    """Raised by a tool function for a domain failure (no such order, card expired, ...)."""


@dataclass(frozen=True)
class Tool:
    """A registered tool: the function, its argument model, effect and declared preconditions.

    `idempotency` names the arguments that identify a write (two calls with the same values are
    the same write); `requires` names tools a plan must call first with the same shared
    arguments; `checks` are constraints over the arguments and the required tools' results,
    e.g. `amount <= lookup_order.paid`.
    """

    name: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    effect: Effect = "read"
    description: str = ""
    idempotency: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments checked by the tool's schema, strictly, as the JSON data a plan holds
        (`true` is not the number 1, `"120"` is not 120); raises pydantic ValidationError."""
        checked = self.args_model.model_validate_json(canonical(dict(args)), strict=True)
        return checked.model_dump(mode="json")

    def schema(self) -> dict[str, Any]:
        """A JSON description of the tool for prompts: name, effect, arguments as JSON Schema."""
        params = self.args_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "name": self.name,
            "description": self.description,
            "effect": self.effect,
            "parameters": params,
        }

    def idempotency_key(self, args: Mapping[str, Any]) -> str | None:
        """The key identifying this write (None for reads): tool name plus the key arguments."""
        if self.effect == "read":
            return None
        names = self.idempotency or tuple(sorted(args))
        return f"{self.name}:" + digest({n: args.get(n) for n in names})[:16]

    def __call__(self, **args: Any) -> Any:
        return self.fn(**args)


def _args_model(name: str, fn: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    model_name = "".join(p.title() for p in name.split("_")) + "Args"
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)


def make_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    effect: Effect = "read",
    idempotency: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    checks: tuple[str, ...] = (),
) -> Tool:
    """A Tool from a typed function (its docstring's first line becomes the description)."""
    name = name or fn.__name__
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return Tool(
        name,
        fn,
        _args_model(name, fn),
        effect,
        doc[0] if doc else "",
        tuple(idempotency),
        tuple(requires),
        tuple(checks),
    )


@dataclass
class ToolSet:
    """Tools by name; the one place a plan or a role looks a tool up."""

    tools: dict[str, Tool] = field(default_factory=dict)
    keys: Any = None  # an idempotency KeyStore the tools' own system provides, if any

    def tool(
        self,
        *,
        effect: Effect = "read",
        idempotency: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        checks: tuple[str, ...] = (),
        name: str | None = None,
    ) -> Callable[[Callable[..., Any]], Tool]:
        """Decorator: register a typed function as a tool."""

        def deco(fn: Callable[..., Any]) -> Tool:
            built = make_tool(
                fn,
                name=name,
                effect=effect,
                idempotency=idempotency,
                requires=requires,
                checks=checks,
            )
            self.add(built)
            return built

        return deco

    def add(self, tool: Tool) -> None:
        """Register `tool` under its name."""
        self.tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        """The tool called `name`; an unknown name lists the known ones."""
        try:
            return self.tools[name]
        except KeyError:
            raise UnknownNameError("tool", name, self.tools) from None

    def schemas(self, names: typing.Iterable[str] | None = None) -> list[dict[str, Any]]:
        """JSON descriptions of the tools (all, or those in `names`), for prompts."""
        wanted = self.tools if names is None else [n for n in names if n in self.tools]
        return [self.tools[n].schema() for n in wanted]

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.tools))


def explain_validation(exc: ValidationError) -> str:
    """A pydantic error as one short line: `amount: input should be a valid number`."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "args"
        parts.append(f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}")
    return "; ".join(parts)
