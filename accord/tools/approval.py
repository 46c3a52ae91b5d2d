"""Approval of calls that need it: pre-approved in the crew file, confirmed by an operator,
or denied. An agent's review (a role such as a finance approver) can be required as well; it
counts only at the rule's `min_confidence` or above, and a crew's `require_human` effects
(say, every irreversible call) need an operator whatever the rules and reviews say."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from accord.tools.calls import Approval, CallRequest
from accord.tools.constraints import failing, parse_all
from accord.tools.spec import PreApprovalSpec

Confirm = Callable[[CallRequest, str], bool]


@dataclass(frozen=True, slots=True)
class Review:
    """An agent's recommendation on an approval request, with the agent's confidence in it."""

    approved: bool
    by: str
    reason: str = ""
    confidence: float = 0.0


class ApprovalGate:
    """Decides approval requests; without a matching pre-approval or an operator, denies."""

    def __init__(
        self,
        approvals: Sequence[PreApprovalSpec] = (),
        *,
        confirm: Confirm | None = None,
        require_human: Collection[str] = (),
    ) -> None:
        self.rules = list(approvals)
        self._when = [parse_all(rule.when) for rule in self.rules]
        self.confirm = confirm
        self.require_human = frozenset(require_human)

    def _matching(self, request: CallRequest) -> list[int]:
        return [
            i
            for i, rule in enumerate(self.rules)
            if rule.tool == request.tool.name
            and rule.role in (None, request.role)
            and not failing(self._when[i], request.env)
        ]

    def reviewer_for(self, request: CallRequest) -> str | None:
        """The role whose review a matching pre-approval asks for (None: no review needed)."""
        for i in self._matching(request):
            return self.rules[i].reviewed_by
        return None

    def decide(self, request: CallRequest, reason: str, review: Review | None = None) -> Approval:
        """Approve or deny `request`, which needs approval because of `reason`."""
        if review is not None and not review.approved:
            return Approval(False, review.by, "review", review.reason or "rejected on review")
        if request.tool.effect in self.require_human:
            return self._operator(
                request,
                reason,
                "tools.require_human",
                f"the crew file requires an operator for {request.tool.effect} calls; "
                "run with --interactive to confirm",
            )
        unsure = ""
        for i in self._matching(request):
            rule = self.rules[i]
            if rule.reviewed_by is None:
                return Approval(True, "crew file", f"approvals[{i}]")
            if review is None or review.by != rule.reviewed_by:
                continue
            if review.confidence >= rule.min_confidence:
                return Approval(True, f"{review.by} review", f"approvals[{i}]", review.reason)
            unsure = (
                f"{review.by} approved at confidence {review.confidence:.2f}, below "
                f"approvals[{i}].min_confidence {rule.min_confidence:g}; "
            )
        return self._operator(
            request,
            reason,
            "approvals",
            f"{unsure}not pre-approved in the crew file; run with --interactive to confirm",
        )

    def _operator(self, request: CallRequest, reason: str, policy: str, why: str) -> Approval:
        """Ask the operator when there is one; otherwise deny, saying why."""
        if self.confirm is not None:
            ok = self.confirm(request, reason)
            return Approval(
                ok,
                "operator",
                "interactive",
                "confirmed" if ok else "declined at the prompt",
                human=ok,
            )
        return Approval(False, "non-interactive run", policy, why)
