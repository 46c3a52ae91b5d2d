"""The SVG the UI draws: task graphs and charts, with ledger text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from accord.ui import charts, graph
from accord.ui.fmt import duration, usd

HOSTILE = '<script>alert("x")</script>'


def node(task: str, *deps: str, state: str = "single") -> graph.Node:
    return graph.Node(task, deps, state, f"/runs/r/decisions/{task}", f"{task}\n{HOSTILE}")


def parses(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML: nothing injected broke out of an attribute


def test_graph_draws_linked_tasks_in_dependency_columns_and_lists_the_rest() -> None:
    drawn = graph.draw(
        [node("a"), node("b", "a"), node("c", "a", "b"), node("lonely"), node("d", "missing")]
    )
    assert drawn.drawn == 3 and drawn.edges == 3
    assert [n.id for n in drawn.isolated] == ["lonely", "d"]  # an unknown dependency is none
    root = parses(drawn.svg)
    xs = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        rect = g.find("{http://www.w3.org/2000/svg}rect")
        text = g.find("{http://www.w3.org/2000/svg}text")
        xs[text.text] = float(rect.get("x"))
    assert xs["a"] < xs["b"] < xs["c"]  # c waits for b, which waits for a


def test_graph_escapes_task_text() -> None:
    drawn = graph.draw([node("a"), node("b", "a")])
    assert "<script>" not in drawn.svg and "&lt;script&gt;" in drawn.svg
    parses(drawn.svg)


def test_a_huge_graph_is_listed_not_drawn() -> None:
    nodes = [node("t0")] + [node(f"t{i}", f"t{i - 1}") for i in range(1, graph.MAX_DRAWN + 5)]
    drawn = graph.draw(nodes)
    assert drawn.drawn == 0 and drawn.left_out == len(nodes)


def test_charts_escape_series_names_and_keep_tips() -> None:
    svg = charts.stacked_bars(["01-01", "01-02"], {HOSTILE: [1.0, 2.0]}, unit="USD", fmt=usd)
    assert "<script>" not in svg
    root = parses(svg)
    tips = [e.get("data-tip") for e in root.iter() if e.get("data-tip")]
    assert tips and all(HOSTILE in t for t in tips) and "day total $2.00 USD" in tips[1]
    point = charts.Point(HOSTILE, 10.0, 0.7, 0.6, 0.8, f"tip {HOSTILE}")
    pareto = charts.pareto([point], [0], cost_label="tokens")
    assert "<script>" not in pareto
    parses(pareto)


def test_top_series_sums_the_smallest_into_other() -> None:
    series = {f"m{i}": [float(i), 1.0] for i in range(10)}
    kept = charts.top_series(series, limit=3)
    assert list(kept) == ["m9", "m8", "m7", charts.OTHER]
    assert kept[charts.OTHER] == [sum(range(7)), 7.0]


def test_money_and_time_read_at_a_glance() -> None:
    assert [usd(v) for v in (0, 0.000045, 0.0012475, 3.5, None)] == [
        "$0",
        "$0.000045",
        "$0.00125",
        "$3.50",
        "-",
    ]
    assert [duration(v) for v in (0.25, 12.34, 245, 7380)] == [
        "250 ms",
        "12.3 s",
        "4 min 05 s",
        "2 h 03 min",
    ]
    assert re.fullmatch(r"\$\d\.\d\de-0\d", usd(2e-8))
