"""`accord` commands: run, validate, ledger. Every AccordError becomes one line and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from accord.cli.common import (
    DEFAULT_DB,
    DbOption,
    choose_pool,
    console,
    err,
    pool_option,
    resolve_run,
)
from accord.errors import AccordError, ConfigError

if TYPE_CHECKING:
    from typer import _click as click  # typer >= 0.26 vendors click: its Command is this one

    from accord.consensus.records import Decision
    from accord.crews.crew import Crew

CONTEXT = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    help="Run crews of role-based LLM agents cheaply and reliably.",
)
InputOption = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="Fill a CrewAI {placeholder}: key=value (repeatable)."),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"accord {version('accord')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run crews of role-based LLM agents cheaply and reliably."""


def _load_crew(path: Path, inputs: list[str] | None) -> Crew:
    """A crew file or a CrewAI project; what an import ignored goes to stderr, once."""
    from accord.crews.crew import Crew
    from accord.interop.crewai_import import parse_inputs

    loaded = Crew.from_path(path, inputs=parse_inputs(inputs))
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    return loaded


def _check_has_tasks(crew: Crew, path: Path) -> None:
    """A crew with nothing for `accord run` to decide is refused, saying what to run instead."""
    if crew.tasks():
        return
    if crew.spec.goals:
        raise ConfigError(
            f"crew {crew.spec.name!r} has goals but no tasks: `accord run` decides tasks",
            path=path,
            hint=f"run its goals with `accord agent run {path}`",
        )
    raise ConfigError(
        f"crew {crew.spec.name!r} has no tasks to run",
        path=path,
        hint="add `tasks:` (or `sources:`); `accord init NAME` writes a starter crew",
    )


def _costs(db: Path, run_id: str) -> dict[str, float]:
    """Each decision's cost in USD as the ledger recorded it (prices applied there)."""
    from accord.ledger.reader import run_decisions

    if not db.is_file():
        return {}
    return {row["task_id"]: row["cost_usd"] for row in run_decisions(db, run_id)}


@app.command()
def run(
    crew: Annotated[Path, typer.Argument(help="Crew YAML file or CrewAI project.")],
    db: DbOption = DEFAULT_DB,
    inputs: InputOption = None,
    backend: Annotated[
        str | None, typer.Option(help="Backend for every role (llama, scripted, ...).")
    ] = None,
    pool: Annotated[str | None, pool_option("ray")] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address to join (default: RAY_ADDRESS).")
    ] = None,
    local: Annotated[bool, typer.Option("--local", hidden=True)] = False,
    resume: Annotated[
        str | None,
        typer.Option(help="Continue this run id (or `latest`): its decisions are reused."),
    ] = None,
    otel: Annotated[
        bool | None,
        typer.Option(
            "--otel/--no-otel",
            help="Send the run's spans over OTLP/HTTP (default: when OTEL_EXPORTER_OTLP_ENDPOINT"
            " is set).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write each task's answer to DIR/TASK.txt (or its output_file)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (nothing else on stdout).")
    ] = False,
    store_prompts: Annotated[
        bool,
        typer.Option(
            "--store-prompts/--no-store-prompts",
            help="Keep the messages each attempt sent in the ledger (attempts.prompt).",
        ),
    ] = True,
) -> None:
    """Run a crew: every task decided, every attempt and decision in the ledger."""
    from accord.cli.render import result_json, result_table, summary_line
    from accord.cli.traces import export_after_run
    from accord.crews.outputs import write_answers
    from accord.ledger.writer import Ledger

    kind = choose_pool(pool, default="ray", alias="local" if local else None)
    spec = _load_crew(crew, inputs)
    _check_has_tasks(spec, crew)
    if resume == "latest":
        resume = resolve_run(db, resume)
    shown = err if as_json else console  # with --json, stdout carries the JSON only
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=shown,
        transient=True,
    )
    bar: dict[str, TaskID] = {}

    def on_start(run_id: str, tasks: list) -> None:
        bar["id"] = progress.add_task(f"run {run_id}", total=len(tasks), last="")

    def on_decision(task: object, d: Decision) -> None:
        progress.update(
            bar["id"], advance=1, last=f"{d.task_id}: {d.path} ({len(d.attempts)} attempts)"
        )

    ledger = Ledger(db, store_prompts=store_prompts)
    with progress:
        progress.console.print(
            f"[dim]starting {len(spec.spec.roles)} role(s) on "
            f"{'in-process agents' if kind == 'local' else 'Ray actors'}…[/dim]"
        )
        try:
            result = spec.run(
                ledger=ledger,
                backend=backend,
                address=address,
                resume=resume,
                pool=kind,
                on_start=on_start,
                on_decision=on_decision,
            )
        finally:
            ledger.close()
    export_after_run(Path(result.ledger_path), result.run_id, enabled=otel)
    written = write_answers(result, spec.tasks(), out)
    if as_json:
        sys.stdout.write(result_json(result, written, _costs(db, result.run_id)) + "\n")
        return
    console.print(result_table(result))
    console.print(summary_line(result))
    if written:
        where = out if out is not None else "the working directory"
        console.print(f"[dim]answers: {len(written)} file(s) in {escape(str(where))}[/dim]")
    console.print(
        f"[dim]ledger: {result.ledger_path} · `accord show {result.run_id}` shows every "
        f"answer, attempt and prompt · `accord ledger {result.run_id}` its costs[/dim]"
    )


