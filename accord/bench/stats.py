"""Statistics for paired strategy comparisons: bootstrap and Wilson intervals, McNemar, a
sign-flip test (exact when small), Holm's adjustment, Pareto frontier."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb, sqrt
from statistics import NormalDist

import numpy as np


def bootstrap_ci(
    values: Sequence[float], *, n: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (resampling items)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> tuple[int, int, float]:
    """Exact McNemar test on paired outcomes: (a right & b wrong, a wrong & b right, p)."""
    if len(a) != len(b):
        raise ValueError("paired outcomes must have the same length")
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = only_a + only_b
    if n == 0:
        return only_a, only_b, 1.0
    tail = sum(comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return only_a, only_b, min(1.0, 2 * tail)


EXACT_FLIPS = 20  # enumerate all 2^m sign patterns up to this many non-zero differences


def paired_permutation(
    a: Sequence[float], b: Sequence[float], *, n: int = 20_000, seed: int = 0
) -> float:
    """Two-sided sign-flip test of mean(a - b) = 0 for paired per-item rates.

    Exact (every sign pattern of the non-zero differences) when there are at most
    `EXACT_FLIPS` of them, else `n` random patterns with the +1 correction.
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    diff = diff[diff != 0]
    if diff.size == 0:
        return 1.0
    observed = abs(diff.sum()) - 1e-9 * max(1.0, float(np.abs(diff).sum()))
    if diff.size <= EXACT_FLIPS:
        return _exact_flips(diff, observed)
    rng = np.random.default_rng(seed)
    extreme, done = 0, 0
    rows = max(1, 4_000_000 // diff.size)  # patterns per chunk: bounded memory
    while done < n:
        m = min(rows, n - done)
        signs = rng.integers(0, 2, size=(m, diff.size)) * 2.0 - 1.0
        extreme += int(np.count_nonzero(np.abs(signs @ diff) >= observed))
        done += m
    return float((extreme + 1) / (n + 1))


def _exact_flips(diff: np.ndarray, observed: float) -> float:
    """Share of all 2^m sign patterns whose |sum| reaches the observed one."""
    m = diff.size
    extreme = 0
    chunk = 1 << min(m, 16)
    bits = np.arange(m)
    for first in range(0, 1 << m, chunk):
        patterns = np.arange(first, first + chunk)[:, None] >> bits & 1
        sums = (1.0 - 2.0 * patterns) @ diff
        extreme += int(np.count_nonzero(np.abs(sums) >= observed))
    return extreme / float(1 << m)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over the family of the given p-values (None: not tested)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        out[i] = running
    return out


def wilson_ci(successes: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_ci(values: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """The bootstrap interval of mean accuracy; Wilson's when outcomes are 0/1 and the
    bootstrap degenerates (every item right, or every item wrong: it would say [1, 1])."""
    low, high = bootstrap_ci(values, seed=seed)
    data = np.asarray(values, dtype=float)
    if data.size and low == high and np.isin(data, (0.0, 1.0)).all():
        return wilson_ci(int(data.sum()), int(data.size))
    return low, high


def paired_diff_ci(
    a: Sequence[float], b: Sequence[float], *, n: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of mean(a - b) over paired items."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return bootstrap_ci(diff.tolist(), n=n, seed=seed)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (fewer cost, higher accuracy), by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
