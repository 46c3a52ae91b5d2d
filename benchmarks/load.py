"""Load: many decisions by a crew of Ray role actors on the scripted backend.

Prints throughput, resident memory of the driver and of every role actor (now and peak) at
checkpoints (1k and 10k decisions by default), and the ledger's row counts, which must equal
what was run (exit code 1 otherwise):

    python benchmarks/load.py [--decisions 10000] [--roles 8] [--concurrency 32]

The scripted backend answers instantly, so the figures measure accord and Ray, not a model.
One task in ten is scripted to be unsure, so the coordinator escalates it to a vote.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from accord import Crew, Policy, Role, Task
from accord.consensus.records import Decision
from accord.crews.spec import TaskSpec
from accord.roles.actor import ensure_ray

ACTOR_TITLE = b"ray::RoleAgent"


def _status_kb(pid: int | str, field_name: str) -> int:
    """A `kB` field (VmRSS, VmHWM) of /proc/PID/status; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def actor_pids() -> list[int]:
    """PIDs of the processes Ray titled `ray::RoleAgent` (our role actors)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(ACTOR_TITLE):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


@dataclass
class Sample:
    """Memory at one checkpoint, in MB."""

    decisions: int
    seconds: float
    driver_rss: float
    driver_peak: float
    actors_rss: list[float]
    actors_peak: list[float]


@dataclass
class Probe:
    """Counts what the run produced and samples memory at the checkpoints."""

    checkpoints: set[int]
    started: float = field(default_factory=time.perf_counter)
    decisions: int = 0
    attempts: int = 0
    escalated: int = 0
    samples: list[Sample] = field(default_factory=list)

    def __call__(self, task: TaskSpec, decision: Decision) -> None:
        self.decisions += 1
        self.attempts += len(decision.attempts)
        self.escalated += decision.escalated
        if self.decisions in self.checkpoints:
            self.sample()

    def sample(self) -> None:
        pids = actor_pids()
        self.samples.append(
            Sample(
                self.decisions,
                time.perf_counter() - self.started,
                _status_kb("self", "VmRSS") / 1024,
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                [_status_kb(p, "VmRSS") / 1024 for p in pids],
                [_status_kb(p, "VmHWM") / 1024 for p in pids],
            )
        )


def build_crew(decisions: int, roles: int, concurrency: int) -> Crew:
    """A crew of `roles` scripted roles and `decisions` tasks, one in ten escalated."""
    unsure = [{"text": t, "prob": 0.3} for t in ("7", "8", "7", "7", "7")]
    script = {"unsure": unsure}
    tasks = [
        Task(id=f"t{i}", question=f"Item {i}: {'unsure' if i % 10 == 0 else 'sure'}?")
        for i in range(decisions)
    ]
    crew = Crew(
        name="load",
        roles=[Role(name=f"role{r}", model="fake") for r in range(roles)],
        models={
            "fake": {
                "backend": "scripted",
                "options": {"script": script, "default": {"text": "42", "prob": 0.95}},
            }
        },
        tasks=tasks,
        policy=Policy(kind="adaptive", threshold=0.6, k=5),
    )
    crew.spec = crew.spec.model_copy(update={"concurrency": concurrency})
    return crew


def ledger_counts(path: Path, run_id: str) -> tuple[int, int, int]:
    """(decisions, attempts, sum of n_attempts) stored for `run_id`."""
    db = duckdb.connect(str(path), read_only=True)
    try:
        row = db.execute(
            "SELECT (SELECT count(*) FROM decisions WHERE run_id = $1), "
            "(SELECT count(*) FROM attempts WHERE run_id = $1), "
            "(SELECT coalesce(sum(n_attempts), 0) FROM decisions WHERE run_id = $1)",
            [run_id],
        ).fetchone()
    finally:
        db.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def report(probe: Probe, wall: float, roles: int, counts: tuple[int, int, int]) -> bool:
    """Print the figures; True when the ledger holds exactly what was run."""
    print(
        f"decisions: {probe.decisions:,} on {roles} role actors (scripted backend, "
        f"{probe.escalated:,} escalated to a vote), attempts: {probe.attempts:,}"
    )
    print(
        f"throughput: {probe.decisions / wall:,.0f} decisions/s, "
        f"{probe.attempts / wall:,.0f} attempts/s ({wall:.1f} s wall)"
    )
    print(
        f"{'decisions':>10} {'s':>7} {'driver RSS':>11} {'driver peak':>12} "
        f"{'actors RSS (sum / max)':>24} {'actor peak (max)':>17}"
    )
    for s in probe.samples:
        print(
            f"{s.decisions:>10,} {s.seconds:>7.1f} {s.driver_rss:>9.0f}MB "
            f"{s.driver_peak:>10.0f}MB {sum(s.actors_rss):>14.0f}MB / "
            f"{max(s.actors_rss, default=0):>4.0f}MB {max(s.actors_peak, default=0):>15.0f}MB"
        )
    if len(probe.samples) >= 2:
        first, last = probe.samples[0], probe.samples[-1]
        print(
            f"growth {first.decisions:,} -> {last.decisions:,} decisions: driver "
            f"{last.driver_rss - first.driver_rss:+.0f} MB, actors (max) "
            f"{max(last.actors_rss, default=0) - max(first.actors_rss, default=0):+.0f} MB"
        )
    stored, attempts, summed = counts
    ok = stored == probe.decisions and attempts == probe.attempts == summed
    print(
        f"ledger rows: decisions {stored:,} (ran {probe.decisions:,}), attempts "
        f"{attempts:,} (ran {probe.attempts:,}) -> {'OK' if ok else 'MISMATCH'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--checkpoints", default="1000,10000")
    parser.add_argument("--db", type=Path, default=None, help="ledger file (default: temp)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="accord-load-")
    db = args.db or Path(folder) / "ledger.duckdb"
    ensure_ray(num_cpus=os.cpu_count())
    crew = build_crew(args.decisions, args.roles, args.concurrency)
    checkpoints = {int(c) for c in args.checkpoints.split(",") if c} & set(
        range(1, args.decisions + 1)
    ) | {args.decisions}
    probe = Probe(checkpoints)
    pool = crew.build_pool("ray")
    probe.started = time.perf_counter()
    result = crew.run(db=db, pool=pool, on_decision=probe, keep_attempts=False)
    wall = time.perf_counter() - probe.started
    probe.sample() if not probe.samples else None
    pool.close()
    ok = report(probe, wall, args.roles, ledger_counts(db, result.run_id))
    print(f"ledger: {db}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