@app.command()
def validate(
    crew: Annotated[Path, typer.Argument(help="Crew YAML file or CrewAI project.")],
    inputs: InputOption = None,
) -> None:
    """Check a crew file (or a CrewAI project) without running it, and list every setting
    in it that runs code, reads files, sends data off the machine or writes through tools."""
    from accord.crews.trust import findings
    from accord.crews.yamlsource import load_marked

    loaded = _load_crew(crew, inputs)
    tasks = loaded.tasks()
    console.print(
        escape(
            f"{crew}: ok ({len(loaded.spec.roles)} roles, {len(tasks)} tasks, "
            f"{len(loaded.spec.goals)} goals, policy {loaded.spec.policy.label})"
        )
    )
    found = findings(loaded.spec, loaded.base_dir)
    if not found:
        console.print("trusted settings: none (no code, files, network or writing tools)")
        return
    source = Path(loaded.source) if loaded.source else None
    doc = load_marked(source) if source and source.suffix in (".yaml", ".yml") else None
    console.print(
        f"trusted settings: {len(found)} (a crew file is trusted like code; see README, Security)"
    )
    for item in found:
        place = doc.place(item.loc) if doc else ".".join(map(str, item.loc))
        console.print(escape(f"  {place}: [{item.kind}] {item.text}"), soft_wrap=True)


@app.command()
def ledger(
    run_id: Annotated[str | None, typer.Argument(help="A run id; omitted: list runs.")] = None,
    db: DbOption = DEFAULT_DB,
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 20,
) -> None:
    """List runs, or show one run's decisions and their costs."""
    from accord.cli.render import rows_table
    from accord.ledger.reader import list_runs, run_decisions

    if run_id is None:
        rows = list_runs(db, limit)
        console.print(
            rows_table(
                f"runs in {db}",
                rows,
                [
                    ("run_id", "run"),
                    ("crew", "crew"),
                    ("status", "status"),
                    ("decisions", "dec"),
                    ("escalated", "esc"),
                    ("attempts", "att"),
                    ("tokens", "tokens"),
                    ("cost_usd", "usd"),
                    ("accuracy", "acc"),
                ],
            )
        )
        return
    run_id = resolve_run(db, run_id)
    rows = run_decisions(db, run_id)
    for row in rows:
        row["tokens"] = f"{row['prompt_tokens']}+{row['completion_tokens']}"
        if row["status"] != "accepted":
            row["path"] = f"{row['path']} ({row['status']})"
    console.print(
        rows_table(
            f"run {run_id} in {db}",
            rows,
            [
                ("task_id", "task"),
                ("path", "path"),
                ("stop_reason", "stop"),
                ("n_attempts", "att"),
                ("tokens", "tokens p+c"),
                ("wall_ms", "ms"),
                ("cost_usd", "usd"),
                ("flops", "flops"),
                ("answer", "answer"),
                ("correct", "ok"),
            ],
        )
    )


app.add_typer(__import__("accord.cli.show", fromlist=["x"]).show_app)  # show
app.add_typer(__import__("accord.cli.sql", fromlist=["x"]).sql_app)  # sql
app.add_typer(__import__("accord.cli.schema", fromlist=["x"]).schema_app)  # schema
app.add_typer(__import__("accord.cli.init", fromlist=["x"]).init_app)  # init
app.add_typer(__import__("accord.cli.sandbox", fromlist=["app"]).app, name="sandbox")

app.add_typer(__import__("accord.cli.bench", fromlist=["bench_app"]).bench_app)  # bench, report
app.add_typer(__import__("accord.cli.audit", fromlist=["app"]).app, name="audit")
app.add_typer(__import__("accord.cli.agent", fromlist=["app"]).app, name="agent")
app.add_typer(__import__("accord.cli.memory", fromlist=["app"]).app, name="memory")
app.add_typer(__import__("accord.cli.calibrate", fromlist=["x"]).calibrate_app)  # calibrate
app.add_typer(__import__("accord.cli.traces", fromlist=["x"]).traces_app)  # traces
app.add_typer(__import__("accord.cli.ui", fromlist=["x"]).ui_app)  # ui


def _literal_help(group: click.Command) -> None:
    """Escape Rich markup in every help text, so that `accord[crewai]` shows as written."""
    for param in group.params:
        text = getattr(param, "help", None)  # options and typer's arguments carry help
        if text:
            param.help = escape(text)  # type: ignore[attr-defined]  # not on click.Parameter
    if group.help:
        group.help = escape(group.help)
    for sub in getattr(group, "commands", {}).values():
        _literal_help(sub)


def command() -> click.Command:
    """The click command behind `accord`, its help texts shown as written."""
    built = typer.main.get_command(app)
    _literal_help(built)
    return built


def main() -> None:
    """Entry point: run the app, turning AccordError into one line and its exit code."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        code = command()(standalone_mode=False)
        # in this mode typer returns an Exit's code (130 for Ctrl-C) instead of raising it
        if isinstance(code, int) and code:
            if code == 130:
                err.print("interrupted")
            sys.exit(code)
    except AccordError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in standalone_mode=False
        # by class name: newer typer raises the exceptions of its vendored click, not click's
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "Abort" in kinds:  # a prompt closed (EOF) or refused
            err.print("aborted")
            sys.exit(1)
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2 if "UsageError" in kinds else exc.exit_code)  # type: ignore[attr-defined]
        raise
