"""Bench statistics: bootstrap interval, exact McNemar, permutation test, Pareto frontier."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from accord.bench.stats import bootstrap_ci, mcnemar, paired_permutation, pareto_front


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
