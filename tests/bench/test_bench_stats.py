"""Bench statistics: bootstrap and Wilson intervals, exact McNemar, the sign-flip test, Holm,
Pareto frontier; checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, norm, permutation_test

from accord.bench.stats import (
    accuracy_ci,
    bootstrap_ci,
    holm,
    mcnemar,
    paired_permutation,
    pareto_front,
    wilson_ci,
)


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_n() -> None:
    small = [1.0, 0.0] * 10
    large = [1.0, 0.0] * 500
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s < 0.5 < hi_s
    assert lo_l < 0.5 < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3


def test_mcnemar_matches_an_exact_binomial_test_on_discordant_pairs() -> None:
    a = [True] * 12 + [False] * 3 + [True] * 30
    b = [False] * 12 + [True] * 3 + [True] * 30
    only_a, only_b, p = mcnemar(a, b)
    assert (only_a, only_b) == (12, 3)
    assert p == pytest.approx(binomtest(3, 15, 0.5).pvalue)
    assert mcnemar([True, False], [True, False])[2] == 1.0


def test_permutation_test_separates_a_real_difference_from_none() -> None:
    assert paired_permutation([1.0] * 30, [0.0] * 30) < 0.01
    assert paired_permutation([0.5] * 30, [0.5] * 30) == 1.0


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [(100, 0.9), (20, 0.7), (50, 0.9), (60, 0.85), (10, 0.5)]
    assert pareto_front(points) == [4, 1, 2]


def test_plot_labels_are_shared_at_one_point_and_do_not_overlap() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from accord.bench.report import _label_points, _separate_labels, _text_box

    fig, ax = plt.subplots(figsize=(7.5, 5))
    names = ["single", "validated", "adaptive@0.7", "adaptive@0.8", "vote@3"]
    points = [(70.0, 40.0), (70.0, 40.0), (245.0, 51.0), (250.0, 51.0), (252.0, 52.0)]
    ax.scatter([x for x, _ in points], [y for _, y in points])
    _label_points(ax, names, points)
    fig.tight_layout()
    _separate_labels(fig, ax)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["adaptive@0.7", "adaptive@0.8", "single, validated", "vote@3"]
    renderer = fig.canvas.get_renderer()
    boxes = [_text_box(t, renderer) for t in ax.texts]
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
    plt.close(fig)


def test_sign_flip_test_is_exact_when_few_items_differ() -> None:
    assert paired_permutation([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]) == 0.25  # 2 of 8 patterns
    assert paired_permutation([1.0], [0.5]) == 1.0
    rng = np.random.default_rng(7)
    for m in (2, 4, 9, 13):
        a = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=m)
        b = a - rng.choice([-0.5, -0.25, 0.25, 0.5, 0.75], size=m)
        scipy = permutation_test((a - b,), np.mean, permutation_type="samples", n_resamples=np.inf)
        assert paired_permutation(a, b) == pytest.approx(scipy.pvalue, abs=1e-12), m


def test_sign_flip_test_on_20_unit_differences_is_the_exact_binomial_test() -> None:
    # differences of +-1: a sign pattern is as extreme when its count of + is as far from 10
    for plus in (10, 13, 15, 17, 20):
        a = [1.0] * plus + [0.0] * (20 - plus) + [0.5] * 30  # 30 ties, dropped
        b = [0.0] * plus + [1.0] * (20 - plus) + [0.5] * 30
        expected = binomtest(plus, 20, 0.5).pvalue
        assert paired_permutation(a, b) == pytest.approx(expected, abs=1e-12), plus


def test_sign_flip_test_with_many_differences_agrees_with_the_normal_limit() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(400)
    b = a - rng.normal(0.005, 0.3, 400)
    diff = a - b
    limit = 2 * norm.sf(abs(diff.sum()) / np.sqrt((diff**2).sum()))
    assert 0.05 < limit < 0.95
    assert paired_permutation(a, b) == pytest.approx(limit, abs=0.015)


def test_wilson_interval_matches_scipy_and_replaces_a_collapsed_bootstrap() -> None:
    for k, n in ((20, 20), (0, 20), (7, 30), (399, 400)):
        expected = binomtest(k, n).proportion_ci(method="wilson")
        assert wilson_ci(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert bootstrap_ci([1.0] * 20) == (1.0, 1.0)  # what the report used to print
    low, high = accuracy_ci([1.0] * 20)
    assert low == pytest.approx(0.8389, abs=1e-4) and high == 1.0
    assert accuracy_ci([0.0] * 20)[1] == pytest.approx(0.1611, abs=1e-4)
    assert accuracy_ci([1.0, 0.0] * 10) == bootstrap_ci([1.0, 0.0] * 10)  # not degenerate


def test_holm_adjusts_each_p_value_for_the_family() -> None:
    assert holm([0.01, 0.04, None, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, None, 0.06, 0.02]  # sorted: 4 x 0.005, 3 x 0.01, 2 x 0.03, max(.., 0.04)
    )
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []
