"""`accord show [RUN] [TASK]`: a decision in full, from the ledger.

The answer, every attempt (role, model, answer, verdict, cost), the vote's tally, the stop
reason and the exact messages each attempt sent. Model text is sanitised and never read as
markup.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from accord.cli.common import DEFAULT_DB, DbOption, console, resolve_run
from accord.cli.render import json_value, sanitise
from accord.errors import ConfigError

show_app = typer.Typer()


def load_decisions(path: Path, run_id: str, task_id: str | None) -> list[dict[str, Any]]:
    """The run's decisions (or the one of `task_id`), each with its `attempts` rows."""
    from accord.ledger.reader import open_readonly, rows

    with open_readonly(path) as db:
        if not (
            db.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone() or (0,)
        )[0]:
            raise ConfigError(
                f"no run {run_id!r} in the ledger", path=path, hint="`accord ledger` lists the runs"
            )
        where, params = "run_id = ?", [run_id]
        if task_id is not None:
            where, params = where + " AND task_id = ?", [run_id, task_id]
        decisions = rows(
            db, f"SELECT * FROM decisions WHERE {where} ORDER BY decided_at, task_id", params
        )
        if task_id is not None and not decisions:
            known = [
                r[0]
                for r in db.execute(
                    "SELECT task_id FROM decisions WHERE run_id = ? ORDER BY task_id", [run_id]
                ).fetchall()
            ]
            raise ConfigError(
                f"run {run_id!r} has no task {task_id!r}",
                path=path,
                hint=f"its tasks: {', '.join(known) or 'none decided'}",
            )
        attempts = rows(
            db, f"SELECT * FROM attempts WHERE {where} ORDER BY task_id, attempt_no", params
        )
    for decision in decisions:
        decision["attempts"] = [a for a in attempts if a["task_id"] == decision["task_id"]]
        decision["votes"] = json.loads(decision["votes"]) if decision.get("votes") else []
    for attempt in attempts:
        attempt["prompt"] = json.loads(attempt["prompt"]) if attempt.get("prompt") else None
    return decisions


def _usd(value: float | None) -> str:
    return "$-" if value is None else f"${value:.3g}"


def _field(label: str, value: object, style: str = "") -> Text:
    text = Text(f"{label}: ", style="bold")
    text.append(sanitise(value), style=style)
    return text


def _grid(rows: Sequence[tuple[str, object]], style: str) -> Table:
    """`label: value` rows whose values wrap under themselves."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style=style, no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(Text(f"{sanitise(label, newlines=False)}:"), Text(sanitise(value)))
    return grid


def _verdict(a: dict[str, Any]) -> Text:
    if a["verdict_ok"]:
        return Text("✓ valid", style="green")
    return Text(
        "✗ invalid" + (f": {sanitise(a['verdict_reason'])}" if a["verdict_reason"] else ""),
        style="red",
    )


def attempt_view(a: dict[str, Any], *, prompts: bool = True) -> RenderableType:
    """One attempt: who answered with what, its verdict and cost, and the messages it sent."""
    head = Text(f"attempt {a['attempt_no']} · {a['kind']} · ", style="bold")
    head.append(sanitise(a["role"]), style="bold cyan")
    head.append(f" · {sanitise(a['model'])} · T={a['temperature']:g} seed {a['seed']} · ")
    head.append_text(_verdict(a))
    if a.get("confidence") is not None:
        head.append(f" · confidence {a['confidence']:.2f}")
    head.append(
        f" · {a['prompt_tokens']}+{a['completion_tokens']} tokens · {_usd(a['cost_usd'])}"
        f" · {a['model_ms']:.0f} ms"
    )
    fields = [("answer", a["answer"] or "")]
    if (a.get("raw") or "") != (a.get("answer") or ""):
        fields.append(("raw", a["raw"] or ""))
    if a.get("critic_score") is not None:
        fields.append(("critic P(yes)", f"{a['critic_score']:.2f}"))
    parts: list[RenderableType] = [head, Padding(_grid(fields, "bold"), (0, 0, 0, 2))]
    if prompts:
        if a.get("prompt"):
            messages = [(m.get("role", "?"), m.get("content", "")) for m in a["prompt"]]
            parts.append(Padding(_grid(messages, "magenta"), (0, 0, 0, 4)))
        else:
            parts.append(Text("    (no prompt stored)", style="dim"))
    return Group(*parts)


def decision_view(d: dict[str, Any], run_id: str, *, prompts: bool = True) -> RenderableType:
    """One decision in full: answer, outcome, tally, and every attempt."""
    parts: list[RenderableType] = [
        Rule(Text(f"run {run_id} · task {d['task_id']}"), align="left"),
        _field("answer", d["answer"] or ""),
    ]
    outcome = Text(
        f"{d['status']} · path {d['path']} · stop {sanitise(d['stop_reason'])} · "
        f"confidence {d['confidence'] or 0:.2f} · {d['n_attempts']} attempt(s) · "
        f"{d['prompt_tokens']}+{d['completion_tokens']} tokens · {_usd(d['cost_usd'])} · "
        f"{d['wall_ms']:.0f} ms",
        style="green" if d["status"] == "accepted" else "yellow",
    )
    parts.append(outcome)
    if d["votes"]:
        parts.append(_field("vote", " · ".join(f"{v['answer']} ×{v['votes']}" for v in d["votes"])))
        grouped = [  # groups of answers written differently (semantic or final-answer votes)
            (f"  ×{v['votes']} {v['answer']}", " | ".join(v["members"]))
            for v in d["votes"]
            if set(v.get("members") or [v["answer"]]) != {v["answer"]}
        ]
        if grouped:
            parts.append(_grid(grouped, "bold"))
    if d.get("expected") is not None:
        marks: dict[bool | None, str] = {True: " ✓", False: " ✗"}
        mark = marks.get(d.get("correct"), "")
        parts.append(_field("expected", f"{d['expected']}{mark}"))
    parts.extend(Padding(attempt_view(a, prompts=prompts), (1, 0, 0, 0)) for a in d["attempts"])
    return Group(*parts)


@show_app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A run id or `latest`.")] = "latest",
    task: Annotated[str | None, typer.Argument(help="A task id; omitted: every task.")] = None,
    db: DbOption = DEFAULT_DB,
    prompts: Annotated[
        bool, typer.Option("--prompts/--no-prompts", help="Show the messages each attempt sent.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decisions as JSON.")] = False,
) -> None:
    """Show decisions in full: answer, attempts, votes, stop reason and the messages sent."""
    run_id = resolve_run(db, run_id)
    decisions = load_decisions(db, run_id, task)
    if as_json:
        body = [{k: json_value(v) for k, v in d.items() if k != "attempts"} for d in decisions]
        for out, d in zip(body, decisions, strict=True):
            out["attempts"] = [{k: json_value(v) for k, v in a.items()} for a in d["attempts"]]
        sys.stdout.write(json.dumps({"run_id": run_id, "decisions": body}, indent=2) + "\n")
        return
    if not decisions:
        console.print(f"run {run_id} has no decisions yet")
    for d in decisions:
        console.print(decision_view(d, run_id, prompts=prompts))
        console.print()
