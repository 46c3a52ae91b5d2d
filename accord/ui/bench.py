"""Bench results for the UI: the runs of `accord bench`, a run's strategy table and its
Pareto frontier (accuracy against cost per item)."""

from __future__ import annotations

from typing import Any, Literal

from accord.bench.report import is_peer
from accord.bench.stats import pareto_front
from accord.bench.strategies import BASELINE
from accord.ui.charts import Point, pareto
from accord.ui.fmt import short_number, usd
from accord.ui.store import BENCH_TABLES, Reader

CostAxis = Literal["tokens", "usd"]


def available(db: Reader) -> bool:
    """Whether the file holds bench tables."""
    return db.has(*BENCH_TABLES)


def bench_runs(db: Reader) -> list[dict[str, Any]]:
    """Every bench run, newest first, with how many strategies it summarised."""
    return db.rows(
        """SELECT b.*, (SELECT count(*) FROM bench_summary s WHERE s.run_id = b.run_id)
                   AS n_strategies
           FROM bench_runs b ORDER BY b.started_at DESC NULLS LAST, b.run_id"""
    )


def bench_run(db: Reader, run_id: str) -> dict[str, Any] | None:
    """One bench run's record, or None."""
    return db.one("SELECT * FROM bench_runs WHERE run_id = ?", [run_id])


def summary(db: Reader, run_id: str) -> list[dict[str, Any]]:
    """A bench run's per-strategy rows in the order they ran, with tokens per item."""
    rows = db.rows(
        "SELECT * FROM bench_summary WHERE run_id = ? ORDER BY position, strategy", [run_id]
    )
    for r in rows:
        r["tokens"] = float(r["prompt_tokens"] or 0) + float(r["completion_tokens"] or 0)
    return rows


def _group(strategy: str) -> int:
    if strategy == BASELINE:
        return 1
    return 2 if is_peer(strategy) else 0


def frontier(rows: list[dict[str, Any]], axis: CostAxis, simulated: bool) -> tuple[Any, set[str]]:
    """The Pareto SVG of `rows` on the cost `axis`, and the strategies on the frontier."""
    cost_key = "tokens" if axis == "tokens" else "cost_usd"
    points = []
    for r in rows:
        tip = (
            f"{'SIMULATED · ' if simulated else ''}{r['strategy']}\n"
            f"accuracy {r['accuracy']:.1%} (95% interval {r['ci_low']:.1%}-{r['ci_high']:.1%})\n"
            f"{short_number(r['tokens'])} tokens/item · {usd(r['cost_usd'])}/item\n"
            f"escalated {float(r['escalation'] or 0):.0%} · {r['n_items']} items"
        )
        points.append(
            Point(
                r["strategy"],
                float(r[cost_key] or 0),
                float(r["accuracy"] or 0),
                float(r["ci_low"] if r["ci_low"] is not None else r["accuracy"] or 0),
                float(r["ci_high"] if r["ci_high"] is not None else r["accuracy"] or 0),
                tip,
                _group(r["strategy"]),
            )
        )
    front = pareto_front([(p.cost, p.accuracy) for p in points])
    label = "tokens per item (prompt + completion)" if axis == "tokens" else "USD per item"
    if simulated:
        label += " · SIMULATED"
    return pareto(points, front, cost_label=label), {points[i].name for i in front}
