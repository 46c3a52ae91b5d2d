"""Permissions: deny by default, argument limits, over-limit approval, approval for irreversible
tools, pre-approvals, operator confirmation, agent review — each through the executor."""

from __future__ import annotations

from accord.tools.approval import ApprovalGate, Review
from accord.tools.base import ToolSet
from accord.tools.executor import MemoryAudit, ToolExecutor
from accord.tools.permissions import Permissions
from accord.tools.spec import GrantSpec, PreApprovalSpec


def tools() -> ToolSet:
    box = ToolSet()
    calls: list[str] = []
    box.calls = calls  # type: ignore[attr-defined]

    @box.tool(effect="read")
    def lookup(order_id: str) -> dict:
        calls.append("lookup")
        return {"order_id": order_id}

    @box.tool(effect="irreversible", idempotency=("order_id", "amount"))
    def refund(order_id: str, amount: float) -> dict:
        calls.append("refund")
        return {"order_id": order_id, "amount": amount}

    @box.tool(effect="write")
    def note(order_id: str, text: str) -> dict:
        calls.append("note")
        return {"ok": True}

    return box


GRANTS = {
    "support": [
        GrantSpec(tool="lookup"),
        GrantSpec(tool="refund", limits=["amount <= 500"], over_limit="approval"),
        GrantSpec(tool="note", limits=["order_id != 'A9'"]),
    ],
    "auditor": [GrantSpec(tool="refund", requires_approval=False)],
}


def executor(**kw: object) -> ToolExecutor:
    return ToolExecutor(tools(), Permissions(GRANTS), audit=MemoryAudit(), **kw)  # type: ignore[arg-type]


def test_deny_by_default_for_unknown_role_and_ungranted_tool() -> None:
    ex = executor()
    stranger = ex.call("stranger", "lookup", {"order_id": "A1"})
    assert stranger.decision == "refused" and stranger.policy == "deny-by-default"
    ungranted = ex.call("auditor", "lookup", {"order_id": "A1"})
    assert ungranted.decision == "refused"
    assert ex.tools.calls == []  # type: ignore[attr-defined]


def test_granted_read_is_allowed_and_runs() -> None:
    ex = executor()
    outcome = ex.call("support", "lookup", {"order_id": "A1"})
    assert outcome.decision == "allowed" and outcome.result == {"order_id": "A1"}


def test_limit_with_deny_refuses_and_names_the_constraint() -> None:
    ex = executor()
    outcome = ex.call("support", "note", {"order_id": "A9", "text": "x"})
    assert outcome.decision == "refused"
    assert "order_id != 'A9'" in outcome.reason
    assert ex.call("support", "note", {"order_id": "A1", "text": "x"}).decision == "allowed"


def test_irreversible_tool_needs_approval_even_within_limits() -> None:
    outcome = executor().call("support", "refund", {"order_id": "A1", "amount": 10})
    assert outcome.decision == "needs_approval"
    assert outcome.policy.endswith("requires_approval")


def test_grant_can_waive_approval_explicitly() -> None:
    assert executor().call("auditor", "refund", {"order_id": "A1", "amount": 10}).ok


def test_over_limit_is_sent_for_approval_not_run() -> None:
    ex = executor()
    outcome = ex.call("support", "refund", {"order_id": "A1", "amount": 800})
    assert outcome.decision == "needs_approval"
    assert "amount <= 500" in outcome.reason
    assert "refund" not in ex.tools.calls  # type: ignore[attr-defined]


def test_non_interactive_denies_what_is_not_pre_approved() -> None:
    ex = executor()
    gate = ApprovalGate([PreApprovalSpec(tool="refund", when=["amount <= 500"])])
    pending = ex.call("support", "refund", {"order_id": "A1", "amount": 800})
    approval = gate.decide(pending.request, pending.reason)
    assert not approval.approved and approval.by == "non-interactive run"
    final = ex.call("support", "refund", {"order_id": "A1", "amount": 800}, approval=approval)
    assert final.decision == "refused"
    assert "refund" not in ex.tools.calls  # type: ignore[attr-defined]


def test_pre_approved_call_runs() -> None:
    ex = executor()
    gate = ApprovalGate([PreApprovalSpec(tool="refund", role="support", when=["amount <= 500"])])
    pending = ex.call("support", "refund", {"order_id": "A1", "amount": 50})
    approval = gate.decide(pending.request, pending.reason)
    assert approval.approved and approval.policy == "approvals[0]"
    assert (
        ex.call("support", "refund", {"order_id": "A1", "amount": 50}, approval=approval).decision
        == "allowed"
    )


def test_pre_approval_for_another_role_does_not_apply() -> None:
    gate = ApprovalGate([PreApprovalSpec(tool="refund", role="auditor")])
    pending = executor().call("support", "refund", {"order_id": "A1", "amount": 50})
    assert not gate.decide(pending.request, pending.reason).approved


def test_interactive_confirmation_decides() -> None:
    asked: list[str] = []

    def confirm(request, reason):  # type: ignore[no-untyped-def]
        asked.append(reason)
        return request.args["amount"] < 1000

    gate = ApprovalGate([], confirm=confirm)
    ex = executor()
    yes = ex.call("support", "refund", {"order_id": "A1", "amount": 800})
    no = ex.call("support", "refund", {"order_id": "A1", "amount": 1200})
    assert gate.decide(yes.request, yes.reason).approved
    assert not gate.decide(no.request, no.reason).approved
    assert len(asked) == 2


def test_review_required_by_pre_approval() -> None:
    gate = ApprovalGate(
        [PreApprovalSpec(tool="refund", when=["amount <= 1000"], reviewed_by="finance")]
    )
    pending = executor().call("support", "refund", {"order_id": "A1", "amount": 800})
    assert gate.reviewer_for(pending.request) == "finance"
    assert not gate.decide(pending.request, pending.reason).approved  # no review yet
    sure, unsure = Review(True, "finance", confidence=0.9), Review(True, "finance", confidence=0.6)
    assert gate.decide(pending.request, pending.reason, sure).approved
    for other in (Review(False, "finance", "", 0.9), Review(True, "someone", "", 0.9)):
        assert not gate.decide(pending.request, pending.reason, other).approved
    low = gate.decide(pending.request, pending.reason, unsure)  # below min_confidence (0.8)
    assert not low.approved and "below approvals[0].min_confidence 0.8" in low.reason


def test_unknown_tool_and_bad_arguments_are_refused_and_audited() -> None:
    ex = executor()
    unknown = ex.call("support", "drop_tables", {})
    bad = ex.call("support", "lookup", {"order": "A1"})
    assert (unknown.decision, unknown.policy) == ("refused", "registry")
    assert (bad.decision, bad.policy) == ("refused", "schema")
    assert [e["decision"] for e in ex.audit.events] == ["refused", "refused"]  # type: ignore[attr-defined]


def test_every_call_is_audited_allowed_or_not() -> None:
    ex = executor()
    ex.call("support", "lookup", {"order_id": "A1"})
    ex.call("stranger", "lookup", {"order_id": "A1"})
    ex.call("support", "refund", {"order_id": "A1", "amount": 900})
    events = ex.audit.events  # type: ignore[attr-defined]
    assert [(e["actor"], e["decision"]) for e in events] == [
        ("support", "allowed"),
        ("stranger", "refused"),
        ("support", "needs_approval"),
    ]
    assert all(e["tool"] for e in events)
