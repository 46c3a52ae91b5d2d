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
        table.add_column(
            column, justify="right" if column in {"attempts", "tokens", "ms"} else "left"
        )
    labelled = any(v is not None for v in result.correct.values())
    if labelled:
        table.add_column("ok")
    for d in result.decisions:
        path = d.path if d.status == "accepted" else f"{d.path} (unresolved)"
        style = "yellow" if d.escalated else None
        row = [
            d.task_id,
            _short(d.answer, 28),
            path,
            d.stop_reason,
            str(len(d.attempts)),
            str(d.tokens),
            f"{d.wall_ms:.0f}",
        ]
        if labelled:
            mark = result.correct.get(d.task_id)
            row.append("-" if mark is None else ("✓" if mark else "✗"))
        table.add_row(*row, style=style)
    return table


def summary_line(result: CrewResult) -> str:
    """One line of totals."""
    n = len(result.decisions)
    text = (
        f"{n} decisions, {result.escalated} escalated to a vote, "
        f"{sum(len(d.attempts) for d in result.decisions)} attempts, "
        f"{result.tokens} tokens"
    )
    if result.accuracy is not None:
        text += f", accuracy {result.accuracy:.0%} on labelled tasks"
    return text


def rows_table(
    title: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]
) -> Table:
    """A table of `(key, header)` columns from dict rows."""
    table = Table(title=title, title_justify="left")
    for _, header in columns:
        table.add_column(header, no_wrap=header not in {"answer", "crew"})
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}"
    return _short(str(value), 24)
