"""From item x strategy rows to one summary row per strategy, paired against the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from accord.bench.stats import accuracy_ci, holm, mcnemar, paired_diff_ci, paired_permutation
from accord.bench.store import ResultRow, SummaryRow
from accord.bench.strategies import BASELINE, Strategy


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def summarise(
    run_id: str,
    strategies: Sequence[Strategy],
    rows: Sequence[ResultRow],
    *,
    per_seed: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
) -> list[SummaryRow]:
    """Per-strategy measures; paired tests against vote@5 on the items both ran.

    Live rows hold 0/1 outcomes and get an exact McNemar test; replayed rows hold per-item rates
    over replay seeds and get a sign-flip permutation test on the per-item differences (so do
    live rows, such as peers', compared with a replayed baseline).
    `per_seed` (strategy -> seeds x items 0/1 matrix) adds the spread over replay seeds.
    `p_holm` adjusts every p-value for the family of all the run's comparisons (Holm).
    """
    by_strategy: dict[str, dict[str, ResultRow]] = {}
    for row in rows:
        by_strategy.setdefault(row.strategy, {})[row.item_key] = row
    base = by_strategy.get(BASELINE, {})
    out = []
    for position, strategy in enumerate(strategies):
        mine = by_strategy.get(strategy.name, {})
        if not mine:
            continue
        items = list(mine.values())
        correct = [r.correct for r in items]
        low, high = accuracy_ci(correct, seed=seed)
        summary = SummaryRow(
            run_id=run_id,
            strategy=strategy.name,
            position=position,
            description=strategy.description,
            mode=items[0].mode,
            n_items=len(items),
            accuracy=_mean(correct),
            ci_low=low,
            ci_high=high,
            seed_low=None,
            seed_high=None,
            delta=None,
            delta_low=None,
            delta_high=None,
            p_value=None,
            test="",
            prompt_tokens=_mean([r.prompt_tokens for r in items]),
            completion_tokens=_mean([r.completion_tokens for r in items]),
            wall_ms=_mean([r.wall_ms for r in items]),
            overhead_ms=_mean([r.wall_ms - r.model_ms for r in items]),
            escalation=_mean([r.escalated for r in items]),
            cost_usd=_mean([r.cost_usd for r in items]),
            flops=_mean([r.flops or 0.0 for r in items])  # all known (below)
            if all(r.flops is not None for r in items)
            else None,
        )
        if per_seed is not None and strategy.name in per_seed:
            accs = per_seed[strategy.name].mean(axis=1)
            summary.seed_low, summary.seed_high = (
                float(v) for v in np.percentile(accs, [2.5, 97.5])
            )
        _pair(summary, mine, base, seed)
        out.append(summary)
    for summary, adjusted in zip(out, holm([r.p_value for r in out]), strict=True):
        summary.p_holm = adjusted
    return out


def _pair(
    summary: SummaryRow, mine: Mapping[str, ResultRow], base: Mapping[str, ResultRow], seed: int
) -> None:
    shared = [k for k in mine if k in base]
    if not shared or summary.strategy == BASELINE:
        return
    a = [mine[k].correct for k in shared]
    b = [base[k].correct for k in shared]
    summary.delta = _mean(a) - _mean(b)
    summary.delta_low, summary.delta_high = paired_diff_ci(a, b, seed=seed)
    base_mode = next(iter(base.values())).mode
    if summary.mode == "live" and base_mode == "live":
        _, _, summary.p_value = mcnemar([x >= 0.5 for x in a], [x >= 0.5 for x in b])
        summary.test = "McNemar exact"
    else:
        summary.p_value = paired_permutation(a, b, seed=seed)
        summary.test = "paired sign-flip"
