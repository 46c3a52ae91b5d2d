"""`accord traces [RUN]`: a ledger run as OpenTelemetry spans, sent over OTLP/HTTP or printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

traces_app = typer.Typer()
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
DEFAULT_DB = Path(".accord/ledger.duckdb")


def _run_id(db: Path, run_id: str) -> str:
    from accord.errors import ConfigError
    from accord.ledger.reader import latest_run

    if run_id != "latest":
        return run_id
    found = latest_run(db)
    if found is None:
        raise ConfigError("the ledger has no runs", path=db, hint="run a crew first")
    return found


@traces_app.command()
def traces(
    run_id: Annotated[str, typer.Argument(help="A run id, or `latest`.")] = "latest",
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")] = DEFAULT_DB,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="OTLP/HTTP traces URL (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or "
            "OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the spans as JSON instead of sending them.")
    ] = False,
) -> None:
    """Export a run's decisions and attempts as OpenTelemetry spans (GenAI conventions)."""
    from accord.interop.otel import export_run, run_spans

    run = _run_id(db, run_id)
    if as_json:
        spans = [
            {
                "name": s.name,
                "start_ns": s.start_ns,
                "end_ns": s.end_ns,
                "parent": s.parent,
                "error": s.error,
                "attributes": s.attributes,
            }
            for s in run_spans(db, run)
        ]
        console.print_json(json.dumps(spans))
        return
    sent = export_run(db, run, endpoint=endpoint)
    console.print(f"run {run}: {sent} spans sent")


def export_after_run(db: Path, run_id: str, *, enabled: bool | None) -> None:
    """After `accord run`: send the run's spans when asked (`--otel`) or configured (env).

    A receiver that is down costs a warning, never the run (its ledger rows are kept).
    """
    from accord.errors import AccordError
    from accord.interop.otel import endpoint_from_env, export_run

    if enabled is False or (enabled is None and endpoint_from_env() is None):
        return
    try:
        sent = export_run(db, run_id)
    except AccordError as exc:
        err.print(f"[yellow]warning:[/yellow] traces not sent: {exc}")
        return
    err.print(f"[dim]traces: {sent} spans sent to {endpoint_from_env()}[/dim]")
