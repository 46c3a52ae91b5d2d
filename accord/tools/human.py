"""Calls a crew requires a human for: they run only once an operator has confirmed them."""

from __future__ import annotations

from collections.abc import Collection

from accord.tools.calls import Caller, CallOutcome, CallRequest

POLICY = "tools.require_human"


class HumanRequired:
    """Wraps a caller: a call of a listed effect (`write`, `irreversible`) needs an operator.

    Pre-approvals and agent reviews do not stand in for the operator here; the gate asks one
    (an interactive run) or denies.
    """

    def __init__(self, inner: Caller, effects: Collection[str]) -> None:
        self.inner = inner
        self.effects = frozenset(effects)

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Hold the call for an operator, refuse one approved by anyone else, else call."""
        effect = request.tool.effect
        if effect not in self.effects:
            return self.inner(request)
        approval = request.approval
        if approval is None:
            return CallOutcome(
                request, "needs_approval", POLICY, f"the crew requires a human for {effect} calls"
            )
        if not (approval.approved and approval.human):
            why = approval.reason if not approval.approved else "not confirmed by an operator"
            return CallOutcome(
                request, "refused", POLICY, f"approval denied by {approval.by}: {why}"
            )
        return self.inner(request).note(f"confirmed by an operator ({POLICY})")
