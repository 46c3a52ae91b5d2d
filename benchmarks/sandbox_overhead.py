"""Sandbox start-to-exit overhead: a trivial Python program under bubblewrap vs a bare subprocess.

    python benchmarks/sandbox_overhead.py [--runs 40]

Both are timed in the same run, interleaved, after a warm-up; prints p50/p95 of each and of the
difference. Target: <= 50 ms added at p50.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from accord.sandbox import BubblewrapSandbox, Limits
from accord.sandbox.program import PYTHON_FLAGS, host_interpreter

PROGRAM = "print('ok')\n"


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    opts = parser.parse_args()

    python = host_interpreter().executable
    sandbox = BubblewrapSandbox()
    sandbox.check()
    limits = Limits()
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "main.py"
        script.write_text(PROGRAM)

        def bare() -> None:
            done = subprocess.run(
                [python, *PYTHON_FLAGS, str(script)], capture_output=True, cwd=work, check=True
            )
            assert done.stdout == b"ok\n"

        def boxed() -> None:
            result = sandbox.run(python_code=PROGRAM, limits=limits)
            assert result.ok and result.stdout == b"ok\n", result

        for _ in range(opts.warmup):
            bare()
            boxed()
        times: dict[str, list[float]] = {"bare subprocess": [], "bubblewrap sandbox": []}
        for _ in range(opts.runs):  # interleaved, so machine load hits both alike
            times["bare subprocess"].append(timed(bare))
            times["bubblewrap sandbox"].append(timed(boxed))

    added = [
        s - b for b, s in zip(times["bare subprocess"], times["bubblewrap sandbox"], strict=True)
    ]
    print(
        f"trivial Python program ({python}), {opts.runs} runs each, interleaved, "
        f"after {opts.warmup} warm-up runs"
    )
    print(f"{'':22} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in [*times.items(), ("added by sandbox", added)]:
        print(
            f"{name:22} {quantile(values, 0.5):8.1f} {quantile(values, 0.95):8.1f} "
            f"{statistics.fmean(values):8.1f}"
        )
    verdict = "meets" if quantile(added, 0.5) <= 50 else "MISSES"
    print(f"added at p50: {quantile(added, 0.5):.1f} ms ({verdict} the <= 50 ms target)")


if __name__ == "__main__":
    main()
