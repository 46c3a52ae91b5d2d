"""SVG charts drawn on the server: stacked bars per day, a rate line, and a Pareto scatter.

Every text that reaches the SVG is escaped (crew, model and strategy names come from the
ledger). Marks carry a `data-tip` that `ui.js` shows on hover, and a `<title>` for readers
without script.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape

from accord.ui.fmt import short_number

# Okabe-Ito: told apart with the common kinds of colour blindness
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#444")
OTHER = "other"
MAX_SERIES = 7  # the rest are summed as OTHER

W, H = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _attrs(tip: str, cls: str = "") -> str:
    klass = f' class="{escape(cls)}"' if cls else ""
    return f'{klass} data-tip="{escape(tip)}" tabindex="0"'


def _frame(width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]


def _y_axis(parts: list[str], ticks: Sequence[float], y: Callable[[float], float], fmt) -> None:
    for t in ticks:
        yy = y(t)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(t))}</text>"
        )


def _x_labels(parts: list[str], labels: Sequence[str], x: Callable[[int], float]) -> None:
    every = max(1, math.ceil(len(labels) / 10))
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )


def top_series(series: dict[str, list[float]], limit: int = MAX_SERIES) -> dict[str, list[float]]:
    """The `limit` largest series by total, the rest summed into one named `other`."""
    ranked = sorted(series, key=lambda k: -sum(series[k]))
    kept = {k: series[k] for k in ranked[:limit]}
    rest = ranked[limit:]
    if rest:
        kept[OTHER] = [sum(series[k][i] for k in rest) for i in range(len(series[rest[0]]))]
    return kept


@dataclass(frozen=True, slots=True)
class Legend:
    """Series names with their colours, rendered beside a chart in HTML."""

    items: tuple[tuple[str, str], ...]


def legend_of(keys: Sequence[str]) -> Legend:
    """Colours for `keys` in order."""
    return Legend(tuple((k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)))


def stacked_bars(
    labels: Sequence[str], series: dict[str, list[float]], *, unit: str, fmt=short_number
) -> Markup:
    """One bar per label (a day), stacked by series; `fmt` renders values in tips."""
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0.0))
    top = ticks[-1] or 1.0
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = inner_w / max(len(labels), 1)
    bar = min(48.0, slot * 0.7)

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y(v: float) -> float:
        return TOP + inner_h * (1 - v / top)

    parts = _frame(W, H, f"{unit} per day")
    _y_axis(parts, ticks, y, short_number)
    for i, label in enumerate(labels):
        base = 0.0
        for n, (key, values) in enumerate(series.items()):
            v = values[i]
            if v <= 0:
                continue
            tip = f"{label} · {key}\n{fmt(v)} {unit}\nday total {fmt(totals[i])} {unit}"
            y0, y1 = y(base), y(base + v)
            parts.append(
                f'<rect x="{x(i) - bar / 2:.1f}" y="{y1:.1f}" width="{bar:.1f}" '
                f'height="{max(y0 - y1, 0.5):.1f}" fill="{PALETTE[n % len(PALETTE)]}"'
                f"{_attrs(tip, 'mark')}><title>{escape(tip)}</title></rect>"
            )
            base += v
    _x_labels(parts, labels, x)
    parts.append(
        f'<text class="axis" x="14" y="{TOP + inner_h / 2:.0f}" '
        f'transform="rotate(-90 14 {TOP + inner_h / 2:.0f})" text-anchor="middle">'
        f"{escape(unit)}</text></svg>"
    )
    return Markup("".join(parts))


def rate_line(
    labels: Sequence[str], rates: Sequence[float | None], counts: Sequence[int]
) -> Markup:
    """A 0-100 % line (escalation rate per day), each point with its decision count."""
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = inner_w / max(len(labels), 1)

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y(v: float) -> float:
        return TOP + inner_h * (1 - v)

    parts = _frame(W, H, "escalation rate per day")
    _y_axis(parts, ticks, y, lambda t: f"{t:.0%}")
    points = [(x(i), y(r)) for i, r in enumerate(rates) if r is not None]
    if len(points) > 1:
        path = " ".join(
            f"{'M' if n == 0 else 'L'}{px:.1f},{py:.1f}" for n, (px, py) in enumerate(points)
        )
        parts.append(f'<path class="line" d="{path}"/>')
    for i, r in enumerate(rates):
        if r is None:
            continue
        tip = f"{labels[i]}\n{r:.1%} escalated\nof {counts[i]} decisions"
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(r):.1f}" r="4.5" fill="{PALETTE[5]}"'
            f"{_attrs(tip, 'mark')}><title>{escape(tip)}</title></circle>"
        )
    _x_labels(parts, labels, x)
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True, slots=True)
class Point:
    """One strategy on a Pareto plot."""

    name: str
    cost: float
    accuracy: float
    low: float
    high: float
    tip: str
    group: int = 0  # colour index: 0 accord, 1 baseline, 2 peer


def pareto(points: Sequence[Point], front: Sequence[int], *, cost_label: str) -> Markup:
    """Accuracy (with its interval) against cost per item; the frontier as a step line."""
    w, h = W, 340
    inner_w, inner_h = w - LEFT - RIGHT, h - TOP - BOTTOM
    costs = [p.cost for p in points] or [1.0]
    xticks = nice_ticks(max(costs) * 1.05)
    lo = min([p.low for p in points] or [0.0])
    hi = max([p.high for p in points] or [1.0])
    bottom = max(0.0, math.floor((lo - 0.02) * 10) / 10)
    top = min(1.0, math.ceil((hi + 0.02) * 10) / 10)
    step = 0.1 if top - bottom >= 0.4 else 0.05
    yticks = [bottom + i * step for i in range(round((top - bottom) / step) + 1)]
    xtop = xticks[-1] or 1.0

    def x(v: float) -> float:
        return LEFT + inner_w * v / xtop

    def y(v: float) -> float:
        return TOP + inner_h * (1 - (v - bottom) / (top - bottom))

    parts = [
        f'<svg class="chart pareto" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="accuracy against cost" xmlns="http://www.w3.org/2000/svg">'
    ]
    for t in yticks:
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{w - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.0%}</text>'
        )
    for t in xticks:
        parts.append(
            f'<text class="tick" x="{x(t):.1f}" y="{h - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(short_number(t))}</text>"
        )
    if front:
        steps = [(points[i].cost, points[i].accuracy) for i in front]
        d = f"M{x(steps[0][0]):.1f},{y(steps[0][1]):.1f}"
        for (_, ay), (bx, by) in pairwise(steps):
            d += f" L{x(bx):.1f},{y(ay):.1f} L{x(bx):.1f},{y(by):.1f}"
        d += f" L{x(xtop):.1f},{y(steps[-1][1]):.1f}"
        parts.append(f'<path class="frontier" d="{d}"/>')
    on_front = set(front)
    for i, p in enumerate(points):
        colour = PALETTE[(0, 5, 1)[p.group]]
        cls = "mark point front" if i in on_front else "mark point"
        parts.append(
            f'<g{_attrs(p.tip, cls)} data-strategy="{escape(p.name)}">'
            f"<title>{escape(p.tip)}</title>"
            f'<line class="ci" x1="{x(p.cost):.1f}" x2="{x(p.cost):.1f}" '
            f'y1="{y(p.low):.1f}" y2="{y(p.high):.1f}" stroke="{colour}"/>'
            f'<circle cx="{x(p.cost):.1f}" cy="{y(p.accuracy):.1f}" r="6" fill="{colour}"/>'
            f'<text class="label" x="{x(p.cost) + 9:.1f}" y="{y(p.accuracy) - 7:.1f}">'
            f"{escape(p.name)}</text></g>"
        )
    parts.append(
        f'<text class="axis" x="{LEFT + inner_w / 2:.0f}" y="{h - 6}" text-anchor="middle">'
        f"{escape(cost_label)}</text>"
        f'<text class="axis" x="14" y="{TOP + inner_h / 2:.0f}" '
        f'transform="rotate(-90 14 {TOP + inner_h / 2:.0f})" text-anchor="middle">'
        "accuracy (95% interval)</text></svg>"
    )
    return Markup("".join(parts))
