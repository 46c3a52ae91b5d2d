"""`accord agent run CREW`: plan each goal, validate, execute with tools, audit every call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from accord.cli.common import choose_pool, pool_option

if TYPE_CHECKING:
    from accord.planning.monitor import GoalResult
    from accord.tools.calls import CallRequest

app = typer.Typer(
    no_args_is_help=True, help="Plan and execute goals with tools (see configs/refund.yaml)."
)
console = Console(highlight=False)
DEFAULT_DB = Path(".accord/ledger.duckdb")
_STYLE = {
    "done": "green",
    "deduplicated": "cyan",
    "failed": "yellow",
    "surprise": "yellow",
    "refused": "red",
    "denied": "red",
    "skipped": "dim",
}


def _confirm(request: CallRequest, reason: str) -> bool:
    args = json.dumps(request.args, sort_keys=True)
    return typer.confirm(
        f"{request.role} wants to call {request.tool.name}({args}): {reason}. Approve?",
        default=False,
    )


def _short(value: object, width: int = 56) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def goal_lines(goal: GoalResult) -> list[str]:
    """One goal as lines of markup: its plans (how decided) and steps (what became of each)."""
    color = {"completed": "green", "denied": "red", "failed": "yellow", "no_plan": "red"}
    lines = [
        f"[bold]goal {goal.goal_id}[/bold] [{color[goal.status]}]{goal.status}[/] · "
        f"{escape(goal.goal)}"
    ]
    for plan in goal.plans:
        d = plan.decision
        state = "[green]plan ok[/green]" if d.status == "accepted" else "[red]no valid plan[/red]"
        lines.append(
            f"  {d.task_id.split('.', 1)[-1]:<12} {state} ({escape(d.stop_reason)}; "
            f"path {d.path}; confidence {d.confidence:.2f}; "
            f"{len(d.attempts)} planner attempt(s))"
        )
        for a in d.attempts:
            if not a.verdict.ok:
                lines.append(f"  {'':<12} [red]rejected[/red]: {escape(a.verdict.reason)}")
    for run in goal.steps:
        args = ", ".join(f"{k}={v}" for k, v in run.step.args.items())
        style = _STYLE.get(run.status, "")
        lines.append(
            f"  {run.step.id:<12} [{style}]{run.status:<12}[/{style}] "
            f"{run.role}: {run.step.tool}({escape(args)})"
        )
        for note in (run.approval, run.reason):
            if note:
                lines.append(f"  {'':<12} {escape(note)}")
        if run.status in ("done", "deduplicated") and run.result is not None:
            lines.append(f"  {'':<12} [dim]-> {escape(_short(run.result))}[/dim]")
    return lines


def summary(goals: list[GoalResult]) -> list[str]:
    """The behaviours this run showed, counted from the results (not assumed)."""
    steps = [s for g in goals for s in g.steps]
    plans = [p for g in goals for p in g.plans]
    attempts = [a for p in plans for a in p.decision.attempts]
    done: dict[str, int] = {}
    for s in steps:
        if s.status == "done":
            done[s.step.tool] = done.get(s.step.tool, 0) + 1
    sent = [s for s in steps if "sent for approval" in s.approval]
    approved = sum(s.status != "denied" for s in sent)
    statuses = ("completed", "denied", "failed", "no_plan")
    return [
        f"goals: {len(goals)} · "
        + ", ".join(f"{n} {st}" for st in statuses if (n := sum(g.status == st for g in goals))),
        "calls made: " + ", ".join(f"{tool} x{n}" for tool, n in sorted(done.items())),
        f"unauthorised calls refused: {sum('has no grant' in a.verdict.reason for a in attempts)}"
        f" in plans, {sum(s.status == 'refused' for s in steps)} at run time",
        f"plans rejected by the validator: {sum(not a.verdict.ok for a in attempts)}; "
        f"escalated to a planner vote: {sum(p.decision.task_id.endswith('vote') for p in plans)}",
        f"failed or surprising steps replanned: {sum(g.revisions for g in goals)}",
        f"duplicate writes prevented by idempotency: "
        f"{sum(s.status == 'deduplicated' for s in steps)}",
        f"calls sent for approval: {len(sent)} ({approved} approved, "
        f"{len(sent) - approved} denied)",
    ]


@app.command()
def run(
    crew: Annotated[Path, typer.Argument(help="Crew YAML file with `tools:` and `goals:`.")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")] = DEFAULT_DB,
    backend: Annotated[
        str | None, typer.Option(help="Backend for every role (scripted, llama, ...).")
    ] = None,
    goal: Annotated[
        list[str] | None, typer.Option("--goal", help="Run only this goal (repeatable).")
    ] = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Ask before calls that need approval (default: when stdin is a terminal).",
        ),
    ] = None,
    pool: Annotated[str | None, pool_option("local")] = None,
    ray: Annotated[bool, typer.Option("--ray", hidden=True)] = False,
) -> None:
    """Plan each goal, validate the plan, run it under permissions; audit every call."""
    from accord.crews.crew import Crew
    from accord.planning.run import run_goals

    kind = choose_pool(pool, default="local", alias="ray" if ray else None)
    spec = Crew.from_yaml(crew)
    ask = sys.stdin.isatty() if interactive is None else interactive
    console.print(
        f"[dim]crew {spec.spec.name!r}: {len(spec.spec.goals)} goal(s), backend "
        f"{backend or 'from the crew file'}, approvals "
        f"{'interactive' if ask else 'non-interactive'}[/dim]"
    )
    result = run_goals(
        spec,
        db=db,
        backend=backend,
        pool=kind,
        confirm=_confirm if ask else None,
        only=goal,
        on_goal=lambda g: console.print("\n".join(goal_lines(g))),
    )
    console.print("[bold]summary[/bold]")
    for line in summary(result.goals):
        console.print(f"  {line}")
    console.print(
        f"[dim]ledger: {result.ledger_path} · run {result.run_id} · "
        f"`accord audit show {result.run_id}` · `accord audit verify "
        f"{result.run_id}`[/dim]"
    )
