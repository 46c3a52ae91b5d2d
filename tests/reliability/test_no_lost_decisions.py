"""Every task gets exactly one decision, even when the run budget runs out mid-graph."""

from __future__ import annotations

from accord import Budget, Crew, Policy, Role, Task


def test_dependants_of_budget_skipped_tasks_are_decided_too() -> None:
    crew = Crew(
        name="chain",
        roles=[Role(name="a", model="m")],
        models={"m": {"backend": "scripted", "options": {"default": "x y z"}}},
        tasks=[
            Task(id="t0", question="q0"),
            Task(id="t1", question="q1", depends_on=["t0"]),
            Task(id="t2", question="q2", depends_on=["t1"]),
            Task(id="t3", question="q3", depends_on=["t1", "t2"]),
        ],
        policy=Policy(kind="single"),
        budget=Budget(tokens_per_run=1),
    )
    result = crew.run(db=":memory:", pool="local")
    assert [(d.task_id, d.status) for d in result.decisions] == [
        ("t0", "accepted"),
        ("t1", "unresolved"),
        ("t2", "unresolved"),
        ("t3", "unresolved"),
    ]
    assert {d.stop_reason for d in result.decisions[1:]} == {"budget:tokens_per_run"}


def test_a_wide_graph_decides_every_task_once() -> None:
    n = 3000
    crew = Crew(
        name="wide",
        roles=[Role(name="a", model="m")],
        models={"m": {"backend": "scripted", "options": {"default": "ok"}}},
        tasks=[Task(id=f"t{i}", question=f"q{i}") for i in range(n)],
        policy=Policy(kind="single"),
    )
    order: list[str] = []
    result = crew.run(db=":memory:", pool="local", on_decision=lambda t, d: order.append(t.id))
    assert len(result.decisions) == n
    assert sorted(order) == sorted(f"t{i}" for i in range(n))
