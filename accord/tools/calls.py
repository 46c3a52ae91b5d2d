"""The records of a tool call as it passes the guards: request, approval, outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from accord.tools.base import Tool

Decision = Literal["allowed", "refused", "needs_approval", "deduplicated", "failed"]


@dataclass(frozen=True, slots=True)
class Approval:
    """The answer to an approval request: who decided, and under which rule."""

    approved: bool
    by: str
    policy: str
    reason: str = ""
    human: bool = False  # confirmed by an operator (a crew's `require_human` needs this)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One call of one tool by one role, arguments already checked against the schema.

    `role` makes the call and its grants govern it; `delegate`, when set, is a role the crew
    file lets `role` delegate this tool to (`tools.delegations`): the delegate's grants apply.
    """

    role: str
    tool: Tool
    args: dict[str, Any]
    run_id: str = ""
    stage: str = "run"
    step: str | None = None
    approval: Approval | None = None
    delegate: str | None = None

    @property
    def grantee(self) -> str:
        """The role whose grants this call is checked against."""
        return self.delegate or self.role

    @property
    def env(self) -> dict[str, Any]:
        """What constraints on this call can read: the arguments, by name."""
        return dict(self.args)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What became of a call: the decision, the rule that made it, the result or reason."""

    request: CallRequest
    decision: Decision
    policy: str
    reason: str = ""
    result: Any = None
    key: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the call produced a result (run now, or an earlier identical write)."""
        return self.decision in ("allowed", "deduplicated")

    def note(self, text: str) -> CallOutcome:
        """This outcome with one more note (a guard that let it pass, say)."""
        return replace(self, notes=(*self.notes, text))


class Caller(Protocol):
    """Anything that turns a call request into an outcome; the guards wrap one another."""

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Decide and (when allowed) make the call."""
        ...


def invoke(request: CallRequest) -> CallOutcome:
    """The innermost caller: run the tool function; a raised error is a failed call."""
    from accord.tools.base import ToolFailure

    try:
        result = request.tool(**request.args)
    except ToolFailure as exc:
        return CallOutcome(request, "failed", "tool", str(exc))
    except Exception as exc:  # a bug in a tool is still an audited, failed call
        return CallOutcome(request, "failed", "tool", f"{type(exc).__name__}: {exc}")
    return CallOutcome(request, "allowed", "tool", result=result)
