"""Rich renderings of results and ledger rows (the library itself never prints).

Model answers are untrusted text: every one is passed through `sanitise` and put in a
`rich.text.Text` (never read as markup), so an answer holding a terminal escape sequence or
`[bold]` is shown as written, not obeyed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from accord.crews.crew import CrewResult
from accord.text import visible


def sanitise(text: object, *, newlines: bool = True) -> str:
    """`text` with control characters written out (`\\x1b`): safe to print to a terminal.

    Tabs become spaces; newlines are kept, or written `\\n` when `newlines` is false.
    """
    out = visible(str(text)).replace("\t", "    ")  # accord.text: the one sanitiser
    return out if newlines else out.replace("\n", "\\n")


def json_value(value: Any) -> Any:
    """A value JSON can hold: dates and times as ISO text, other unknown types as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def answer_text(answer: object, *, style: str = "") -> Text:
    """A model answer as a Text cell: sanitised, never read as markup, wrapped by the table."""
    return Text(sanitise(answer), style=style)


def result_table(result: CrewResult) -> Table:
    """Task, answer, path, attempts, tokens and time of every decision of a run.

    The answer column takes the width left over and wraps: answers are shown in full.
    """
    table = Table(title=f"crew {result.crew!r} · run {result.run_id}", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("answer", ratio=1, overflow="fold")
    table.add_column("path")
    table.add_column("stop")
    for column in ("attempts", "tokens", "ms"):
        table.add_column(column, justify="right", no_wrap=True)
    labelled = any(v is not None for v in result.correct.values())
    if labelled:
        table.add_column("ok")
    for d in result.decisions:
        path = d.path if d.status == "accepted" else f"{d.path} (unresolved)"
        row: list[str | Text] = [
            Text(d.task_id),
            answer_text(d.answer),
            Text(path),
            Text(sanitise(d.stop_reason)),
            str(len(d.attempts)),
            str(d.tokens),
            f"{d.wall_ms:.0f}",
        ]
        if labelled:
            mark = result.correct.get(d.task_id)
            row.append("-" if mark is None else ("✓" if mark else "✗"))
        table.add_row(*row, style="yellow" if d.escalated else None)
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


def result_json(
    result: CrewResult,
    files: Mapping[str, Path] | None = None,
    costs: Mapping[str, float] | None = None,
) -> str:
    """The result as JSON: the run, every decision (answer in full) and the totals.

    `files` are where answers were written (`--out`), `costs` each decision's USD (from the
    ledger); JSON escapes control characters, so it is safe on a terminal as it is.
    """
    files, costs = files or {}, costs or {}
    decisions = [
        {
            "task_id": d.task_id,
            "answer": d.answer,
            "status": d.status,
            "path": d.path,
            "stop_reason": d.stop_reason,
            "confidence": d.confidence,
            "attempts": len(d.attempts),
            "prompt_tokens": d.prompt_tokens,
            "completion_tokens": d.completion_tokens,
            "wall_ms": round(d.wall_ms, 3),
            "cost_usd": costs.get(d.task_id),
            "votes": [{"answer": a, "votes": int(n)} for a, n in d.votes],
            "expected": list(result.expected.get(d.task_id, ())),
            "correct": result.correct.get(d.task_id),
            "file": str(files[d.task_id]) if d.task_id in files else None,
        }
        for d in result.decisions
    ]
    body = {
        "run_id": result.run_id,
        "crew": result.crew,
        "ledger": result.ledger_path,
        "decisions": decisions,
        "totals": {
            "decisions": len(result.decisions),
            "escalated": result.escalated,
            "attempts": sum(len(d.attempts) for d in result.decisions),
            "tokens": result.tokens,
            "accuracy": result.accuracy,
        },
    }
    return json.dumps(body, indent=2)


WRAPPED = frozenset({"answer", "crew", "stop"})


def rows_table(
    title: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    wrapped: frozenset[str] = WRAPPED,
) -> Table:
    """A table of `(key, header)` columns from dict rows; `wrapped` headers wrap, in full."""
    table = Table(title=Text(sanitise(title, newlines=False)), title_justify="left")
    for _, header in columns:
        if header in wrapped:
            table.add_column(header, overflow="fold", ratio=1 if header == "answer" else None)
        else:
            table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    return table


def _cell(value: Any) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("✓" if value else "✗")
    if isinstance(value, float):
        return Text(f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}")
    return Text(sanitise(value))
