"""A YAML crew on real Ray actors writing to a real DuckDB file."""

from __future__ import annotations

import duckdb
import pytest

from accord import Crew, Policy, Role, Task
from accord.ledger import list_runs, run_decisions
from accord.roles.pool import RayPool
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_yaml_crew_runs_on_ray_and_every_decision_costs_the_sum_of_its_attempts(
    ledger_path,
) -> None:
    result = Crew.from_yaml(ROOT / "configs" / "scripted.yaml").run(db=ledger_path)
    assert result.answers["capital"] == "Paris"
    assert result["sum"].path == "escalated" and result["sum"].answer == "42"
    assert result["capital"].path == "single"
    db = duckdb.connect(str(ledger_path), read_only=True)
    rows = db.execute(
        """
        SELECT d.task_id, d.prompt_tokens, d.completion_tokens, d.n_attempts,
               sum(a.prompt_tokens), sum(a.completion_tokens), count(*)
        FROM decisions d JOIN attempts a USING (run_id, task_id)
        WHERE d.run_id = ? GROUP BY ALL""",
        [result.run_id],
    ).fetchall()
    db.close()
    assert len(rows) == 4
    for task, p, c, n, ap, ac, count in rows:
        assert (p, c, n) == (ap, ac, count), task
    assert list_runs(ledger_path)[0]["status"] == "finished"


def test_dependants_see_their_dependencies_answers(ledger_path) -> None:
    seen: list[str] = []

    def script(request):
        seen.append(request.messages[-1].content)
        return "7" if "first" in request.messages[-1].content else "done"

    crew = Crew(
        name="chain",
        roles=[Role(name="a", model="fake")],
        models={"fake": {"backend": "scripted", "options": {"script": script}}},
        tasks=[
            Task(id="first", question="first number?", answer_type="number"),
            Task(id="second", question="double {first}", depends_on=["first"]),
        ],
        policy=Policy(kind="single"),
    )
    result = crew.run(db=ledger_path, pool="local")
    assert result.answers == {"first": "7", "second": "done"}
    assert any("double 7" in text for text in seen)


def test_ray_pool_keeps_several_actors_busy_at_once(ledger_path) -> None:
    crew = Crew(
        name="parallel",
        roles=[Role(name="solver", model="slow", replicas=3)],
        models={
            "slow": {"backend": "scripted", "options": {"script": {"q": "x"}, "latency_s": 0.3}}
        },
        tasks=[Task(id=f"t{i}", question=f"q{i}") for i in range(6)],
        policy=Policy(kind="single"),
    )
    crew.spec = crew.spec.model_copy(update={"concurrency": 6})
    pool = crew.build_pool("ray")
    assert isinstance(pool, RayPool) and len(pool.handles("solver")) == 3
    result = crew.run(db=ledger_path, pool=pool)
    pool.close()
    total = sum(d.wall_ms for d in result.decisions) / 1000
    # Six 0.3 s attempts on three actors overlap: far less than 1.8 s of serial work each way.
    assert len(result.decisions) == 6
    assert max(d.wall_ms for d in result.decisions) < 1500
    assert total < 6 * 0.3 * 2
    assert len(run_decisions(ledger_path, result.run_id)) == 6


def test_an_actor_that_cannot_start_is_a_clear_error_not_a_traceback() -> None:
    from accord.errors import ConfigError
    from accord.roles.pool import AgentSpec
    from accord.roles.prompt import RoleProfile

    with pytest.raises(ConfigError, match="unknown model 'nosuch'"):
        RayPool([AgentSpec(RoleProfile("a"), "llama", {"model": "nosuch"})])


def test_keep_attempts_false_leaves_attempts_only_in_the_ledger(ledger_path) -> None:
    result = Crew.from_yaml(ROOT / "configs" / "scripted.yaml").run(
        db=ledger_path, pool="local", keep_attempts=False
    )
    assert result.answers["sum"] == "42"
    assert all(d.attempts == () for d in result.decisions)
    stored = {r["task_id"]: r["n_attempts"] for r in run_decisions(ledger_path, result.run_id)}
    assert stored["sum"] > 1 and stored["capital"] == 1
