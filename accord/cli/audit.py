"""`accord audit verify [RUN]` and `accord audit show RUN`: the keyed, hash-chained audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(no_args_is_help=True, help="Verify and show the hash-chained audit trail.")
console = Console(highlight=False)
DEFAULT_DB = Path(".accord/ledger.duckdb")
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")]


KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Audit key file (default: $ACCORD_AUDIT_KEY_FILE, else ~/.config/accord/audit.key).",
    ),
]
HeadsOption = Annotated[
    Path | None,
    typer.Option("--heads", help="Heads file (default: $ACCORD_AUDIT_HEADS, else DB.heads)."),
]


def _resolve(db: Path, run_id: str) -> str:
    from accord.ledger.reader import latest_run

    return (latest_run(db) or run_id) if run_id == "latest" else run_id


@app.command()
def verify(
    run_id: Annotated[str, typer.Argument(help="A run id, or `latest`.")] = "latest",
    every: Annotated[bool, typer.Option("--all", help="Verify every run of the ledger.")] = False,
    db: DbOption = DEFAULT_DB,
    key: KeyOption = None,
    heads: HeadsOption = None,
) -> None:
    """Check a run's keyed chain, heads, sealed decisions and row; name what was tampered with.

    Exit 0: every run checked is intact; 1: tampering found (or nothing to verify); 2: bad
    input (an unknown run, no ledger, no key).
    """
    from accord.ledger.audit_verify import verify_ledger

    report = verify_ledger(db, None if every else [run_id], key=key, heads=heads)
    bad = 0
    for run in report.reports:
        if run.ok:
            console.print(
                f"[green]ok[/green]  run {run.run_id}: {run.events} event(s), "
                f"{run.decisions} sealed decision(s), chain intact"
            )
            continue
        bad += 1
        console.print(
            f"[red]TAMPERED[/red]  run {escape(run.run_id)}: {run.events} event(s), "
            f"{len(run.findings)} finding(s)"
        )
        for finding in run.findings:
            console.print(f"  - {escape(finding.message)}", soft_wrap=True)
    for problem in report.problems:
        console.print(f"[red]TAMPERED[/red]  {escape(problem)}", soft_wrap=True)
    if not report.reports:
        console.print(f"[red]nothing verified[/red]: no runs in {db} or its heads file")
    if not report.ok:
        console.print(
            f"verification failed: {bad} of {len(report.reports)} run(s) tampered with"
            + (f", {len(report.problems)} problem(s) with the files" if report.problems else "")
        )
        raise SystemExit(1)  # not typer.Exit: main() runs click with standalone_mode=False


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, or `latest`.")] = "latest",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Print a run's audit timeline: who called which tool, the decision and the policy."""
    from accord.ledger.audit import timeline

    run_id = _resolve(db, run_id)
    events = timeline(db, run_id)
    if not events:
        from accord.errors import ConfigError

        raise ConfigError(
            f"no audit events for run {run_id!r}",
            path=db,
            hint="`accord audit verify` lists the audited runs",
        )
    console.print(
        f"[bold]audit trail of run {run_id}[/bold] ({len(events)} events; "
        "seq time kind actor tool decision \\[policy] detail #hash)"
    )
    for e in events:
        style = {
            "refused": "red",
            "denied": "red",
            "failed": "yellow",
            "deduplicated": "cyan",
            "reject": "red",
        }.get(e.decision, "")
        decision = f"[{style}]{e.decision}[/{style}]" if style else e.decision
        tool = f" {e.tool}" if e.tool else ""
        console.print(
            f"{e.seq:>4} {e.ts[11:19]} {e.kind:<9} {e.actor}{tool} {decision} "
            f"[dim]\\[{escape(e.policy or '-')}] {escape(e.detail or '')} "
            f"#{e.hash[:8]}[/dim]"
        )
