"""Governance: rate limits and quotas per tool, per role and per run; idempotent writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from accord.tools.base import ToolFailure, ToolSet
from accord.tools.executor import ToolExecutor
from accord.tools.idempotency import DuckDBKeys
from accord.tools.permissions import Permissions
from accord.tools.spec import GrantSpec, LimitSpec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tools() -> ToolSet:
    box = ToolSet()
    box.runs = []  # type: ignore[attr-defined]

    @box.tool(effect="read")
    def ping(n: int = 0) -> int:
        box.runs.append(("ping", n))  # type: ignore[attr-defined]
        return n

    @box.tool(effect="write", idempotency=("order_id",))
    def pay(order_id: str, amount: float) -> dict:
        if amount > 1000:
            raise ToolFailure("too much")
        box.runs.append(("pay", order_id))  # type: ignore[attr-defined]
        return {"paid": amount, "n": len(box.runs)}  # type: ignore[attr-defined]

    return box


ALL = {role: [GrantSpec(tool="ping"), GrantSpec(tool="pay")] for role in ("a", "b")}


def make(limits: list[LimitSpec], **kw: object) -> ToolExecutor:
    return ToolExecutor(tools(), Permissions(ALL), limits=limits, **kw)  # type: ignore[arg-type]


def test_rate_limit_per_tool_refuses_inside_the_window_and_recovers() -> None:
    clock = Clock()
    ex = make([LimitSpec(tool="ping", rate="2/1s")], clock=clock)
    assert [ex.call("a", "ping", {}).decision for _ in range(3)] == [
        "allowed",
        "allowed",
        "refused",
    ]
    assert ex.call("b", "ping", {}).decision == "refused"  # per tool: any role
    clock.now = 1.0
    assert ex.call("a", "ping", {}).decision == "allowed"


def test_rate_limit_per_role_leaves_other_roles_alone() -> None:
    ex = make([LimitSpec(role="a", rate="1/10s")], clock=Clock())
    assert ex.call("a", "ping", {}).ok
    refused = ex.call("a", "pay", {"order_id": "X", "amount": 1})
    assert refused.decision == "refused" and refused.policy.startswith("rate[")
    assert ex.call("b", "ping", {}).ok


def test_quota_per_run_counts_calls_per_tool() -> None:
    ex = make([LimitSpec(tool="ping", per_run=2)])
    decisions = [ex.call("a" if i % 2 else "b", "ping", {"n": i}).decision for i in range(3)]
    assert decisions == ["allowed", "allowed", "refused"]
    assert ex.call("a", "pay", {"order_id": "X", "amount": 1}).ok  # other tools unaffected


def test_quota_per_role() -> None:
    ex = make([LimitSpec(role="b", per_run=1)])
    assert ex.call("b", "ping", {}).ok
    assert ex.call("b", "ping", {}).decision == "refused"
    assert ex.call("a", "ping", {}).ok


def test_quota_is_per_run() -> None:
    limits = [LimitSpec(per_run=1)]
    box, perms = tools(), Permissions(ALL)
    run1 = ToolExecutor(box, perms, limits=limits, run_id="r1")
    assert run1.call("a", "ping", {}).ok
    assert run1.call("a", "ping", {}).decision == "refused"
    run2 = ToolExecutor(box, perms, limits=limits, run_id="r2")
    assert run2.call("a", "ping", {}).ok


def test_quota_on_an_argument_total() -> None:
    ex = make([LimitSpec(tool="pay", total={"amount": 100})])
    assert ex.call("a", "pay", {"order_id": "X", "amount": 60}).ok
    over = ex.call("a", "pay", {"order_id": "Y", "amount": 50})
    assert over.decision == "refused" and "amount total" in over.reason
    assert ex.call("a", "pay", {"order_id": "Z", "amount": 40}).ok


def test_refused_calls_are_not_charged_to_the_quota() -> None:
    ex = make([LimitSpec(tool="ping", per_run=1)])
    assert ex.call("stranger", "ping", {}).decision == "refused"  # permission, before quota
    assert ex.call("a", "ping", {}).ok


def test_limit_spec_is_checked() -> None:
    with pytest.raises(ValidationError, match="per_run"):
        LimitSpec(tool="x")
    with pytest.raises(ValidationError, match="rate"):
        LimitSpec(tool="x", rate="fast")


def test_duplicate_write_is_prevented_and_returns_the_first_result() -> None:
    ex = make([])
    first = ex.call("a", "pay", {"order_id": "X", "amount": 5})
    again = ex.call("b", "pay", {"order_id": "X", "amount": 5})
    assert first.decision == "allowed" and again.decision == "deduplicated"
    assert again.result == first.result and again.key == first.key
    assert ex.tools.runs == [("pay", "X")]  # type: ignore[attr-defined]


def test_failed_write_is_not_remembered_so_a_retry_runs() -> None:
    ex = make([])
    assert ex.call("a", "pay", {"order_id": "X", "amount": 5000}).decision == "failed"
    assert ex.call("a", "pay", {"order_id": "X", "amount": 5}).decision == "allowed"


def test_reads_are_never_deduplicated() -> None:
    ex = make([])
    assert [ex.call("a", "ping", {"n": 1}).decision for _ in range(2)] == ["allowed"] * 2


def test_duckdb_keys_survive_a_new_executor(tmp_path: Path) -> None:
    keys_path = tmp_path / "keys.duckdb"
    box, perms = tools(), Permissions(ALL)
    ToolExecutor(box, perms, keys=DuckDBKeys(keys_path)).call(
        "a", "pay", {"order_id": "X", "amount": 5}
    )
    later = ToolExecutor(box, perms, keys=DuckDBKeys(keys_path)).call(
        "a", "pay", {"order_id": "X", "amount": 5}
    )
    assert later.decision == "deduplicated"
    assert box.runs == [("pay", "X")]  # type: ignore[attr-defined]
