"""Ledger integrity: replays are idempotent, failed flushes leave nothing, readers read mid-run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from accord.consensus.records import Attempt, Decision, Verdict
from accord.ledger import Ledger, list_runs
from accord.ledger.reader import open_readonly

ROOT = Path(__file__).resolve().parents[2]


def _decision(task: str, n_attempts: int = 2) -> Decision:
    attempts = tuple(
        Attempt(
            task_id=task,
            role="r",
            model="scripted",
            answer="a",
            raw="a",
            prompt_tokens=3,
            completion_tokens=1,
            model_ms=1.0,
            seed=i,
            temperature=0.0,
            verdict=Verdict(True),
        )
        for i in range(n_attempts)
    )
    return Decision(
        task_id=task,
        answer="a",
        confidence=0.9,
        path="single",
        stop_reason="confident",
        status="accepted",
        policy="single",
        attempts=attempts,
        wall_ms=1.0,
    )


def _counts(path: Path, run_id: str) -> tuple[int, int, int]:
    with open_readonly(path) as db:
        row = db.execute(
            "SELECT (SELECT count(*) FROM decisions WHERE run_id = ?), "
            "(SELECT count(*) FROM attempts WHERE run_id = ?), "
            "(SELECT sum(n_attempts) FROM decisions WHERE run_id = ?)",
            [run_id, run_id, run_id],
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2] or 0)


def test_replayed_decisions_are_recorded_once(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path, batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    for task in ("t1", "t2", "t1"):  # a duplicate inside one batch
        ledger.record(run, _decision(task))
    assert ledger.flush() == 2
    ledger.record(run, _decision("t2", n_attempts=5))  # a replay after the flush
    ledger.record(run, _decision("t3"))
    assert ledger.flush() == 1
    assert _counts(ledger_path, run) == (3, 6, 6)  # the replay's 5 attempts were not added


def test_restarting_a_run_id_reopens_it_instead_of_failing(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path)
    run = ledger.start_run("c")
    ledger.finish_run(run, "interrupted")
    assert ledger.start_run("c", run_id=run) == run
    ledger.flush()
    runs = list_runs(ledger_path)
    assert [(r["run_id"], r["status"]) for r in runs] == [(run, "running")]


def test_one_refused_decision_does_not_sink_its_batch() -> None:
    ledger = Ledger(":memory:", batch_size=1000, flush_seconds=3600)
    run = ledger.start_run("c")
    ledger.record(run, _decision("good"))
    broken = _decision("bad")
    attempt = replace(broken.attempts[0], role=None)  # type: ignore[arg-type]
    ledger.record(run, replace(broken, attempts=(attempt,)))  # attempts.role is NOT NULL
    ledger.record(run, _decision("after"))
    assert ledger.flush() == 2
    stored = ledger.query("SELECT task_id FROM decisions ORDER BY task_id")
    assert stored == [("after",), ("good",)]
    assert [(r.task_id, "NOT NULL" in r.error) for r in ledger.rejected] == [("bad", True)]
    ledger.record(run, _decision("later"))
    assert ledger.flush() == 1


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_ledger_integrity import _decision
    from accord.ledger import Ledger

    ledger = Ledger({db!r}, batch_size=1000, flush_seconds=0.4)
    run = ledger.start_run("busy", run_id="busy-run")
    print("started", flush=True)
    for i in range({n}):
        ledger.record(run, _decision(f"t{{i}}"))
        time.sleep(0.01)
    ledger.finish_run(run)
    print("done", flush=True)
""")


def test_another_process_reads_the_ledger_while_a_run_writes_it(ledger_path: Path) -> None:
    n = 250  # ~2.5 s of decisions, flushed every 0.4 s (one file flush costs ~0.1 s)
    script = WRITER.format(tests=str(Path(__file__).parent), db=str(ledger_path), n=n)
    writer = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
    seen: list[tuple[int, str]] = []
    try:
        while writer.poll() is None:
            runs = list_runs(ledger_path)  # [] until the run's row is in (written at once)
            if runs:
                seen.append((int(runs[0]["decisions"]), str(runs[0]["status"])))
            time.sleep(0.1)
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert "done" in out
    counts = [c for c, _ in seen]
    assert counts == sorted(counts)  # never a torn or rolled-back read
    mid_run = {c for c, status in seen if status == "running" and 0 < c < n}
    assert len(mid_run) >= 3, seen[:20]  # the reader really read during the run
    assert _counts(ledger_path, "busy-run") == (n, 2 * n, 2 * n)
    assert list_runs(ledger_path)[0]["status"] == "finished"
