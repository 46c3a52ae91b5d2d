"""The refund crew end to end on the scripted backend: the five behaviours, the shop database,
the ledger and an intact audit trail; and `accord agent run` as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from accord.crews.crew import Crew
from accord.ledger.audit import timeline
from accord.ledger.audit_verify import verify
from accord.planning.run import run_goals
from tests.conftest import ROOT

CONFIG = ROOT / "configs" / "refund.yaml"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refund")


@pytest.fixture(scope="module")
def result(workdir: Path):  # type: ignore[no-untyped-def]
    before = Path.cwd()
    os.chdir(workdir)  # the crew file keeps its shop at .accord/shop.duckdb
    try:
        return run_goals(Crew.from_yaml(CONFIG), db=workdir / "ledger.duckdb")
    finally:
        os.chdir(before)


def test_each_goal_ends_as_the_scenario_requires(result) -> None:  # type: ignore[no-untyped-def]
    status = {g.goal_id: g.status for g in result.goals}
    assert status == {
        "refund_ok": "completed",
        "overcharge": "completed",
        "damaged": "completed",
        "duplicate": "completed",
        "over_limit": "completed",
        "escalate": "completed",
        "needs_human": "denied",
    }
    by_id = {g.goal_id: g for g in result.goals}
    assert by_id["damaged"].revisions == 1
    assert by_id["duplicate"].steps[-1].status == "deduplicated"
    assert "finance_approver review" in by_id["over_limit"].steps[-1].approval
    assert by_id["overcharge"].plans[0].decision.attempts[0].verdict.ok is False
    vote = by_id["escalate"].plans[0].decision
    assert (vote.task_id, vote.path, vote.stop_reason) == (
        "escalate.plan-vote",
        "escalated",
        "vote",
    )
    assert [a.kind for a in vote.attempts] == ["primary"] * 3 + ["voter"] * 3


def test_the_shop_database_holds_exactly_the_right_refunds(result, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    with duckdb.connect(str(workdir / ".accord" / "shop.duckdb"), read_only=True) as db:
        rows = db.execute(
            "SELECT order_id, amount, method FROM refunds ORDER BY order_id"
        ).fetchall()
    assert rows == [
        ("A100", 120.0, "card"),
        ("A101", 30.0, "card"),
        ("A102", 45.0, "store_credit"),
        ("A103", 800.0, "card"),
        ("A105", 20.0, "card"),
    ]


def test_audit_trail_is_intact_and_records_refusals(result, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    db = workdir / "ledger.duckdb"
    (report,) = verify(db, [result.run_id])
    assert report.ok and report.events > 30
    events = timeline(db, result.run_id)
    refused = [e for e in events if e.kind == "tool_call" and e.decision == "refused"]
    # the unauthorised call (refused at planning) and the refund whose approval was denied
    assert [(e.tool, e.policy) for e in refused] == [
        ("adjust_payment", "deny-by-default"),
        ("issue_refund", "approvals"),
    ]
    assert {e.decision for e in events if e.kind == "approval"} == {"approved", "denied"}
    assert [e.decision for e in events if e.kind == "review"] == ["approve"]
    assert sum(e.decision == "deduplicated" for e in events) == 1
    assert all(e.args_digest for e in events if e.kind == "tool_call")


def test_planning_decisions_are_in_the_ledger(result, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    with duckdb.connect(str(workdir / "ledger.duckdb"), read_only=True) as db:
        rows = db.execute(
            "SELECT task_id, path, status, n_attempts FROM decisions "
            "WHERE run_id = ? ORDER BY task_id",
            [result.run_id],
        ).fetchall()
    ids = [r[0] for r in rows]
    assert "overcharge.plan-retry-1" in ids and "damaged.revise-1" in ids
    assert any(i.startswith("review-") for i in ids)
    assert ("overcharge.plan-retry-1", "escalated", "accepted", 2) in rows


def test_agent_run_cli(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "agent",
            "run",
            str(CONFIG),
            "--db",
            str(tmp_path / "l.duckdb"),
            "--no-interactive",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for line in (
        "goals: 7 · 6 completed, 1 denied",
        "escalated to a planner vote: 1",
        "unauthorised calls refused: 1 in plans",
        "failed or surprising steps replanned: 1",
        "duplicate writes prevented by idempotency: 1",
        "calls sent for approval: 2 (1 approved, 1 denied)",
    ):
        assert line in out, out
    verified = subprocess.run(
        [sys.executable, "-m", "accord.cli", "audit", "verify", "--db", str(tmp_path / "l.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert verified.returncode == 0 and "chain intact" in verified.stdout


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ("{toolset: shop, planners: [b]}", "c.yaml:2:"),  # placed in the file, then the message
        ("{toolset: shop, planners: [b]}", "tools.planners[0]: unknown role 'b'"),
        (
            "{toolset: shop, planners: [a], grants: {a: [refund_all]}}",
            "tools.grants.a[0].tool: unknown tool 'refund_all'",
        ),
        (
            "{toolset: shop, planners: [a], limits: [{tool: nope, per_run: 1}]}",
            "unknown tool 'nope'",
        ),
        ("{toolset: shop}", "name at least one planner role"),
        ("{toolset: mall, planners: [a]}", "unknown toolset 'mall'"),
    ],
)
def test_mistakes_in_the_tools_section_are_config_errors(
    tmp_path: Path, tools: str, message: str
) -> None:
    from accord.errors import ConfigError

    crew = tmp_path / "c.yaml"
    shop = f"shop, options: {{db: {tmp_path}/s.duckdb}},"
    crew.write_text(
        f"name: x\ntools: {tools.replace('shop,', shop)}\n"
        "roles: [{name: a}]\ngoals: [{id: g, goal: do it}]\n"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_goals(Crew.from_yaml(crew), db=tmp_path / "l.duckdb")


def _cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "agent",
            "run",
            str(CONFIG),
            "--db",
            str(tmp_path / "l.duckdb"),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_interactive_confirmation_approves_the_call(tmp_path: Path) -> None:
    yes = _cli(tmp_path, "--goal", "needs_human", "--interactive", stdin="y\n")
    assert yes.returncode == 0, yes.stderr
    assert "Approve?" in yes.stdout and "approved by operator" in yes.stdout
    assert "goals: 1 · 1 completed" in yes.stdout


def test_interactive_refusal_denies_the_call(tmp_path: Path) -> None:
    no = _cli(tmp_path, "--goal", "needs_human", "--interactive", stdin="n\n")
    assert no.returncode == 0 and "goals: 1 · 1 denied" in no.stdout


def test_unknown_goal_exits_2(tmp_path: Path) -> None:
    bad = _cli(tmp_path, "--goal", "nope")
    assert bad.returncode == 2 and "known goals" in bad.stderr
