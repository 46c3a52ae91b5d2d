"""A signal stops an in-process (`--pool local`) run while a model call is blocked in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from accord.ledger import list_runs, run_decisions

ROOT = Path(__file__).resolve().parents[2]
ACCORD = ROOT / ".venv" / "bin" / "accord"
HANG_S = 600  # the slow model's every call: far longer than any bound below


def _crew_file(folder: Path) -> Path:
    """t0 answered at once, then t1 on a model whose call blocks for HANG_S."""
    crew = {
        "name": "stuck",
        "models": {
            "fast": {"backend": "scripted", "options": {"script": {"Q0": "A0"}}},
            "slow": {
                "backend": "scripted",
                "options": {"script": {"Q1": "A1"}, "latency_s": HANG_S},
            },
        },
        "roles": [{"name": "quick", "model": "fast"}, {"name": "stuck", "model": "slow"}],
        "policy": {"kind": "single"},
        "tasks": [
            {"id": "t0", "question": "Q0?", "role": "quick"},
            {"id": "t1", "question": "Q1? after {t0}", "role": "stuck", "depends_on": ["t0"]},
        ],
    }
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(crew, sort_keys=False))
    return path


def _wait_for_first_decision(db: Path, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if db.exists():
            runs = list_runs(db)
            if runs and runs[0]["decisions"] >= 1:
                return str(runs[0]["run_id"])
        time.sleep(0.1)
    raise AssertionError("the run wrote no decision")


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)]
)
def test_a_signal_stops_a_local_run_during_a_blocked_model_call(
    tmp_path: Path, signum: int
) -> None:
    crew, db = _crew_file(tmp_path), tmp_path / "ledger.duckdb"
    process = subprocess.Popen(
        [str(ACCORD), "run", str(crew), "--db", str(db), "--pool", "local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        cwd=tmp_path,
    )
    try:
        run_id = _wait_for_first_decision(db, process)  # t1's call is now blocked
        time.sleep(0.5)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)  # generous: the call blocks for HANG_S
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert f"run {run_id!r} interrupted" in err
    assert list_runs(db)[0]["status"] == "interrupted"
    assert {r["task_id"]: r["answer"] for r in run_decisions(db, run_id)} == {"t0": "A0"}
