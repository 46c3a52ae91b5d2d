"""What the audit trail costs: sealing a run's decisions when it ends, and verifying them.

Writes runs of N synthetic decisions (two attempts each) to a temporary ledger, times
`Ledger.finish_run` with and without the seal (interleaved), then `verify_ledger` over every
run. CPU time of this process (DuckDB's threads included), so that a loaded machine does not
inflate it; medians of --runs runs:

    python benchmarks/audit_overhead.py [--decisions 100 1000] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import accord.ledger.writer as writer
from accord.consensus.records import Attempt, Decision
from accord.ledger.audit_verify import verify_ledger
from accord.ledger.writer import Ledger


def decision(i: int) -> Decision:
    attempt = Attempt(
        task_id=f"t{i}",
        role="solver",
        model="m",
        answer="42",
        raw="42",
        prompt_tokens=50,
        completion_tokens=5,
        model_ms=1.0,
        seed=i,
        temperature=0.0,
    )
    return Decision(
        f"t{i}", "42", 0.9, "single", "confident", "accepted", "adaptive", (attempt,) * 2, 1.0
    )


def finish_ms(path: Path, n: int, *, seal: bool) -> float:
    ledger = Ledger(path)
    run_id = ledger.start_run("audit-bench")
    for i in range(n):
        ledger.record(run_id, decision(i))
    start = time.process_time()
    if seal:
        ledger.finish_run(run_id)
    else:
        with mock.patch.object(writer, "seal_run", lambda *_, **__: 0):
            ledger.finish_run(run_id)
    return (time.process_time() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="accord-audit-bench-"))
    os.environ.setdefault("ACCORD_AUDIT_KEY_FILE", str(folder / "audit.key"))
    for n in args.decisions:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.runs):
            for seal in (False, True):
                times[seal].append(finish_ms(folder / f"{n}-{seal}.duckdb", n, seal=seal))
        plain, sealed = statistics.median(times[False]), statistics.median(times[True])
        start = time.process_time()
        report = verify_ledger(folder / f"{n}-True.duckdb")
        verify = (time.process_time() - start) * 1000
        print(
            f"{n} decisions/run: finish_run {plain:.1f} ms CPU without the seal, {sealed:.1f} ms "
            f"with it ({(sealed - plain) / n:.3f} ms per decision); verify of {args.runs} runs "
            f"{verify:.0f} ms ({verify / (n * args.runs):.3f} ms per decision, ok={report.ok})"
        )


if __name__ == "__main__":
    main()
