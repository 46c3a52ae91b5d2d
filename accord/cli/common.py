"""What every `accord` command shares: the consoles, the --db and --pool options, `latest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from accord.errors import ConfigError

console = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = Path(".accord/ledger.duckdb")
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")]
PoolKind = Literal["ray", "local"]
POOLS: tuple[PoolKind, ...] = ("ray", "local")


def pool_option(default: PoolKind) -> object:
    """The `--pool ray|local` option, with `default` named in its help."""
    return typer.Option(
        "--pool",
        help=f"Where agents run: ray (Ray actors) or local (in-process). Default: {default}.",
        case_sensitive=False,
    )


def choose_pool(pool: str | None, *, default: PoolKind, alias: PoolKind | None = None) -> PoolKind:
    """The pool to use: `--pool`, else a deprecated alias flag (`--local`, `--ray`), else
    `default`. An alias is accepted with a warning; one that contradicts --pool is an error."""
    if pool is not None and pool.lower() not in POOLS:
        raise ConfigError(f"unknown pool {pool!r}", hint="use --pool ray or --pool local")
    chosen: PoolKind | None = pool.lower() if pool else None  # type: ignore[assignment]
    if alias is not None:
        if chosen is not None and chosen != alias:
            raise ConfigError(
                f"--{alias} contradicts --pool {chosen}", hint=f"write only --pool {chosen}"
            )
        err.print(f"[yellow]warning:[/yellow] --{alias} is deprecated: write --pool {alias}")
        chosen = alias
    return chosen or default


def resolve_run(db: Path, run_id: str | None) -> str:
    """`run_id`, with `latest` (and None) meaning the most recently started run in `db`."""
    from accord.ledger.reader import latest_run

    if run_id not in (None, "latest"):
        return str(run_id)
    found = latest_run(db)
    if found is None:
        raise ConfigError(
            "no runs in the ledger yet", path=db, hint="run a crew first: accord run CREW.yaml"
        )
    return found
