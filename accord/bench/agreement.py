"""Live vs replayed: do the two ways of measuring a strategy agree on the items both ran?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.bench.stats import accuracy_ci
from accord.bench.store import BenchStore


def _rows(store: BenchStore, run_id: str, mode: str) -> dict[tuple[str, str], float]:
    with store.connect() as db:
        found = db.execute(
            "SELECT strategy, item_key, correct FROM bench_results WHERE run_id = ? AND mode = ?",
            [run_id, mode],
        ).fetchall()
    return {(s, k): c for s, k, c in found}


def agreement(store: BenchStore, runs: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(strategy, items, live acc, live CI, replay acc, replay CI, overlap, live run, replay run)
    per strategy present in a live run and a replay run."""
    live = [r for r in runs if r["mode"] == "live"]
    replay = [r for r in runs if r["mode"] == "replay"]
    out = []
    for lr in live:
        lrows = _rows(store, lr["run_id"], "live")
        for rr in replay:
            rrows = _rows(store, rr["run_id"], "replay")  # not peers' live rows
            for strategy in sorted({s for s, _ in lrows}):
                keys = [k for s, k in lrows if s == strategy and (s, k) in rrows]
                if not keys:
                    continue
                a = [lrows[(strategy, k)] for k in keys]
                b = [rrows[(strategy, k)] for k in keys]
                ca, cb = accuracy_ci(a), accuracy_ci(b)
                overlap = ca[0] <= cb[1] and cb[0] <= ca[1]
                mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
                row = (strategy, len(keys), mean_a, ca, mean_b, cb, overlap)
                out.append((*row, lr["run_id"], rr["run_id"]))
    return out


def agreement_markdown(store: BenchStore, runs: Sequence[dict[str, Any]]) -> str:
    """A Markdown section comparing live and replayed accuracy (empty without both kinds)."""
    rows = agreement(store, runs)
    if not rows:
        return ""
    lines = [
        "## Live vs replayed accuracy on the same items",
        "",
        "| live run | replay run | strategy | items | live % [95% CI] | replayed % [95% CI] "
        "| intervals overlap |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy, n, la, lc, ra, rc, overlap, live_run, replay_run in rows:
        lines.append(
            f"| `{live_run}` | `{replay_run}` | {strategy} | {n} | "
            f"{100 * la:.1f} [{100 * lc[0]:.1f}, {100 * lc[1]:.1f}] | "
            f"{100 * ra:.1f} [{100 * rc[0]:.1f}, {100 * rc[1]:.1f}] | "
            f"{'yes' if overlap else 'NO'} |"
        )
    lines += [
        "",
        "Live `single` and the replayed greedy primary are the same deterministic call, so "
        "they match exactly; voted strategies differ by which recorded samples are drawn.",
    ]
    return "\n".join(lines)
