"""`accord ui`: serve the read-only dashboard over a ledger on 127.0.0.1."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from accord.errors import ConfigError

ui_app = typer.Typer()
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
DEFAULT_DB = Path(".accord/ledger.duckdb")
WEB_STACK = ("starlette", "uvicorn", "jinja2")


@ui_app.command()
def ui(
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file (read only).")] = DEFAULT_DB,
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback exposes the ledger.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).")] = 8765,
) -> None:
    """Browse runs, decisions, cost and bench results in a web page (read-only)."""
    missing = [name for name in WEB_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the UI needs its web stack ({', '.join(missing)} missing)",
            path="accord ui",
            hint="pip install 'accord[ui]'",
        )
    from accord.ui.server import is_loopback, serve

    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range", path="--port", hint="use 0-65535")
    if not is_loopback(host):
        err.print(
            f"[yellow]warning:[/yellow] listening on {escape(host)}: anyone who can reach this "
            "address can read the ledger (prompts and answers included)"
        )

    def ready(url: str) -> None:
        console.print(f"accord ui: {escape(str(db))} (read-only) at {url}  (Ctrl-C stops)")
        console.file.flush()

    serve(db, host=host, port=port, on_ready=ready)
