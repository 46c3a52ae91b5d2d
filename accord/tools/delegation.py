"""Delegation: a role has a tool run under another role's grants only where the crew file says so.

A plan step's `role:` is the planner's text, not an authority: without a matching
`tools.delegations` entry the step runs as the role executing the goal, or is refused when it
names another role. Every delegated call is audited as a delegation.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.tools.calls import Caller, CallOutcome, CallRequest
from accord.tools.spec import DelegationSpec


class Delegations:
    """The delegations a crew file declares: who may have which tools run as whom."""

    def __init__(self, specs: Sequence[DelegationSpec] = ()) -> None:
        self.specs = list(specs)

    def rule(self, role: str, delegate: str, tool: str) -> int | None:
        """The index of the delegation letting `role` run `tool` as `delegate` (None: none)."""
        for i, spec in enumerate(self.specs):
            if spec.role == role and spec.to == delegate and tool in spec.tools:
                return i
        return None

    def of(self, role: str) -> dict[str, list[str]]:
        """The roles `role` may delegate to, each with its delegable tools."""
        out: dict[str, list[str]] = {}
        for spec in self.specs:
            if spec.role == role:
                tools = out.setdefault(spec.to, [])
                tools += [t for t in spec.tools if t not in tools]
        return out

    def refusal(self, role: str, delegate: str, tool: str) -> str:
        """Why `role` may not run `tool` as `delegate`."""
        return (
            f"{role!r} may not run {tool!r} as {delegate!r}: a plan step cannot choose whose "
            f"grants apply (declare it under tools.delegations: "
            f"{{role: {role}, to: {delegate}, tools: [{tool}]}})"
        )


class Delegated:
    """Wraps a caller: a call made as another role passes only under a declared delegation."""

    def __init__(self, inner: Caller, delegations: Delegations) -> None:
        self.inner = inner
        self.delegations = delegations

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Refuse an undeclared delegation; note the rule that allowed a declared one."""
        delegate = request.delegate
        if delegate is None or delegate == request.role:
            return self.inner(request)
        index = self.delegations.rule(request.role, delegate, request.tool.name)
        if index is None:
            reason = self.delegations.refusal(request.role, delegate, request.tool.name)
            return CallOutcome(request, "refused", "delegation", reason)
        note = f"delegated by {request.role} to {delegate} (tools.delegations[{index}])"
        return self.inner(request).note(note)
