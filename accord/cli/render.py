"""Rich renderings of results and ledger rows (the library itself never prints)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from accord.crews.crew import CrewResult


def _short(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def result_table(result: CrewResult) -> Table:
    """Task, answer, path, attempts, tokens and time of every decision of a run."""
    table = Table(title=f"crew {result.crew!r} · run {result.run_id}", title_justify="left")
    for column in ("task", "answer", "path", "stop", "attempts", "tokens", "ms"):
        table.add_column(column, justify="right" if column in {"attempts", "tokens", "ms"}
                         else "left")
    labelled = any(v is not None for v in result.correct.values())
    if labelled:
        table.add_column("ok")
    for d in result.decisions:
        path = d.path if d.status == "accepted" else f"{d.path} (unresolved)"
        style = "yellow" if d.escalated else None
        row = [d.task_id, _short(d.answer, 28), path, d.stop_reason, str(len(d.attempts)),
               str(d.tokens), f"{d.wall_ms:.0f}"]
        if labelled:
            mark = result.correct.get(d.task_id)
            row.append("-" if mark is None else ("✓" if mark else "✗"))
        table.add_row(*row, style=style)
    return table


def summary_line(result: CrewResult) -> str:
    """One line of totals."""
    n = len(result.decisions)
    text = (f"{n} decisions, {result.escalated} escalated to a vote, "
            f"{sum(len(d.attempts) for d in result.decisions)} attempts, "
            f"{result.tokens} tokens")
    if result.accuracy is not None:
        text += f", accuracy {result.accuracy:.0%} on labelled tasks"
    return text


def rows_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    """A table of `columns` from dict rows."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, float):
                cells.append(f"{value:.4g}")
            else:
                cells.append(_short("" if value is None else str(value), 32))
        table.add_row(*cells)
    return table
