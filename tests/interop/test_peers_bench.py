"""`make bench-peers` runs: all three frameworks answer every task and the table prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_peer_benchmark_runs_all_three_frameworks(tmp_path: Path) -> None:
    pytest.importorskip("crewai", reason="pip install 'accord[crewai]'")
    pytest.importorskip("autogen_agentchat", reason="pip install 'accord[autogen]'")
    env = {**os.environ, "CREWAI_TELEMETRY_OPT_OUT": "true", "OTEL_SDK_DISABLED": "true"}
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "peers_overhead.py"),
            "--n",
            "6",
            "--repeats",
            "1",
            "--min-seconds",
            "0",
            "--no-ray",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {line.split("  ")[0]: line for line in out.stdout.splitlines()}
    for name in ("CrewAI (sequential crew)", "AutoGen (AssistantAgent)", "accord (in-process)"):
        assert name in rows, out.stdout
        assert rows[name].split()[-2] == "6/6" or " 6/6 " in rows[name], rows[name]
    assert "prompt tokens" in out.stdout and "overhead" in out.stdout
