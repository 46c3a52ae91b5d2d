"""Where a role's tools come from: a toolset, Python functions, the sandbox, MCP servers.

A crew file gives a role `tools:`, a list whose entries are one of

    - shop                                  # a registered toolset (all of its tools)
    - {toolset: shop, only: [lookup_order]} # ... or some of them
    - mypkg.tools:search                    # a typed Python function by import path
    - {python: mypkg.tools:refund, effect: write}
    - {sandbox: {timeout_s: 10}}            # run_python: code executed in the sandbox
    - {mcp: {command: [python, -m, srv]}, only: [add]}   # an MCP server over stdio
    - {mcp: {url: "http://127.0.0.1:8000/mcp"}}          # ... or streamable HTTP

`open_tools` turns the entries into one `ToolSet` and keeps what must be closed when the run
ends (MCP server processes and sessions). The Python API takes the same entries, or `Tool`
objects and plain callables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.errors import ConfigError
from accord.tools.base import Effect, Tool, ToolSet, make_tool


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class McpServerSpec(_Spec):
    """An MCP server: a command started over stdio, or the URL of a streamable-HTTP server."""

    command: list[str] | None = Field(default=None, min_length=1)
    env: dict[str, str] = Field(default_factory=dict, description="extra environment (stdio)")
    cwd: str | None = Field(default=None, description="working directory (stdio)")
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers (url)")
    effect: Effect = Field(
        default="write",
        description="the effect of its tools unless the server marks one read-only",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="start-up and per-call timeout")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs exactly one of `command` (stdio) or `url`")
        return self


class SandboxToolSpec(_Spec):
    """The sandbox as a code-execution tool: the model sends a Python program, gets its output."""

    name: str = "run_python"
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    memory_mb: int = Field(default=256, ge=16, le=16384)


class ToolSourceSpec(_Spec):
    """One entry of a role's `tools:` (exactly one of toolset / python / sandbox / mcp)."""

    toolset: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="toolset options")
    python: str | None = Field(default=None, description="`pkg.mod:function`")
    name: str | None = Field(default=None, description="the tool's name (python)")
    effect: Effect = Field(default="read", description="the tool's effect (python)")
    sandbox: SandboxToolSpec | None = None
    mcp: McpServerSpec | None = None
    only: list[str] | None = Field(default=None, description="keep only these tools")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"python": value} if ":" in value else {"toolset": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ToolSourceSpec:
        given = [k for k in ("toolset", "python", "sandbox", "mcp") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "a tools entry is one of `toolset`, `python`, `sandbox` or `mcp` "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        """Which source this entry is: toolset, python, sandbox or mcp."""
        return next(k for k in ("toolset", "python", "sandbox", "mcp") if getattr(self, k))


class ToolSource(Protocol):
    """An opened source of tools (an MCP session, ...): its tools, and how to close it."""

    def tools(self) -> list[Tool]:
        """The tools the source offers."""
        ...

    def close(self) -> None:
        """Release what the source holds (end the session, stop the server process)."""
        ...


Opener = Callable[[ToolSourceSpec, Path | None], ToolSource]
_OPENERS: dict[str, Opener] = {}
_MODULES = {"mcp": "accord.tools.mcp", "sandbox": "accord.tools.sandbox_tool"}


def register_opener(kind: str, opener: Opener) -> None:
    """Register how entries of `kind` (`mcp`, `sandbox`) are opened (their modules call it)."""
    _OPENERS[kind] = opener


def _filtered(tools: Sequence[Tool], only: list[str] | None, where: str) -> list[Tool]:
    if only is None:
        return list(tools)
    known = {t.name: t for t in tools}
    missing = [n for n in only if n not in known]
    if missing:
        raise ConfigError(
            f"{where} has no tool {missing[0]!r}",
            hint=f"its tools are: {', '.join(sorted(known)) or 'none'}",
        )
    return [known[n] for n in only]


def _python_tool(spec: ToolSourceSpec) -> Tool:
    from accord.consensus.checks import import_object

    assert spec.python is not None
    found = import_object(spec.python, "tool")
    if isinstance(found, Tool):
        return found
    if not callable(found):
        raise ConfigError(f"tool {spec.python!r} is not a function", hint="name a function")
    return make_tool(found, name=spec.name, effect=spec.effect)


def _opener(kind: str) -> Opener:
    if kind not in _OPENERS:  # the modules register themselves on import
        import importlib

        importlib.import_module(_MODULES[kind])
    return _OPENERS[kind]


ToolLike = ToolSourceSpec | Tool | Callable[..., Any] | str | dict[str, Any]


@contextlib.contextmanager
def open_tools(entries: Sequence[ToolLike], *, base_dir: Path | None = None) -> Iterator[ToolSet]:
    """One ToolSet from `entries`; sources opened here (MCP servers) close when the block ends.

    Two tools of one name are an error naming both sources.
    """
    from accord.tools.toolsets import create_toolset

    found = ToolSet()
    origin: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for entry in entries:
            if isinstance(entry, Tool):
                tools, where = [entry], f"tool {entry.name!r}"
            elif callable(entry) and not isinstance(entry, str | dict):
                tools, where = [make_tool(entry)], f"function {getattr(entry, '__name__', entry)}"
            else:
                spec = (
                    entry
                    if isinstance(entry, ToolSourceSpec)
                    else ToolSourceSpec.model_validate(entry)
                )
                where = f"{spec.kind} {spec.toolset or spec.python or ''}".strip()
                if spec.toolset:
                    toolset = create_toolset(spec.toolset, **spec.options)
                    tools = [toolset.get(n) for n in toolset]
                    if toolset.keys is not None:
                        found.keys = toolset.keys
                elif spec.python:
                    tools = [_python_tool(spec)]
                else:
                    source = _opener(spec.kind)(spec, base_dir)
                    stack.callback(source.close)
                    tools = source.tools()
                tools = _filtered(tools, spec.only, where)
            for tool in tools:
                if tool.name in origin:
                    raise ConfigError(
                        f"two tools are called {tool.name!r} ({origin[tool.name]} and {where})",
                        hint="drop one, or keep some of a source's tools with `only:`",
                    )
                origin[tool.name] = where
                found.add(tool)
        yield found
