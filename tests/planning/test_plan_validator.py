"""The plan validator: every kind of rejection, and the plans it accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.planning.plan import PlanParseError, parse_plan
from accord.planning.validator import DoneStep, PlanValidator
from accord.tools.delegation import Delegations
from accord.tools.permissions import Permissions
from accord.tools.spec import DelegationSpec, GrantSpec
from accord.tools.toolsets import create_toolset

GRANTS = {
    "support": [
        GrantSpec(tool="lookup_order"),
        GrantSpec(tool="check_policy"),
        GrantSpec(tool="issue_refund", limits=["amount <= 500"], over_limit="approval"),
        GrantSpec(tool="issue_store_credit", limits=["amount <= 100"]),
    ],
    "finance": [GrantSpec(tool="adjust_payment")],
}


@pytest.fixture
def shop(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_toolset("shop", db=str(tmp_path / "shop.duckdb"), reset=True)


def validator(shop, probe: bool = True) -> PlanValidator:  # type: ignore[no-untyped-def]
    def run(tool: str, args: dict) -> object:
        return shop.get(tool)(**args)

    return PlanValidator(
        shop, Permissions(GRANTS), default_role="support", probe=run if probe else None
    )


def steps(*items: dict) -> str:
    return json.dumps({"steps": list(items)})


LOOKUP = {"id": "s1", "tool": "lookup_order", "args": {"order_id": "A100"}}
POLICY = {"id": "s2", "tool": "check_policy", "args": {"order_id": "A100"}, "depends_on": ["s1"]}


def refund(amount: float = 120, order: str = "A100", deps=("s1", "s2"), **extra: object) -> dict:
    return {
        "id": "s3",
        "tool": "issue_refund",
        "args": {"order_id": order, "amount": amount},
        "depends_on": list(deps),
        **extra,
    }


def problems(shop, text: str, **kw: object) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in validator(shop, **kw).validate(parse_plan(text))]  # type: ignore[arg-type]


def kinds(shop, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.kind for p in validator(shop).validate(parse_plan(text))]


def test_a_correct_plan_is_accepted(shop) -> None:  # type: ignore[no-untyped-def]
    assert problems(shop, steps(LOOKUP, POLICY, refund())) == []


def test_plan_in_a_code_fence_or_as_a_bare_list_is_read() -> None:
    assert len(parse_plan("Sure!\n```json\n" + steps(LOOKUP) + "\n```").steps) == 1
    assert parse_plan(json.dumps([LOOKUP])).steps[0].tool == "lookup_order"


@pytest.mark.parametrize(
    "text", ["no plan here", '{"steps": []}', '{"stpes": [1]}', '{"steps": [{"tool": "x"}]}']
)
def test_unreadable_plans_are_rejected(text: str) -> None:
    with pytest.raises(PlanParseError):
        parse_plan(text)


def test_duplicate_step_ids(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps(LOOKUP, {**POLICY, "id": "s1", "depends_on": []}))
    assert found == ["step 's1': duplicate step id 's1'"]


def test_unknown_dependency(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps(LOOKUP, {**POLICY, "depends_on": ["s9"]}))
    assert found == ["step 's2': depends on unknown step 's9'"]


def test_dependency_cycle(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps({**LOOKUP, "depends_on": ["s2"]}, POLICY))
    assert len(found) == 1 and "cycle" in found[0]


def test_unknown_tool(shop) -> None:  # type: ignore[no-untyped-def]
    assert kinds(shop, steps({"id": "s1", "tool": "wipe_db", "args": {}})) == ["unknown_tool"]


@pytest.mark.parametrize(
    "args",
    [
        {"order_id": "A100", "amount": -5},
        {"order_id": "bad id", "amount": 5},
        {"order_id": "A100"},
        {"order_id": "A100", "amount": 5, "extra": 1},
    ],
)
def test_arguments_that_break_the_tool_schema(shop, args: dict) -> None:  # type: ignore[no-untyped-def]
    plan = steps(LOOKUP, POLICY, {**refund(), "args": args})
    assert kinds(shop, plan) == ["schema"]


def test_tool_the_role_is_not_granted(shop) -> None:  # type: ignore[no-untyped-def]
    plan = steps(
        LOOKUP,
        {
            "id": "s2",
            "tool": "adjust_payment",
            "args": {"order_id": "A100", "delta": -5},
            "depends_on": ["s1"],
        },
    )
    (problem,) = validator(shop).validate(parse_plan(plan))
    assert problem.kind == "permission" and problem.policy == "deny-by-default"
    assert "granted to finance" in problem.message


def test_a_step_role_cannot_pick_whose_grants_apply(shop) -> None:  # type: ignore[no-untyped-def]
    plan = steps(
        {**LOOKUP, "role": "support"},
        {
            "id": "s2",
            "tool": "adjust_payment",
            "role": "finance",
            "args": {"order_id": "A100", "delta": -5},
            "depends_on": ["s1"],
        },
    )
    (problem,) = validator(shop).validate(parse_plan(plan))
    assert (problem.kind, problem.policy, problem.role) == ("permission", "delegation", "support")
    assert "tools.delegations" in problem.message


def test_a_declared_delegation_runs_under_the_delegates_grants(shop) -> None:  # type: ignore[no-untyped-def]
    plan = parse_plan(
        steps(
            LOOKUP,
            {
                "id": "s2",
                "tool": "adjust_payment",
                "role": "finance",
                "args": {"order_id": "A100", "delta": -5},
                "depends_on": ["s1"],
            },
        )
    )
    declared = Delegations([DelegationSpec(role="support", to="finance", tools=["adjust_payment"])])
    checker = PlanValidator(shop, Permissions(GRANTS), default_role="support", delegations=declared)
    assert checker.validate(plan) == []
    other = Delegations([DelegationSpec(role="support", to="finance", tools=["lookup_order"])])
    checker = PlanValidator(shop, Permissions(GRANTS), default_role="support", delegations=other)
    assert [p.policy for p in checker.validate(plan)] == ["delegation"]


def test_argument_limit_with_deny(shop) -> None:  # type: ignore[no-untyped-def]
    plan = steps(
        LOOKUP,
        {
            "id": "s2",
            "tool": "issue_store_credit",
            "args": {"order_id": "A100", "amount": 110},
            "depends_on": ["s1"],
        },
    )
    found = problems(shop, plan)
    assert len(found) == 1 and "amount <= 100" in found[0]


def test_over_limit_with_approval_is_not_a_rejection(shop) -> None:  # type: ignore[no-untyped-def]
    plan = steps(
        {"id": "s1", "tool": "lookup_order", "args": {"order_id": "A103"}},
        {"id": "s2", "tool": "check_policy", "args": {"order_id": "A103"}, "depends_on": ["s1"]},
        refund(800, "A103"),
    )
    assert problems(shop, plan) == []


def test_refund_without_lookup_and_policy_check(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps(refund(deps=())))
    assert len(found) == 2
    assert "needs lookup_order(order_id='A100')" in found[0]
    assert "needs check_policy(order_id='A100')" in found[1]


def test_precondition_steps_must_be_dependencies(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps(LOOKUP, POLICY, refund(deps=["s1"])))
    assert len(found) == 1 and "check_policy" in found[0]


def test_precondition_on_another_order_does_not_count(shop) -> None:  # type: ignore[no-untyped-def]
    other = {"id": "s1", "tool": "lookup_order", "args": {"order_id": "A101"}}
    pol = {"id": "s2", "tool": "check_policy", "args": {"order_id": "A101"}, "depends_on": ["s1"]}
    found = problems(shop, steps(other, pol, refund()))
    assert len(found) == 2 and all("A100" in f for f in found)


def test_amount_over_what_was_paid_is_rejected_using_a_read_probe(shop) -> None:  # type: ignore[no-untyped-def]
    found = problems(shop, steps(LOOKUP, POLICY, refund(130)))
    assert len(found) == 1 and "amount <= lookup_order.paid" in found[0]
    assert "130" in found[0] and "120" in found[0]


def test_without_a_probe_data_checks_wait_for_execution(shop) -> None:  # type: ignore[no-untyped-def]
    assert problems(shop, steps(LOOKUP, POLICY, refund(130)), probe=False) == []


def test_amount_checked_against_completed_steps(shop) -> None:  # type: ignore[no-untyped-def]
    done = {
        "s1": DoneStep("s1", "lookup_order", {"order_id": "A100"}, {"paid": 50.0}),
        "s2": DoneStep("s2", "check_policy", {"order_id": "A100"}, {"eligible": True}),
    }
    plan = parse_plan(steps(refund(80)))
    found = validator(shop, probe=False).validate(plan, done)
    assert [p.kind for p in found] == ["precondition"] and "50" in found[0].message
    assert validator(shop, probe=False).validate(parse_plan(steps(refund(40))), done) == []


def test_ineligible_order_is_rejected(shop) -> None:  # type: ignore[no-untyped-def]
    done = {
        "s1": DoneStep("s1", "lookup_order", {"order_id": "A100"}, {"paid": 120.0}),
        "s2": DoneStep("s2", "check_policy", {"order_id": "A100"}, {"eligible": False}),
    }
    found = validator(shop, probe=False).validate(parse_plan(steps(refund(10))), done)
    assert len(found) == 1 and "eligible" in found[0].message


def test_revised_step_ids_must_not_reuse_completed_ones(shop) -> None:  # type: ignore[no-untyped-def]
    done = {"s1": DoneStep("s1", "lookup_order", {"order_id": "A100"}, {"paid": 120.0})}
    found = validator(shop).validate(parse_plan(steps(LOOKUP)), done)
    assert [p.kind for p in found] == ["structure"]


def test_bad_expectation_is_rejected(shop) -> None:  # type: ignore[no-untyped-def]
    assert kinds(shop, steps({**LOOKUP, "expect": ["status is fine"]})) == ["schema"]
