"""A run's task graph as SVG: tasks in columns by dependency depth, an arrow per dependency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NODE_W, NODE_H = 168, 34
COL_GAP, ROW_GAP, PAD = 64, 12, 12
MAX_DRAWN = 300  # tasks on some dependency drawn as a graph; more are listed, not drawn
MAX_LISTED = 200  # tasks without any dependency, listed as chips beside the graph


@dataclass(frozen=True, slots=True)
class Node:
    """One task: its dependencies, how its decision ended, and where its page is."""

    id: str
    depends_on: tuple[str, ...]
    state: str  # single, vote, escalated, unresolved, pending
    href: str | None
    tip: str


@dataclass(frozen=True, slots=True)
class Graph:
    """The drawn SVG of the tasks on some dependency, and the tasks on none (listed)."""

    svg: Markup
    drawn: int
    edges: int
    isolated: tuple[Node, ...]  # the first MAX_LISTED of them
    left_out: int  # tasks neither drawn nor listed


def _depths(nodes: Mapping[str, Node]) -> dict[str, int]:
    """Longest dependency chain above each task (unknown dependencies are ignored)."""
    depth: dict[str, int] = {}

    def of(task: str, seen: frozenset[str]) -> int:
        if task in depth:
            return depth[task]
        parents = [d for d in nodes[task].depends_on if d in nodes and d not in seen]
        value = 1 + max((of(p, seen | {task}) for p in parents), default=-1)
        depth[task] = value
        return value

    for task in nodes:
        of(task, frozenset())
    return depth


def _columns(nodes: Mapping[str, Node]) -> list[list[str]]:
    depth = _depths(nodes)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for task in nodes:  # in the order the run listed them
        columns[depth[task]].append(task)
    rows: dict[str, float] = {}
    for n, column in enumerate(columns):
        if n:  # sit each task near the tasks it depends on (fewer crossing arrows)
            column.sort(key=lambda t: _mean(rows.get(d) for d in nodes[t].depends_on))
        for r, task in enumerate(column):
            rows[task] = r
    return columns


def _mean(values) -> float:
    found = [v for v in values if v is not None]
    return sum(found) / len(found) if found else 0.0


def draw(nodes: Sequence[Node]) -> Graph:
    """The graph of the tasks on some dependency; the others are listed apart (a column of
    unconnected boxes says nothing a list does not)."""
    known = {n.id for n in nodes}
    linked = {d for n in nodes for d in n.depends_on if d in known} | {
        n.id for n in nodes if any(d in known for d in n.depends_on)
    }
    isolated = [n for n in nodes if n.id not in linked]
    by_id = {n.id: n for n in nodes if n.id in linked}
    if len(by_id) > MAX_DRAWN:
        by_id = {}
    shown = tuple(isolated[:MAX_LISTED])
    left_out = len(nodes) - len(by_id) - len(shown)
    if not by_id:
        return Graph(Markup(""), 0, 0, shown, left_out)
    columns = _columns(by_id)
    place: dict[str, tuple[float, float]] = {}
    for c, column in enumerate(columns):
        for r, task in enumerate(column):
            place[task] = (PAD + c * (NODE_W + COL_GAP), PAD + r * (NODE_H + ROW_GAP))
    width = PAD * 2 + len(columns) * NODE_W + (len(columns) - 1) * COL_GAP
    height = PAD * 2 + max(len(c) for c in columns) * (NODE_H + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg class="graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="task graph" xmlns="http://www.w3.org/2000/svg">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>'
    ]
    edges = 0
    for task, (x, y) in place.items():
        for dep in by_id[task].depends_on:
            if dep not in place:
                continue
            dx, dy = place[dep]
            x0, y0, x1, y1 = dx + NODE_W, dy + NODE_H / 2, x - 2, y + NODE_H / 2
            mid = (x0 + x1) / 2
            parts.append(
                f'<path class="edge" d="M{x0:.0f},{y0:.0f} C{mid:.0f},{y0:.0f} '
                f'{mid:.0f},{y1:.0f} {x1:.0f},{y1:.0f}" marker-end="url(#arrow)"/>'
            )
            edges += 1
    for task, (x, y) in place.items():
        node = by_id[task]
        label = task if len(task) <= 22 else task[:21] + "…"
        box = (
            f'<g class="node {escape(node.state)}" data-tip="{escape(node.tip)}" tabindex="0">'
            f"<title>{escape(node.tip)}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + 10:.0f}" y="{y + NODE_H / 2 + 4:.0f}">{escape(label)}</text></g>'
        )
        if node.href:
            box = f'<a href="{escape(node.href)}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return Graph(Markup("".join(parts)), len(place), edges, shown, left_out)
