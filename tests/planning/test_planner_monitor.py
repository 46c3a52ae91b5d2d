"""Planning as a decision (replan with reasons, then a planner vote) and execution monitoring
(failed or surprising steps replanned, bounded; approvals), on scripted planners in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.models.base import CompletionRequest
from accord.planning.monitor import Monitor
from accord.planning.planner import Planner
from accord.planning.validator import PlanValidator
from accord.roles.pool import AgentSpec, LocalPool
from accord.roles.prompt import RoleProfile
from accord.tools.approval import ApprovalGate
from accord.tools.executor import MemoryAudit, ToolExecutor
from accord.tools.permissions import Permissions
from accord.tools.spec import GoalSpec, GrantSpec, PreApprovalSpec
from accord.tools.toolsets import create_toolset

GRANTS = {
    "support": [
        GrantSpec(tool="lookup_order"),
        GrantSpec(tool="check_policy"),
        GrantSpec(tool="issue_refund", limits=["amount <= 500"], over_limit="approval"),
        GrantSpec(tool="issue_store_credit"),
    ]
}


def plan(*items: dict) -> str:
    return json.dumps({"steps": list(items)})


def refund_plan(order: str = "A100", amount: float = 120, expect_eligible: bool = True) -> str:
    policy = {"id": "s2", "tool": "check_policy", "args": {"order_id": order}, "depends_on": ["s1"]}
    if expect_eligible:
        policy["expect"] = ["eligible == true"]
    return plan(
        {"id": "s1", "tool": "lookup_order", "args": {"order_id": order}},
        policy,
        {
            "id": "s3",
            "tool": "issue_refund",
            "args": {"order_id": order, "amount": amount},
            "depends_on": ["s1", "s2"],
        },
    )


UNAUTHORISED = plan(
    {"id": "s1", "tool": "adjust_payment", "args": {"order_id": "A100", "delta": 1}}
)


class Script:
    """A scripted planner: a reply per (header, seed), recording every prompt it saw."""

    def __init__(self, reply: Callable[[str, int], str]) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, request: CompletionRequest) -> str:
        prompt = request.messages[-1].content
        self.prompts.append(prompt)
        return self.reply(prompt.splitlines()[0], request.seed or 0)


def build(tmp_path: Path, script: Script, *, approvals=(), max_replans: int = 2):  # type: ignore[no-untyped-def]
    shop = create_toolset("shop", db=str(tmp_path / "shop.duckdb"), reset=True)
    perms = Permissions(GRANTS)
    pool = LocalPool(
        [AgentSpec(RoleProfile("planner"), "scripted", {"script": script}, replicas=3)]
    )
    audit = MemoryAudit()
    executor = ToolExecutor(shop, perms, audit=audit, run_id="t")
    validator = PlanValidator(
        shop, perms, default_role="support", probe=lambda t, a: shop.get(t)(**a)
    )
    planner = Planner(
        pool,
        ["planner"],
        shop,
        validator,
        roles_tools={"support": perms.tools_of("support")},
        max_replans=max_replans,
        vote_k=3,
    )
    gate = ApprovalGate([PreApprovalSpec(tool="issue_refund", when=["amount <= 500"]), *approvals])
    return Monitor(planner, executor, gate, max_revisions=max_replans), audit


def goal(text: str = "refund A100") -> GoalSpec:
    return GoalSpec(id="g", goal=text)


def test_valid_first_plan_is_a_single_decision(tmp_path: Path) -> None:
    script = Script(lambda header, seed: refund_plan())
    monitor, _ = build(tmp_path, script)
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    decision = result.plans[0].decision
    assert (decision.path, decision.status, len(decision.attempts)) == ("single", "accepted", 1)
    assert result.status == "completed"
    assert [s.status for s in result.steps] == ["done", "done", "done"]
    assert '"name":"issue_refund"' in script.prompts[0]  # tool schemas are in the prompt


def test_rejected_plan_is_replanned_with_the_validators_reasons(tmp_path: Path) -> None:
    script = Script(
        lambda header, seed: UNAUTHORISED if header.startswith("PLAN [") else refund_plan()
    )
    monitor, _ = build(tmp_path, script)
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    decision = result.plans[0].decision
    assert decision.path == "escalated" and decision.status == "accepted"
    assert [a.verdict.ok for a in decision.attempts] == [False, True]
    assert decision.attempts[0].confidence == 0.0  # an invalid plan is a low-confidence answer
    assert "has no grant for tool 'adjust_payment'" in script.prompts[1]
    assert result.status == "completed"


def test_replanning_that_does_not_converge_escalates_to_a_planner_vote(tmp_path: Path) -> None:
    def reply(header: str, seed: int) -> str:
        if "VOTE" not in header:
            return UNAUTHORISED
        return refund_plan() if seed % 3 != 1 else refund_plan(amount=60)

    monitor, _ = build(tmp_path, Script(reply))
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    decision = result.plans[0].decision
    assert decision.task_id == "g.plan-vote" and decision.path == "escalated"
    kinds = [a.kind for a in decision.attempts]
    assert kinds == ["primary"] * 3 + ["voter"] * 3
    assert decision.confidence == pytest.approx(2 / 3)
    assert json.loads(decision.answer)["steps"][2]["args"]["amount"] == 120


def test_no_valid_plan_at_all_is_unresolved_and_nothing_runs(tmp_path: Path) -> None:
    monitor, audit = build(tmp_path, Script(lambda header, seed: "I cannot plan."))
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    assert result.status == "no_plan" and result.steps == []
    assert result.plans[0].decision.status == "unresolved"
    assert not [e for e in audit.events if e["kind"] == "tool_call" and "stage=run" in e["detail"]]


def test_failed_step_triggers_a_bounded_replan_of_the_remaining_steps(tmp_path: Path) -> None:
    revised = plan(
        {
            "id": "s4",
            "tool": "issue_store_credit",
            "args": {"order_id": "A102", "amount": 45},
            "depends_on": ["s1"],
        }
    )
    script = Script(
        lambda header, seed: revised if header.startswith("REVISE 1") else refund_plan("A102", 45)
    )
    monitor, audit = build(tmp_path, script)
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    assert [(s.step.id, s.status) for s in result.steps] == [
        ("s1", "done"),
        ("s2", "done"),
        ("s3", "failed"),
        ("s4", "done"),
    ]
    assert result.status == "completed" and result.revisions == 1
    assert "expired" in script.prompts[-1] and "Completed steps" in script.prompts[-1]
    assert any(e["kind"] == "replan" for e in audit.events)


def test_surprising_result_triggers_a_replan(tmp_path: Path) -> None:
    calls = {"n": 0}

    def reply(header: str, seed: int) -> str:
        calls["n"] += 1
        if header.startswith("REVISE"):
            return plan({"id": "s9", "tool": "lookup_order", "args": {"order_id": "A101"}})
        return plan(
            {
                "id": "s1",
                "tool": "lookup_order",
                "args": {"order_id": "A100"},
                "expect": ["status == 'cancelled'"],
            }
        )

    monitor, _ = build(tmp_path, Script(reply))
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    assert [s.status for s in result.steps] == ["surprise", "done"]
    assert "status == 'cancelled'" in result.steps[0].reason


def test_replanning_is_bounded(tmp_path: Path) -> None:
    script = Script(
        lambda header, seed: (
            refund_plan("A102", 45)
            if header.startswith("PLAN [")
            else plan(
                {"id": f"r{len(header)}", "tool": "lookup_order", "args": {"order_id": "A999"}}
            )
        )
    )
    monitor, _ = build(tmp_path, script, max_replans=1)
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    assert result.status == "failed" and result.revisions == 1
    assert [s.status for s in result.steps][-1] == "failed"


def test_approval_denied_stops_the_goal_without_working_around_it(tmp_path: Path) -> None:
    monitor, audit = build(tmp_path, Script(lambda header, seed: refund_plan("A104", 1500)))
    result = asyncio.run(monitor.run_goal(goal(), "support"))
    assert result.status == "denied" and result.revisions == 0
    assert result.steps[-1].status == "denied"
    assert "sent for approval" in result.steps[-1].approval
    approvals = [e for e in audit.events if e["kind"] == "approval"]
    assert [e["decision"] for e in approvals] == ["denied"]


def test_duplicate_refund_in_a_second_goal_is_deduplicated(tmp_path: Path) -> None:
    monitor, _ = build(tmp_path, Script(lambda header, seed: refund_plan()))
    first = asyncio.run(monitor.run_goal(goal(), "support"))
    second = asyncio.run(monitor.run_goal(goal(), "support"))
    assert first.steps[-1].status == "done"
    assert second.steps[-1].status == "deduplicated"
    assert second.steps[-1].result["refund_id"] == first.steps[-1].result["refund_id"]
