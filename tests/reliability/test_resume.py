"""Interrupted and crashed runs: signals stop cleanly, `--resume` reuses what the ledger holds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from accord import Crew
from accord.errors import ConfigError, RunInterrupted
from accord.ledger import list_runs, run_decisions
from accord.ledger.reader import open_readonly

ROOT = Path(__file__).resolve().parents[2]
ACCORD = ROOT / ".venv" / "bin" / "accord"
N = 60


def _crew_file(folder: Path, latency_s: float = 0.0) -> Path:
    """A scripted crew of N tasks; the last ten depend on earlier answers."""
    tasks = []
    for i in range(N):
        task = {"id": f"t{i}", "question": f"Q{i}?"}
        if i >= N - 10:
            task["question"] = f"Q{i}? given {{t{i - 10}}}"
            task["depends_on"] = [f"t{i - 10}"]
        tasks.append(task)
    crew = {
        "name": "resumable",
        "seed": 3,
        "concurrency": 2,
        "models": {
            "fake": {
                "backend": "scripted",
                "options": {
                    "latency_s": latency_s,
                    "script": {f"Q{i}?": f"A{i}" for i in range(N)},
                },
            }
        },
        "roles": [{"name": "solver", "model": "fake"}],
        "policy": {"kind": "single"},
        "tasks": tasks,
    }
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(crew, sort_keys=False))
    return path


def _stored(db: Path, run_id: str) -> dict[str, str]:
    return {row["task_id"]: row["answer"] for row in run_decisions(db, run_id)}


def _attempt_count(db: Path, run_id: str) -> int:
    with open_readonly(db) as con:
        row = con.execute("SELECT count(*) FROM attempts WHERE run_id = ?", [run_id]).fetchone()
    return int(row[0]) if row else 0


EXPECTED = {f"t{i}": f"A{i}" for i in range(N)}


def test_resume_reuses_decisions_and_recomputes_only_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    crew = Crew.from_yaml(_crew_file(tmp_path))
    seen: list[str] = []

    def stop_after_25(task: object, decision: object) -> None:
        seen.append(decision.task_id)  # type: ignore[attr-defined]
        if len(seen) == 25:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as stopped:
        crew.run(db=db, pool="local", on_decision=stop_after_25)
    run_id = stopped.value.run_id
    assert list_runs(db)[0]["status"] == "interrupted"
    assert len(_stored(db, run_id)) == 25  # flushed on the way out

    again: list[str] = []
    result = Crew.from_yaml(_crew_file(tmp_path)).run(
        db=db, pool="local", resume=run_id, on_decision=lambda t, d: again.append(d.task_id)
    )
    assert result.run_id == run_id
    assert len(again) == N - 25 and not set(again) & set(seen)  # nothing recomputed
    assert result.answers == EXPECTED
    assert len(result.decisions) == N and result.accuracy is None
    assert _stored(db, run_id) == EXPECTED
    assert _attempt_count(db, run_id) == N
    assert list_runs(db)[0]["status"] == "finished"


def test_resume_refuses_an_unknown_run_or_another_crew(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    crew = Crew.from_yaml(_crew_file(tmp_path))
    with pytest.raises(ConfigError, match="no run 'nope' in the ledger"):
        crew.run(db=db, pool="local", resume="nope")
    run_id = crew.run(db=db, pool="local").run_id
    other = Crew.from_yaml(_crew_file(tmp_path))
    other.spec = other.spec.model_copy(update={"name": "other"})
    with pytest.raises(ConfigError, match="is a run of crew 'resumable'"):
        other.run(db=db, pool="local", resume=run_id)


def _start(crew: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [str(ACCORD), "run", str(crew), "--db", str(db), "--pool", "local", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=crew.parent,
    )


def _wait_for_decisions(db: Path, at_least: int, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if db.exists():
            runs = list_runs(db)
            if runs and runs[0]["decisions"] >= at_least:
                return str(runs[0]["run_id"])
        time.sleep(0.1)
    raise AssertionError("the run wrote no decisions")


def _resume_and_check(crew: Path, db: Path, run_id: str) -> None:
    done = subprocess.run(
        [str(ACCORD), "run", str(crew), "--db", str(db), "--pool", "local", "--resume", run_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _stored(db, run_id) == EXPECTED  # the same answers as an uninterrupted run
    assert _attempt_count(db, run_id) == N  # each decision and attempt exactly once
    assert list_runs(db)[0]["status"] == "finished"


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)]
)
def test_a_signal_stops_the_run_cleanly_and_it_resumes(tmp_path: Path, signum: int) -> None:
    crew, db = _crew_file(tmp_path, latency_s=0.05), tmp_path / "ledger.duckdb"
    process = _start(crew, db)
    run_id = _wait_for_decisions(db, 1, process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert f"run {run_id!r} interrupted" in err and f"--resume {run_id}" in err
    assert list_runs(db)[0]["status"] == "interrupted"
    assert 0 < len(_stored(db, run_id)) < N
    _resume_and_check(crew, db, run_id)


@pytest.mark.slow
def test_a_killed_process_loses_at_most_its_buffer_and_resumes(tmp_path: Path) -> None:
    crew, db = _crew_file(tmp_path, latency_s=0.05), tmp_path / "ledger.duckdb"
    process = _start(crew, db)
    run_id = _wait_for_decisions(db, 10, process)
    time.sleep(0.3)
    process.kill()  # SIGKILL: no clean-up at all
    process.communicate(timeout=30)
    assert list_runs(db)[0]["status"] == "running"
    assert 10 <= len(_stored(db, run_id)) < N
    _resume_and_check(crew, db, run_id)


def test_a_run_restores_the_programs_own_sigterm_handler(tmp_path: Path) -> None:
    def mine(signum: int, frame: object) -> None:
        return None

    before = signal.signal(signal.SIGTERM, mine)
    try:
        Crew.from_yaml(_crew_file(tmp_path)).run(db=tmp_path / "l.duckdb", pool="local")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)
