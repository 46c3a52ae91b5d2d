"""`accord audit verify [RUN]` and `accord audit show RUN`: the hash-chained audit trail."""

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


def _resolve(db: Path, run_id: str) -> str:
    from accord.ledger.reader import latest_run

    return (latest_run(db) or run_id) if run_id == "latest" else run_id


@app.command()
def verify(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id or `latest`; omitted: every audited run.")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Check the hash chain; name every modified, deleted, inserted or reordered event."""
    from accord.ledger.audit import verify as verify_runs

    runs = None if run_id is None else [_resolve(db, run_id)]
    reports = verify_runs(db, runs)
    if not reports:
        console.print(f"no audited runs in {db}")
        return
    bad = 0
    for report in reports:
        if report.ok:
            console.print(
                f"[green]ok[/green]  run {report.run_id}: {report.events} event(s), chain intact"
            )
            continue
        bad += 1
        console.print(
            f"[red]TAMPERED[/red]  run {report.run_id}: {report.events} event(s), "
            f"{len(report.findings)} finding(s)"
        )
        for finding in report.findings:
            console.print(f"  - {escape(finding.message)}")
    if bad:
        console.print(f"{bad} of {len(reports)} run(s) failed verification")
        raise SystemExit(1)  # not typer.Exit: main() runs click with standalone_mode=False


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A run id or `latest`.")],
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
