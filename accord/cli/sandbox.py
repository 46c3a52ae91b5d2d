"""`accord sandbox run FILE [ARGS...]`: run a program isolated and show what came out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from accord.sandbox import SandboxResult

app = typer.Typer(no_args_is_help=True, help="Run untrusted code isolated (bubblewrap).")
err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def run(
    file: Annotated[
        Path,
        typer.Argument(
            help="Program to run (.py runs with Python).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the program.")] = None,
    unsafe_local: Annotated[
        bool,
        typer.Option(
            "--unsafe-local", help="Run WITHOUT isolation (limits and timeout still apply)."
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds.")] = 30.0,
    cpu: Annotated[int, typer.Option(help="CPU seconds.")] = 10,
    memory_mb: Annotated[int, typer.Option(help="Address space, MiB.")] = 512,
    output_kb: Annotated[int, typer.Option(help="Cap on captured stdout/stderr, KiB.")] = 1024,
    db: Annotated[
        Path, typer.Option("--db", help="Ledger that audits --unsafe-local runs.")
    ] = Path(".accord/ledger.duckdb"),
) -> None:
    """Run FILE in the sandbox; arguments after FILE go to the program."""
    from accord.sandbox import Limits, open_sandbox

    limits = Limits(
        wall_seconds=timeout,
        cpu_seconds=cpu,
        memory_bytes=memory_mb << 20,
        output_bytes=output_kb << 10,
    )
    sandbox = open_sandbox(unsafe_local=unsafe_local)
    if unsafe_local:  # every unsafe run is on record: a run and an audit event in the ledger
        from accord.ledger.writer import Ledger
        from accord.sandbox.recorded import RecordedSandbox

        sandbox = RecordedSandbox(sandbox, Ledger(db))
        err.print(
            "[yellow]warning:[/yellow] --unsafe-local: running without isolation "
            f"(recorded in {db}, run {sandbox.run_id})"
        )
    name = file.name
    argv = ["python", name] if file.suffix == ".py" else [f"./{name}"]
    result = sandbox.run([*argv, *(args or [])], files={name: file.read_bytes()}, limits=limits)
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    err.print(summary(result))
    if hasattr(sandbox, "close"):
        sandbox.close()
    code = result.exit_code
    if code:  # SystemExit, not typer.Exit: main() runs click with standalone_mode=False
        raise SystemExit(code if code > 0 else 128 - code)


def summary(result: SandboxResult) -> str:
    """One line: exit code, limit hit, truncation, times, isolation."""
    parts = [f"exit code {result.exit_code}"]
    if result.signal:
        parts.append(f"signal {result.signal}")
    parts.append(f"limit hit: {result.limit_hit or 'none'}")
    if result.stdout_truncated or result.stderr_truncated:
        parts.append("output truncated")
    parts.append(f"{result.wall_seconds:.2f} s wall, {result.cpu_seconds:.2f} s cpu")
    parts.append(f"isolation: {result.isolation}")
    return "[dim]sandbox:[/dim] " + " · ".join(parts)
