"""`accord sandbox run FILE [ARGS...]`: run a program isolated and show what came out."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from accord.text import visible_bytes

if TYPE_CHECKING:
    from accord.sandbox import Limits, SandboxResult

app = typer.Typer(no_args_is_help=True, help="Run untrusted code isolated (bubblewrap).")
err = Console(stderr=True, highlight=False, soft_wrap=True)


# options are read wherever written (a trailing --unsafe-local is not the program's); what
# is not an option of this command goes to the program, and so does everything after `--`
@app.command(context_settings={"ignore_unknown_options": True})
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
    memory_mb: Annotated[
        int, typer.Option(help="Memory of the whole run (cgroup) and of each process, MiB.")
    ] = 512,
    output_kb: Annotated[int, typer.Option(help="Cap on captured stdout/stderr, KiB.")] = 1024,
    db: Annotated[
        Path, typer.Option("--db", help="Ledger that audits --unsafe-local runs.")
    ] = Path(".accord/ledger.duckdb"),
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Write the output byte for byte (terminal escapes included)."),
    ] = False,
) -> None:
    """Run FILE in the sandbox; other arguments go to the program (all of them after --)."""
    from accord.sandbox import open_sandbox

    limits = _limits(timeout=timeout, cpu=cpu, memory_mb=memory_mb, output_kb=output_kb)
    sandbox = open_sandbox(unsafe_local=unsafe_local)
    if unsafe_local:  # every unsafe run is on record: a run and an audit event in the ledger
        from accord.ledger.recorded_sandbox import RecordedSandbox
        from accord.ledger.writer import Ledger

        sandbox = RecordedSandbox(sandbox, Ledger(db))
        err.print(
            "[yellow]warning:[/yellow] --unsafe-local: running without isolation "
            f"(recorded in {db}, run {sandbox.run_id})"
        )
    name = file.name
    argv = ["python", name] if file.suffix == ".py" else [f"./{name}"]
    result = sandbox.run([*argv, *(args or [])], files={name: file.read_bytes()}, limits=limits)
    _show(result.stdout, sys.stdout, raw=raw)
    _show(result.stderr, sys.stderr, raw=raw)
    err.print(summary(result))
    if hasattr(sandbox, "close"):
        sandbox.close()
    code = result.exit_code
    if code:  # SystemExit, not typer.Exit: main() runs click with standalone_mode=False
        raise SystemExit(code if code > 0 else 128 - code)


FLAGS = {
    "wall_seconds": "--timeout",
    "cpu_seconds": "--cpu",
    "memory_bytes": "--memory-mb",
    "output_bytes": "--output-kb",
}


def _limits(*, timeout: float, cpu: int, memory_mb: int, output_kb: int) -> Limits:
    """The run's limits from the flags; a bad value is a ConfigError naming the flag."""
    from accord.errors import ConfigError
    from accord.sandbox import Limits

    values = {"timeout": timeout, "cpu": cpu, "memory-mb": memory_mb, "output-kb": output_kb}
    for flag, value in values.items():  # shifting an inf or nan would fail with a traceback
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(
                f"--{flag} must be a finite number > 0, got {value!r}", path="accord sandbox run"
            )
    try:
        return Limits(
            wall_seconds=timeout,
            cpu_seconds=cpu,
            memory_bytes=memory_mb << 20,
            output_bytes=output_kb << 10,
        )
    except ConfigError as exc:
        flag = next((f for field, f in FLAGS.items() if field in exc.message), "a flag")
        raise ConfigError(
            f"{flag}: {exc.message}", path="accord sandbox run", hint=exc.hint
        ) from None


def _show(data: bytes, stream: TextIO, *, raw: bool) -> None:
    """Write program output; control characters shown as escapes unless `raw`."""
    if raw:
        stream.buffer.write(data)
    else:
        stream.write(visible_bytes(data))
    stream.flush()


def summary(result: SandboxResult) -> str:
    """One line: exit code, limit hit, truncation, times, isolation."""
    parts = [f"exit code {result.exit_code}"]
    if result.signal:
        parts.append(f"signal {result.signal}")
    parts.append(f"limit hit: {result.limit_hit or 'none'}")
    if result.stdout_truncated or result.stderr_truncated:
        parts.append("output truncated")
    parts.append(f"{result.wall_seconds:.2f} s wall, {result.cpu_seconds:.2f} s cpu")
    if result.memory_peak_bytes is not None:
        parts.append(f"peak memory {result.memory_peak_bytes / (1 << 20):.1f} MiB")
    parts.append(f"isolation: {result.isolation}")
    if result.enforcement:
        parts.append(f"limits: {escape(result.enforcement)}")
    return "[dim]sandbox:[/dim] " + " · ".join(parts)
