"""A crew runs on a two-node Ray cluster on this machine, its actors spread over both nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import ray
    from ray.cluster_utils import Cluster
    from accord import Crew

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    deadline = time.time() + 120
    while time.time() < deadline:  # both raylets registered with their CPUs
        alive = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")]
        if len(alive) == 2:
            break
        time.sleep(0.5)

    @ray.remote(num_cpus=0)
    def where():
        return ray.get_runtime_context().get_node_id()

    # A node can be listed alive before the scheduler places work on it (a loaded machine
    # shows this); a task pinned hard to each node proves both accept work before the test.
    ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote() for n in alive], timeout=120)
    crew = Crew.from_yaml(sys.argv[1])
    crew.spec = crew.spec.model_copy(update={"roles": [
        r.model_copy(update={"replicas": 2}) for r in crew.spec.roles]})
    pool = crew.build_pool("ray", address=cluster.address)
    nodes = sorted({ray.get(h.node.remote()) for role in pool.roles()
                    for h in pool.handles(role)})
    result = crew.run(db=sys.argv[2], pool=pool)
    pool.close()
    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    print(json.dumps({"nodes": nodes, "alive": alive, "answers": result.answers,
                      "decisions": len(result.decisions)}))
    ray.shutdown()
    cluster.shutdown()
""")


@pytest.mark.timeout(300)
def test_actors_are_placed_on_both_nodes_and_the_crew_completes(tmp_path) -> None:
    script = tmp_path / "two_nodes.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(ROOT / "configs" / "scripted.yaml"),
            str(tmp_path / "ledger.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["alive"]) == 2
    assert set(report["nodes"]) == set(report["alive"])  # actors on both nodes
    assert report["decisions"] == 4 and report["answers"]["capital"] == "Paris"
