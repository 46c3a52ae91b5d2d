"""Start-up cost on Ray: the 3-task scripted crew from the CLI (a new process each time) and a
warm second run in one Python process, with the resident memory of accord and its Ray processes.

    python benchmarks/startup.py [--repeat 3]

`cold CLI`: `accord run configs/scripted.yaml --pool ray` in a fresh process, wall time to exit,
and the peak RSS summed over the process tree (driver, raylet, GCS, workers), sampled every
50 ms from /proc. `warm`: `Crew.run(pool="ray")` again in a process that already ran it once
(one ledger file for all runs), then the same without Ray (`pool="local"`) for reference.
The scripted backend has no model latency: every figure is start-up and orchestration.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "configs" / "scripted.yaml"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, in MB."""
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return total / 1024


class PeakRss:
    """Samples the RSS of a process tree every 50 ms in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def cold_cli(workdir: Path) -> tuple[float, float]:
    """One `accord run ... --pool ray` in a new process: (wall seconds, peak tree RSS MB)."""
    cmd = [sys.executable, "-m", "accord.cli", "run", str(CREW), "--pool", "ray"]
    cmd += ["--db", str(workdir / f"cold-{time.monotonic_ns()}.duckdb")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = PeakRss(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"accord run failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, peak


WARM = """
import json, os, sys, time
from accord import Crew
crew = Crew.from_yaml(sys.argv[1])
db = os.path.join(sys.argv[2], "warm.duckdb")  # one ledger, as a process running crews has
report = {}
for pool in ("ray", "local"):
    times, answers = [], []
    for i in range(int(sys.argv[3])):
        start = time.perf_counter()
        result = crew.run(db=db, pool=pool)
        times.append(time.perf_counter() - start)
        answers.append(result.answers)
    report[pool] = {"times": times, "same": all(a == answers[0] for a in answers)}
print(json.dumps(report))
"""


def warm_runs(workdir: Path, runs: int) -> tuple[dict[str, dict[str, object]], float]:
    """`runs` Crew.run calls on Ray, then in-process, in one new process: (times and whether
    the answers were the same, by pool; peak tree RSS MB)."""
    import json

    cmd = [sys.executable, "-c", WARM, str(CREW), str(workdir), str(runs)]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = PeakRss(proc.pid)
    out, err = proc.communicate()
    peak = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"warm runs failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold CLI runs (default 3)")
    parser.add_argument("--warm-runs", type=int, default=5, help="runs in the warm process")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    load = os.getloadavg()[0]
    print(f"scripted backend (no model latency), {os.cpu_count()} CPUs, load {load:.1f}")
    with tempfile.TemporaryDirectory(prefix="accord-startup-") as tmp:
        workdir = Path(tmp)
        cold = [cold_cli(workdir) for _ in range(args.repeat)]
        walls = [w for w, _ in cold]
        print(
            f"cold CLI  `accord run configs/scripted.yaml --pool ray`: median "
            f"{statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, "
            f"n={len(walls)}); peak RSS of the process tree {max(r for _, r in cold):.0f} MB"
        )
        report, peak = warm_runs(workdir, args.warm_runs)
        for pool, label in (("ray", "Ray"), ("local", "local, no Ray")):
            times, same = report[pool]["times"], report[pool]["same"]
            warm = times[1:]  # type: ignore[index]
            print(
                f"in-process Crew.run(pool={pool!r}) ({label}): first "
                f"{times[0] * 1000:.0f} ms, then median {statistics.median(warm) * 1000:.1f} ms "  # type: ignore[index]
                f"(min {min(warm) * 1000:.1f}, max {max(warm) * 1000:.1f}, n={len(warm)}); "
                f"same answers every run: {same}"
            )
        print(f"peak RSS of the warm process tree {peak:.0f} MB")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
