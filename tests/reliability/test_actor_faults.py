"""Role actors killed during a run: Ray restarts them, attempts are retried, nothing is lost."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from accord import Crew, Policy, Role, Task
from accord.roles.pool import RayPool

pytestmark = pytest.mark.usefixtures("ray_cluster")
N = 40


def test_killing_actors_mid_run_loses_and_duplicates_no_decision(ledger_path: Path) -> None:
    import ray

    script = {f"Q{i}?": f"A{i}" for i in range(N)}
    crew = Crew(
        name="killed",
        roles=[Role(name="solver", model="m", replicas=2), Role(name="checker", model="m")],
        models={"m": {"backend": "scripted", "options": {"script": script, "latency_s": 0.05}}},
        tasks=[Task(id=f"t{i}", question=f"Q{i}?") for i in range(N)],
        policy=Policy(kind="single"),
    )
    crew.spec = crew.spec.model_copy(update={"concurrency": 3})
    pool = crew.build_pool("ray")
    assert isinstance(pool, RayPool)
    handles = pool.handles("solver") + pool.handles("checker")
    rng = random.Random(7)
    killed: list[int] = []

    def kill_some(task: object, decision: object) -> None:
        done = len(killed) + 1
        if decision.task_id in {"t5", "t15", "t25"} and done <= 3:  # type: ignore[attr-defined]
            victim = rng.randrange(len(handles) - 1)  # a solver replica (the primary role)
            ray.kill(handles[victim], no_restart=False)
            killed.append(victim)

    try:
        result = crew.run(db=ledger_path, pool=pool, on_decision=kill_some)
    finally:
        pool.close()
    assert len(killed) == 3
    assert result.answers == {f"t{i}": f"A{i}" for i in range(N)}
    assert all(d.status == "accepted" for d in result.decisions)
    db = duckdb.connect(str(ledger_path), read_only=True)
    row = db.execute(
        "SELECT count(*), count(DISTINCT task_id), sum(n_attempts), "
        "(SELECT count(*) FROM attempts) FROM decisions"
    ).fetchone()
    db.close()
    assert row == (N, N, N, N)
