"""Approval of calls that need it: pre-approved in the crew file, confirmed by an operator,
or denied. An agent's review (a role such as a finance approver) can be required as well."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accord.tools.calls import Approval, CallRequest
from accord.tools.constraints import failing, parse_all
from accord.tools.spec import PreApprovalSpec

Confirm = Callable[[CallRequest, str], bool]


@dataclass(frozen=True, slots=True)
class Review:
    """An agent's recommendation on an approval request."""

    approved: bool
    by: str
    reason: str = ""


class ApprovalGate:
    """Decides approval requests; without a matching pre-approval or an operator, denies."""

    def __init__(
        self, approvals: Sequence[PreApprovalSpec] = (), *, confirm: Confirm | None = None
    ) -> None:
        self.rules = list(approvals)
        self._when = [parse_all(rule.when) for rule in self.rules]
        self.confirm = confirm

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
        for i in self._matching(request):
            rule = self.rules[i]
            if rule.reviewed_by is None:
                return Approval(True, "crew file", f"approvals[{i}]")
            if review is not None and review.by == rule.reviewed_by:
                return Approval(True, f"{review.by} review", f"approvals[{i}]", review.reason)
        if self.confirm is not None:
            ok = self.confirm(request, reason)
            return Approval(
                ok, "operator", "interactive", "confirmed" if ok else "declined at the prompt"
            )
        return Approval(
            False,
            "non-interactive run",
            "approvals",
            "not pre-approved in the crew file; run with --interactive to confirm",
        )
