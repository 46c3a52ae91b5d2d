"""`accord bench` and `accord report`: the cost/accuracy suite (merged into the main app)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

bench_app = typer.Typer()
console = Console()
DEFAULT_DB = Path(".accord/ledger.duckdb")
DEFAULT_OUT = Path(".accord/bench")
_ENV = ("ACCORD_LLAMA_THREADS",)  # settings that change a run's timings, kept with its command


class RichProgress:
    """A rich bar per phase, with elapsed time and ETA."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, phase: str, total: int) -> None:
        """Start a bar for `phase` (the previous one is marked done)."""
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)
        self.task = self.progress.add_task(phase, total=max(total, 0), note="")

    def advance(self, steps: int = 1, note: str = "") -> None:
        """Move the bar on."""
        if self.task is not None:
            self.progress.update(self.task, advance=steps, note=note[:40])


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("[dim]{task.fields[note]}"),
        console=console,
    )


def _options(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs; numbers become numbers."""
    from accord.errors import ConfigError

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --option {pair!r}", hint="write KEY=VALUE")
        try:
            out[key] = float(value) if "." in value else int(value)
        except ValueError:
            out[key] = value
    return out


@bench_app.command()
def bench(
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated shipped task names, paths to "
            "BIG-bench .json / .jsonl files, recorded-samples .jsonl(.gz) files "
            "(docs/RECORDED.md), 'all', or 'simulated:N'."
        ),
    ] = "arithmetic__1_digit_addition",
    strategies: Annotated[
        str,
        typer.Option(
            help="Comma-separated: single, validated, vote@K, "
            "early-stop, adaptive, adaptive@T, "
            "adaptive-sweep, cascade, and the peers peer:crewai, "
            "peer:autogen (or 'peers' for both; always run live, "
            "needs pip install 'accord[crewai]' / 'accord[autogen]')."
        ),
    ] = "single,vote@3,vote@5,early-stop,adaptive",
    limit: Annotated[int | None, typer.Option(help="Items per task.")] = None,
    seed: Annotated[int, typer.Option(help="Base seed (the cache key includes it).")] = 0,
    backend: Annotated[str, typer.Option(help="Backend: llama, simulated, openai, ...")] = "llama",
    out: Annotated[Path, typer.Option(help="Where report.md and pareto.png go.")] = DEFAULT_OUT,
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")] = DEFAULT_DB,
    replay: Annotated[
        int,
        typer.Option(
            help="Record K samples per item once and replay every strategy from them (0: run "
            "live); K must cover the largest vote (vote@7 needs 7)."
        ),
    ] = 0,
    replay_seeds: Annotated[int, typer.Option(help="Replay orders per strategy.")] = 20,
    pool: Annotated[str, typer.Option(help="local (in-process) or ray.")] = "local",
    option: Annotated[
        list[str] | None,
        typer.Option(help="Backend option KEY=VALUE (repeatable), e.g. confidence=overconfident."),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="Measure live rows again instead of reusing cached ones (re-timing)."
        ),
    ] = False,
    sources: Annotated[
        str,
        typer.Option(
            help="Replay a recorded-samples file's sources as roles instead of a model: "
            "'a,b,c' (the first is the primary role, all vote; tiers split by ';')."
        ),
    ] = "",
    rerecord: Annotated[
        bool,
        typer.Option(
            "--rerecord",
            help="With --replay: drop the recorded samples of this backend and seed, draw anew.",
        ),
    ] = False,
) -> None:
    """Run strategies side by side on the same items; write report.md, pareto.png and
    summary.json."""
    from accord.bench.report import headline_table, write_report, write_summary_json
    from accord.bench.runner import BenchConfig, run_bench
    from accord.bench.store import BenchStore
    from accord.errors import ConfigError

    if pool not in ("local", "ray"):
        raise ConfigError(f"unknown pool {pool!r}", hint="use local or ray")
    kind: Literal["local", "ray"] = "ray" if pool == "ray" else "local"
    env = " ".join(f"{k}={os.environ[k]}" for k in _ENV if k in os.environ)
    command = (
        (env + " " if env else "") + "accord " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    )
    config = BenchConfig(
        tasks=tasks,
        strategies=strategies,
        limit=limit,
        seed=seed,
        backend=backend,
        db=db,
        out=out,
        replay=replay,
        replay_seeds=replay_seeds,
        pool=kind,
        command=command,
        backend_options=_options(option or []),
        fresh=fresh,
        rerecord=rerecord,
        sources=sources,
    )
    with _progress() as progress:
        run_id = run_bench(config, RichProgress(progress))
    store = BenchStore(db)
    run = store.run(run_id)
    assert run is not None
    md, (png,) = write_report(db, run_id, out)
    write_summary_json(store.summary(run_id), out / "summary.json")
    if backend == "simulated":
        console.print(
            "[bold yellow]SIMULATED[/bold yellow] population: every figure below is simulated."
        )
    console.print(headline_table(run, store.summary(run_id)), markup=False)
    console.print(
        f"[dim]run {run_id} · report {md} · plot {png} · "
        f"`accord report {run_id}` re-renders it[/dim]"
    )


@bench_app.command()
def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Bench run ids (default: latest); several make one page."),
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")] = DEFAULT_DB,
    out: Annotated[Path, typer.Option(help="Where the page and plots go.")] = DEFAULT_OUT,
    page: Annotated[str, typer.Option(help="File name of the Markdown page.")] = "report.md",
) -> None:
    """Re-render bench runs' report and plots from the database, without re-running."""
    from accord.bench.report import write_report

    md, pngs = write_report(db, runs or ["latest"], out, page=page)
    console.print(f"report {md} · plots {', '.join(str(p) for p in pngs)}")
