"""Check a bench run against issue 4's target: adaptive within 1.0 accuracy point of vote@5 at
<= 50% of its tokens, with the paired test and intervals. Also picks, from the threshold sweep,
the cheapest adaptive threshold that meets the target on this run (in-sample).

    python benchmarks/consensus.py DB [RUN]      (RUN defaults to the newest bench run)
"""

from __future__ import annotations

import sys

from accord.bench.store import BenchStore, SummaryRow

TARGET_POINTS = 1.0
TARGET_TOKENS = 0.5


def _tokens(row: SummaryRow) -> float:
    return row.prompt_tokens + row.completion_tokens


def _holm(row: SummaryRow) -> str:
    return "-" if row.p_holm is None else f"{row.p_holm:.3g}"


def _line(row: SummaryRow, base: SummaryRow) -> str:
    ratio = _tokens(row) / _tokens(base)
    delta = 100 * (row.delta or 0.0)
    ok = abs(delta) <= TARGET_POINTS or delta > 0
    verdict = "MEETS" if ok and ratio <= TARGET_TOKENS else "MISSES"
    return (
        f"{row.strategy:>14}: accuracy {100 * row.accuracy:5.1f}% "
        f"[{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]  vs vote@5 {delta:+.1f} pts "
        f"[{100 * (row.delta_low or 0):+.1f}, {100 * (row.delta_high or 0):+.1f}], "
        f"p={row.p_value:.3g} ({row.test}, Holm over the run {_holm(row)}); "
        f"tokens {ratio:.0%} of vote@5 -> {verdict}"
    )


def main(argv: list[str]) -> int:
    """Print the comparison; exit 0 whatever it finds (it reports, it does not gate)."""
    store = BenchStore(argv[1] if len(argv) > 1 else ".accord/bench-consensus.duckdb")
    run_id = argv[2] if len(argv) > 2 else store.latest_run()
    run = store.run(run_id or "")
    if run is None:
        print("no bench run found; run `make bench-consensus` first")
        return 1
    rows = {r.strategy: r for r in store.summary(run["run_id"])}
    base = rows.get("vote@5")
    if base is None:
        print("the run has no vote@5 row to compare with")
        return 1
    label = "SIMULATED" if run["simulated"] else f"embedded model ({run['backend']})"
    mode = (
        "live"
        if run["mode"] == "live"
        else f"replayed from {run['samples_k']} recorded samples, {run['replay_seeds']} seeds"
    )
    print(f"[{label}] run {run['run_id']}: {run['n_items']} items, {mode}")
    print(
        f"{'vote@5':>14}: accuracy {100 * base.accuracy:5.1f}% "
        f"[{100 * base.ci_low:.1f}, {100 * base.ci_high:.1f}], {_tokens(base):.1f} tokens/item"
    )
    adaptive = [r for name, r in rows.items() if name.startswith("adaptive@")]
    for row in adaptive:
        print(_line(row, base))
    meeting = [r for r in adaptive if (100 * (r.delta or 0) >= -TARGET_POINTS)]
    if meeting:
        best = min(meeting, key=_tokens)
        print(
            f"threshold chosen from the sweep (cheapest within {TARGET_POINTS:g} pt of "
            f"vote@5, in-sample): {best.strategy} at {_tokens(best) / _tokens(base):.0%} "
            "of vote@5's tokens"
        )
        print(
            "  (picked on these same items: its difference and p are optimistic for new items;"
            " confirm it on a disjoint split)"
        )
    else:
        print(f"no adaptive threshold in this run is within {TARGET_POINTS:g} point of vote@5")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
