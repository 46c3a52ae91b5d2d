"""`accord ui` page loads over a ledger of 10,000 decisions.

Writes two ledgers through the Ledger API (synthetic scripted decisions with their attempts,
prompts and tallies; start and decision times then spread over 30 days in SQL so the cost
page has days to draw): 40 runs of 250 decisions of 3 crews, and one run of 10,000. Starts
`accord ui` on each as a subprocess (a real server on 127.0.0.1), loads every page once cold
and then `--repeats` times, and prints the server's time to the last byte (median, p95, max).
The run's audit verdict (every seal re-checked) is fetched by the run and decision pages after
they load; its first load is the check itself, later ones are kept while the files stay as
they are. (The times are shifted after the runs were sealed, so that verdict is "tampered".)

    python benchmarks/ui_load.py [--decisions 10000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

from accord.consensus.records import Attempt, Decision, Verdict
from accord.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
CREWS = ("triage", "refunds", "research")
BUDGET_S = 1.0


def _attempts(task: str, n: int, i: int) -> tuple[Attempt, ...]:
    out = []
    for k in range(n):
        answer = "42" if (i + k) % 4 else "41"
        valid = k % 7 != 6
        out.append(
            Attempt(
                task_id=task,
                role=("solver", "checker", "skeptic")[k % 3],
                model="gpt-4o-mini" if k else "smollm2",
                answer=answer,
                raw=f"The answer is {answer}.",
                prompt_tokens=180 + k,
                completion_tokens=6,
                model_ms=40.0,
                seed=k,
                temperature=0.0 if k == 0 else 0.8,
                kind="primary" if k == 0 else "voter",
                confidence=0.4 + 0.1 * (k % 5),
                verdict=Verdict(valid, "" if valid else "not a number"),
                messages=(("system", "You are the solver."), ("user", f"Question {task}?")),
            )
        )
    return tuple(out)


def _decision(task: str, i: int) -> Decision:
    n = 1 if i % 3 else 1 + (i % 5) + 2  # a third escalate to a vote of 3-7 answers
    return Decision(
        task_id=task,
        answer="42",
        confidence=0.8,
        path="single" if n == 1 else "vote",
        stop_reason="confident" if n == 1 else "settled",
        status="accepted" if i % 41 else "unresolved",
        policy="adaptive@0.6",
        attempts=_attempts(task, n, i),
        wall_ms=55.0 * n,
        votes=(("42", float(n - n // 4)), ("41", float(n // 4))) if n > 1 else (),
    )


def write_ledger(path: Path, runs: int, per_run: int) -> list[str]:
    """`runs` runs of `per_run` decisions; returns the run ids."""
    ledger = Ledger(path, batch_size=1000)
    ids = []
    for r in range(runs):
        run_id = ledger.start_run(CREWS[r % len(CREWS)], backend="scripted", policy="adaptive")
        for i in range(per_run):
            ledger.record(run_id, _decision(f"task-{i:05d}", r * per_run + i))
        ledger.finish_run(run_id)
        ids.append(run_id)
    ledger.close()
    with duckdb.connect(str(path)) as db:  # spread the runs over 30 days
        for r, run_id in enumerate(ids):
            shift = f"INTERVAL {(len(ids) - r) * 30 // max(len(ids), 1)} DAY"
            db.execute(
                f"UPDATE runs SET started_at = started_at - {shift}, "
                f"finished_at = finished_at - {shift} WHERE run_id = ?",
                [run_id],
            )
            db.execute(
                f"UPDATE decisions SET decided_at = decided_at - {shift} WHERE run_id = ?",
                [run_id],
            )
    return ids


def serve(db: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "ui", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    if not line or "http://" not in line[0]:
        proc.kill()
        raise SystemExit(f"accord ui did not start: {line}")
    return proc, line[0][line[0].index("http://") :].split()[0]


def timed(client: httpx.Client, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    reply = client.get(url)
    elapsed = time.perf_counter() - start
    if reply.status_code != 200:
        raise SystemExit(f"{url}: {reply.status_code} {reply.text[:200]}")
    return elapsed, len(reply.content)


def measure(db: Path, pages: list[tuple[str, str]], repeats: int) -> list[tuple]:
    proc, base = serve(db)
    rows = []
    try:
        with httpx.Client(timeout=60) as client:
            for name, path in pages:
                cold, size = timed(client, base + path)
                samples = sorted(timed(client, base + path)[0] for _ in range(repeats))
                p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
                rows.append((name, cold, statistics.median(samples), p95, samples[-1], size))
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


def report(title: str, rows: list[tuple]) -> bool:
    print(f"\n{title}")
    print(f"  {'page':<34} {'first':>8} {'median':>8} {'p95':>8} {'max':>8} {'size':>9}")
    ok = True
    for name, cold, median, p95, top, size in rows:
        if "fetched after" not in name:
            ok &= top < BUDGET_S and cold < BUDGET_S
        print(
            f"  {name:<34} {cold * 1e3:>6.0f}ms {median * 1e3:>6.0f}ms {p95 * 1e3:>6.0f}ms "
            f"{top * 1e3:>6.0f}ms {size / 1024:>7.0f}kB"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        many, one = Path(tmp) / "many.duckdb", Path(tmp) / "one.duckdb"
        start = time.perf_counter()
        ids = write_ledger(many, 40, args.decisions // 40)
        (big,) = write_ledger(one, 1, args.decisions)
        with duckdb.connect(str(many), read_only=True) as db:
            (decisions, attempts) = db.execute(
                "SELECT count(*), (SELECT count(*) FROM attempts) FROM decisions"
            ).fetchone()
        print(
            f"ledgers written in {time.perf_counter() - start:.1f} s: {decisions:,} decisions "
            f"({attempts:,} attempts, prompts and tallies kept) in 40 runs of 3 crews over 30 "
            f"days, and one run of {args.decisions:,} (scripted, synthetic)"
        )
        ok &= report(
            f"40 runs, {decisions:,} decisions ({args.repeats} loads per page after the first)",
            measure(
                many,
                [
                    ("runs (all 40)", "runs"),
                    ("runs, crew + last 7 days", "runs?crew=triage&period=7d"),
                    ("a run (250 decisions)", f"runs/{ids[-1]}"),
                    ("a decision (a vote)", f"runs/{ids[-1]}/decisions/task-00006"),
                    ("cost over time, by crew", "cost"),
                    ("cost over time, by model", "cost?split=model"),
                ],
                args.repeats,
            ),
        )
        ok &= report(
            f"one run of {args.decisions:,} decisions",
            measure(
                one,
                [
                    ("runs", "runs"),
                    (f"the run (page 1 of {args.decisions // 200})", f"runs/{big}"),
                    ("the run, last page", f"runs/{big}?page={args.decisions // 200 - 1}"),
                    ("the run, votes only", f"runs/{big}?path=vote"),
                    ("a decision (a vote)", f"runs/{big}/decisions/task-{args.decisions - 3:05d}"),
                    ("cost over time", "cost"),
                    ("the audit verdict (fetched after)", f"runs/{big}/audit"),
                ],
                args.repeats,
            ),
        )
    print(f"\nevery page under {BUDGET_S:.0f} s (audit verdicts aside): {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
