"""The bench end to end on the simulated population and a scripted backend: live, cached,
replayed, stored in DuckDB, reported."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from accord.bench.report import write_report
from accord.bench.runner import BenchConfig, run_bench
from accord.bench.store import BenchStore
from accord.cli.app import app


def _summary(db: Path, run_id: str) -> dict[str, object]:
    return {r.strategy: r for r in BenchStore(db).summary(run_id)}


def test_live_run_stores_rows_summary_and_ledger_and_reruns_from_cache(tmp_path: Path) -> None:
    db = tmp_path / "l.duckdb"
    config = BenchConfig(
        tasks="simulated:100",
        strategies="single,vote@5,adaptive",
        backend="simulated",
        db=db,
        ledger=True,
    )
    first = run_bench(config)
    rows = _summary(db, first)
    assert set(rows) == {"single", "vote@5", "adaptive@0.8"}
    single, vote, adaptive = rows["single"], rows["vote@5"], rows["adaptive@0.8"]
    assert vote.accuracy > single.accuracy  # type: ignore[attr-defined]
    assert adaptive.prompt_tokens < vote.prompt_tokens  # type: ignore[attr-defined]
    assert single.test == "McNemar exact" and single.p_value is not None  # type: ignore[attr-defined]
    with duckdb.connect(str(db), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM bench_results WHERE run_id = ?", [first]).fetchone()
        ledger = con.execute("SELECT count(*) FROM decisions").fetchone()
    assert n == (300,) and ledger == (300,)
    second = run_bench(
        BenchConfig(tasks="simulated:100", strategies="single,vote@3", backend="simulated", db=db)
    )
    with duckdb.connect(str(db), read_only=True) as con:
        cached = con.execute(
            "SELECT strategy, bool_and(cached) FROM bench_results "
            "WHERE run_id = ? GROUP BY strategy ORDER BY strategy",
            [second],
        ).fetchall()
    assert cached == [("single", True), ("vote@3", False)]


def test_replay_run_labels_rows_and_carries_a_seed_spread(tmp_path: Path) -> None:
    db = tmp_path / "l.duckdb"
    run_id = run_bench(
        BenchConfig(
            tasks="simulated:80",
            strategies="single,vote@5,adaptive",
            backend="simulated",
            db=db,
            replay=6,
            replay_seeds=5,
        )
    )
    rows = _summary(db, run_id)
    adaptive = rows["adaptive@0.8"]
    assert adaptive.mode == "replay" and adaptive.test == "paired sign-flip"  # type: ignore[attr-defined]
    assert adaptive.seed_low <= adaptive.accuracy <= adaptive.seed_high  # type: ignore[attr-defined]
    md, (png,) = write_report(db, run_id, tmp_path / "out")
    text = md.read_text()
    assert "SIMULATED" in text and "replayed from 6 recorded samples" in text
    assert "| p Holm |" in text and "picked in-sample" in text
    assert png.stat().st_size > 10_000
    page, pngs = write_report(db, [run_id, run_id], tmp_path / "docs", page="RESULTS.md")
    assert page.name == "RESULTS.md" and len(pngs) == 2
    assert page.read_text().startswith("# Bench results")


def test_p_values_are_adjusted_for_the_family_of_the_runs_comparisons(tmp_path: Path) -> None:
    from accord.bench.stats import holm

    db = tmp_path / "l.duckdb"
    run_id = run_bench(
        BenchConfig(
            tasks="simulated:150",
            strategies="single,vote@3,vote@5,adaptive-sweep",
            backend="simulated",
            db=db,
        )
    )
    rows = BenchStore(db).summary(run_id)
    tested = [r for r in rows if r.p_value is not None]
    assert len(tested) == 8  # single, vote@3 and the six thresholds of the sweep
    assert [r.p_holm for r in tested] == pytest.approx(holm([r.p_value for r in tested]))
    assert all(r.p_holm >= r.p_value for r in tested)  # type: ignore[operator]
    assert next(r for r in rows if r.strategy == "vote@5").p_holm is None


def test_scripted_backend_on_a_bigbench_file_by_path(tmp_path: Path) -> None:
    task = {"examples": [{"input": f"What is {i} plus 1?", "target": str(i + 1)} for i in range(6)]}
    path = tmp_path / "plus.json"
    path.write_text(json.dumps(task))
    script = {f"What is {i} plus 1?": [str(i + 1), f"{i + 1}.0", f" {i + 1} "] for i in range(6)}
    run_id = run_bench(
        BenchConfig(
            tasks=str(path),
            strategies="single,vote@3",
            backend="scripted",
            backend_options={"script": script},
            db=tmp_path / "l.duckdb",
        )
    )
    rows = _summary(tmp_path / "l.duckdb", run_id)
    assert rows["single"].accuracy == 1.0  # type: ignore[attr-defined]
    assert rows["vote@3"].accuracy == 1.0  # type: ignore[attr-defined]


def test_cli_bench_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "bench",
            "--backend",
            "simulated",
            "--tasks",
            "simulated:100",
            "--strategies",
            "single,vote@5",
            "--out",
            "out",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.output
    assert (tmp_path / "out" / "report.md").is_file()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["strategies"]
    assert [s["strategy"] for s in summary] == ["single", "vote@5"]
    assert summary[1]["items"] == 100 and summary[1]["tokens_per_item"] > 0
    assert set(summary[0]) >= {"label", "accuracy", "tokens_per_item", "usd_per_item"}
    again = runner.invoke(app, ["report", "latest", "--out", "again"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again" / "pareto.png").is_file()


def test_live_and_replayed_single_agree_exactly(tmp_path: Path) -> None:
    from accord.bench.agreement import agreement

    db = tmp_path / "l.duckdb"
    common = {"tasks": "simulated:60", "backend": "simulated", "db": db}
    replayed = run_bench(
        BenchConfig(strategies="single,vote@3", replay=5, replay_seeds=4, **common)
    )
    live = run_bench(BenchConfig(strategies="single,vote@3", **common))
    store = BenchStore(db)
    rows = {r[0]: r for r in agreement(store, [store.run(live), store.run(replayed)])}
    assert rows["single"][2] == rows["single"][4]
    assert rows["vote@3"][6]  # intervals overlap
