"""The load benchmark on a small scale: every decision run is a ledger row, exactly once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("ray_cluster")
def test_load_benchmark_counts_match_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "benchmarks" / "load.py")
    assert spec and spec.loader
    load = importlib.util.module_from_spec(spec)
    sys.modules["load_bench"] = load  # dataclasses look their module up there
    spec.loader.exec_module(load)
    code = load.main(
        [
            "--decisions",
            "300",
            "--roles",
            "2",
            "--checkpoints",
            "100,300",
            "--db",
            str(tmp_path / "ledger.duckdb"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ledger rows: decisions 300 (ran 300)" in out and "-> OK" in out
    assert "30 escalated" in out  # one task in ten
