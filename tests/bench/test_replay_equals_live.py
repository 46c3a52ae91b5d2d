"""Issue 23: a replayed bench must measure what a live run measures.

The same strategies run live and replayed (from enough recorded samples) on the simulated
backend, on the same items: every replayed accuracy must fall inside the live one's 95%
interval, and a paired difference with vote@5 that either run finds significant must have the
same sign in both.
"""

from __future__ import annotations

from pathlib import Path

from accord.bench.runner import BenchConfig, run_bench
from accord.bench.store import BenchStore, SummaryRow

STRATEGIES = "single,vote@3,vote@5,early-stop,adaptive,adaptive@0.9"


def _sign(row: SummaryRow) -> int:
    delta = row.delta or 0.0
    return (delta > 1e-12) - (delta < -1e-12)


def test_replayed_accuracy_and_paired_differences_agree_with_a_live_run(tmp_path: Path) -> None:
    common = {
        "tasks": "simulated:400",
        "backend": "simulated",
        "db": tmp_path / "bench.duckdb",
        "strategies": STRATEGIES,
    }
    live_run = run_bench(BenchConfig(**common))  # type: ignore[arg-type]
    replay_run = run_bench(BenchConfig(replay=5, replay_seeds=8, **common))  # type: ignore[arg-type]
    store = BenchStore(tmp_path / "bench.duckdb")
    live = {r.strategy: r for r in store.summary(live_run)}
    replayed = {r.strategy: r for r in store.summary(replay_run)}
    assert set(live) == set(replayed) and len(live) == 6
    for name, row in live.items():
        again = replayed[name]
        assert row.ci_low <= again.accuracy <= row.ci_high, (name, row, again)
        if name == "vote@5":
            continue
        significant = min(row.p_value or 1.0, again.p_value or 1.0) < 0.05
        if significant:
            assert _sign(row) == _sign(again), (name, row.delta, again.delta)
