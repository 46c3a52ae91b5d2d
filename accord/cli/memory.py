"""`accord memory list|search|forget`: look into and prune long-term memory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from accord.errors import ConfigError

if TYPE_CHECKING:
    from accord.memory import MemoryStore, StoredMemory

app = typer.Typer(no_args_is_help=True, help="Long-term memory kept in the ledger's DuckDB file.")
console = Console()

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")]
CrewOption = Annotated[str | None, typer.Option(help="Only this crew's memories.")]
RoleOption = Annotated[str | None, typer.Option(help="Only memories from this role.")]
DEFAULT_DB = Path(".accord/ledger.duckdb")


def _store(db: Path, embedder: str = "llama") -> MemoryStore:
    from accord.memory import MemoryStore

    if str(db) != ":memory:" and not db.exists():
        raise ConfigError("no ledger here", path=db, hint="pass --db or run a crew first")
    return MemoryStore(db, embedder=embedder)


def _table(title: str, memories: list[StoredMemory], *, scores: bool = False) -> Table:
    table = Table(title=title, title_justify="left")
    columns = ["id", "crew", "role", "kind", "verified", "created", "text"]
    for column in (["score"] if scores else []) + columns:
        table.add_column(column, overflow="fold" if column == "text" else "ellipsis")
    for m in memories:
        row = [
            str(m.id),
            m.crew,
            m.role or "",
            m.kind,
            "✓" if m.verified else "",
            m.created_at.strftime("%Y-%m-%d %H:%M"),
            m.text,
        ]
        table.add_row(*([f"{m.score:.3f}"] if scores else []), *row)
    return table


@app.command("list")
def list_(
    db: DbOption = DEFAULT_DB,
    crew: CrewOption = None,
    role: RoleOption = None,
    limit: Annotated[int, typer.Option(help="How many to show.")] = 50,
) -> None:
    """List memories, newest first."""
    store = _store(db)
    counts = store.counts()
    console.print(_table(f"memories in {db}", store.list(limit=limit, crew=crew, role=role)))
    console.print(
        f"[dim]{counts['items']} memories, {counts['embeddings']} embeddings, "
        f"{counts['triples']} triples[/dim]"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    db: DbOption = DEFAULT_DB,
    crew: CrewOption = None,
    role: RoleOption = None,
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    embedder: Annotated[
        str, typer.Option(help="Embedder the memories were stored with.")
    ] = "llama",
) -> None:
    """The memories most similar to QUERY (cosine similarity in DuckDB)."""
    store = _store(db, embedder)
    found = store.search(query, k=k, crew=crew, role=role)
    console.print(_table(f"nearest to {query!r}", found, scores=True))


@app.command()
def forget(
    ids: Annotated[list[int] | None, typer.Argument(help="Memory ids.")] = None,
    db: DbOption = DEFAULT_DB,
    crew: CrewOption = None,
    run: Annotated[
        str | None, typer.Option("--run", help="A run's memories (a run id or `latest`).")
    ] = None,
    before: Annotated[datetime | None, typer.Option(help="Memories older than this (UTC).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every memory.")] = False,
) -> None:
    """Forget memories with their embeddings and knowledge-graph triples."""
    if run == "latest":
        from accord.cli.common import resolve_run

        run = resolve_run(db, run)
    report = _store(db).forget(ids or (), crew=crew, run_id=run, before=before, everything=all_)
    console.print(
        f"forgot {report.items} memories, {report.embeddings} embeddings, {report.triples} triples"
    )
