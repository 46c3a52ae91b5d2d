"""Orchestration overhead: accord's attempts and decisions versus a raw Ray actor call.

Runs everything in one process on one local Ray, on the scripted backend with zero latency
(so all measured time is orchestration, not model), and prints p50/p95 side by side:

    python benchmarks/overhead.py [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import ray

from accord.consensus import Coordinator, PolicySpec, Task
from accord.crews.runner import GraphRunner
from accord.crews.spec import TaskSpec
from accord.ledger import Ledger
from accord.roles.actor import ensure_ray
from accord.roles.pool import AgentSpec, RayPool
from accord.roles.prompt import RoleProfile


@ray.remote
class Echo:
    """The baseline: an actor method that returns its argument."""

    def echo(self, value: object) -> object:
        return value


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(n: int, call) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def row(name: str, samples: list[float]) -> str:
    return f"{name:<44} {pct(samples, 0.5):8.3f} {pct(samples, 0.95):8.3f}"


async def main(n: int) -> None:
    ensure_ray(num_cpus=2)
    task = Task(id="q", prompt="What is 2 plus 2?", answer_type="number")
    echo = Echo.remote()
    ray.get(echo.echo.remote(None))
    spec = AgentSpec(RoleProfile("solver"), "scripted", {"script": {"2 plus 2": "4"}})
    voters = AgentSpec(RoleProfile("voter"), "scripted", {"script": {"2 plus 2": "4"}}, 4)
    pool = RayPool([spec, voters])
    single = Coordinator(pool, policy=PolicySpec(kind="single"))
    vote = Coordinator(
        pool, policy=PolicySpec(kind="vote", k=3, stopping="fixed", voters=["voter"])
    )

    async def raw_call(i: int) -> object:
        return await echo.echo.remote(task)

    async def attempt(i: int) -> object:
        return await pool.attempt("solver", task, kind="primary", temperature=0.0, seed=i)

    for warm in (raw_call, attempt):
        await timed(50, warm)
    raw_get = []
    for _ in range(n):
        start = time.perf_counter()
        ray.get(echo.echo.remote(task))
        raw_get.append((time.perf_counter() - start) * 1000.0)
    raw = await timed(n, raw_call)
    attempts = await timed(n, attempt)
    singles = await timed(
        n, lambda i: single.decide(Task(id=f"s{i}", prompt=task.prompt, answer_type="number"))
    )
    votes = await timed(
        n // 2, lambda i: vote.decide(Task(id=f"v{i}", prompt=task.prompt, answer_type="number"))
    )
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.duckdb")
        run_id = ledger.start_run("overhead")
        runner = GraphRunner(
            single, concurrency=32, on_decision=lambda t, d: ledger.record(run_id, d)
        )
        specs = [TaskSpec(id=f"t{i}", question=task.prompt, answer_type="number") for i in range(n)]
        start = time.perf_counter()
        await runner.run(specs)
        ledger.finish_run(run_id)
        elapsed = time.perf_counter() - start
        written = ledger.query("SELECT count(*) FROM decisions")[0][0]
    pool.close()

    print(
        f"accord orchestration overhead, scripted backend, zero latency, n={n} "
        f"(ray {ray.__version__}, 2 CPUs)"
    )
    print(f"{'':<44} {'p50 ms':>8} {'p95 ms':>8}")
    print(row("raw Ray actor call (ray.get)", raw_get))
    print(row("raw Ray actor call (await ref)", raw))
    print(row("accord attempt (RoleAgent on actor)", attempts))
    print(row("accord decision, single (1 attempt)", singles))
    print(row("accord decision, vote@3 (3 parallel attempts)", votes))
    print()
    added_attempt = pct(attempts, 0.5) - pct(raw, 0.5)
    added_decision = pct(singles, 0.5) - pct(raw, 0.5)
    print(
        f"added per attempt at p50 over a raw awaited call: {added_attempt:.3f} ms "
        f"(target <= 1 ms: {'met' if added_attempt <= 1.0 else 'NOT met'})"
    )
    print(
        f"added per single decision at p50 (prompt, parse, validate, confidence): "
        f"{added_decision:.3f} ms"
    )
    print(
        f"throughput with 32 concurrent decisions and DuckDB ledger writes: "
        f"{n / elapsed:.0f} decisions/s ({written} rows written for {n} decisions)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    asyncio.run(main(parser.parse_args().n))
