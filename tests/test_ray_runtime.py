"""Role actors reused between runs in one process, and the local Ray accord starts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from accord import Crew
from accord.roles.pool import AgentSpec, RayPool
from accord.roles.prompt import RoleProfile
from accord.roles.ray_runtime import ActorCache, current_actor_cache, local_start_options

ROOT = Path(__file__).resolve().parent.parent
SCRIPTED = ROOT / "configs" / "scripted.yaml"


def _pids(handles: list[object]) -> list[int]:
    import ray

    return ray.get([h.__ray_call__.remote(lambda _: os.getpid()) for h in handles])  # type: ignore[attr-defined]


def _alive(handle: object) -> bool:
    import ray

    try:
        ray.get(handle.ping.remote(), timeout=60)  # type: ignore[attr-defined]
    except ray.exceptions.RayActorError:
        return False
    return True


def _dies(handle: object, within_s: float = 60.0) -> bool:
    """True once the actor is gone (`ray.kill` returns before the actor has stopped)."""
    deadline = time.monotonic() + within_s
    while _alive(handle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.usefixtures("ray_cluster")
def test_a_second_run_in_one_process_reuses_the_actors_and_gives_the_same_results(
    tmp_path: Path,
) -> None:
    crew = Crew.from_yaml(SCRIPTED)
    with ActorCache() as cache:
        first = crew.run(db=tmp_path / "a.duckdb", pool="ray")
        idle = cache.actors()
        pids = _pids(idle)
        second = crew.run(db=tmp_path / "b.duckdb", pool="ray")
        assert cache.actors() == idle  # the same actors came back, no new ones
        assert _pids(cache.actors()) == pids
    assert len(idle) == 2  # analyst and reviewer
    assert second.answers == first.answers
    # (how many votes a settled vote spent depends on arrival order, so not tokens)
    assert [(d.path, d.status) for d in second.decisions] == [
        (d.path, d.status) for d in first.decisions
    ]
    # the block's end killed them
    assert cache.actors() == []
    assert all(_dies(h) for h in idle)


@pytest.mark.usefixtures("ray_cluster")
def test_actors_of_other_options_are_not_shared_and_a_dead_one_is_replaced() -> None:
    import ray

    role = RoleProfile("solver")
    paris = AgentSpec(role, "scripted", {"script": {"q": "Paris"}})
    rome = AgentSpec(role, "scripted", {"script": {"q": "Rome"}})
    with ActorCache() as cache:
        first = RayPool([paris], cache=cache)
        (kept,) = first.handles("solver")
        first.close()
        other = RayPool([rome], cache=cache)
        assert other.handles("solver") != [kept]  # other options: a new actor
        other.close()
        ray.kill(kept, no_restart=True)  # the idle actor dies while cached
        again = RayPool([paris], cache=cache)
        (fresh,) = again.handles("solver")
        assert fresh != kept and _alive(fresh)
        again.close()
        assert len(cache.actors()) == 2
    assert _dies(fresh)


@pytest.mark.usefixtures("ray_cluster")
def test_without_a_block_runs_share_the_process_cache(tmp_path: Path) -> None:
    crew = Crew.from_yaml(SCRIPTED)
    cache = current_actor_cache()
    crew.run(db=tmp_path / "a.duckdb", pool="ray")
    idle = cache.actors()
    crew.run(db=tmp_path / "b.duckdb", pool="ray")
    assert cache.actors() == idle and len(idle) >= 2
    cache.close()  # what happens at exit
    assert all(_dies(h) for h in idle)
    assert current_actor_cache() is not cache  # a fresh one for later runs


def test_a_local_ray_is_sized_for_a_crew() -> None:
    options = local_start_options()
    assert options["include_dashboard"] is False
    assert options["object_store_memory"] <= 256 * 1024 * 1024
    assert 1 <= options["num_cpus"] <= 4
    assert local_start_options(8)["num_cpus"] == 8
