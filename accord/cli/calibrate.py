"""`accord calibrate`: reliability per estimator and a learned threshold, from the ledger."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from accord.errors import ConfigError

if TYPE_CHECKING:
    from accord.bench.calibration import Calibration

calibrate_app = typer.Typer()
console = Console()


def reliability_table(calibration: Calibration) -> Table:
    """Per estimator and bin: size, mean confidence, accuracy; ECE per estimator."""
    table = Table(title=f"Reliability of the primary answer ({calibration.items} decisions)")
    for column in ("estimator", "ECE", "bin", "n", "confidence", "accuracy"):
        table.add_column(column, justify="left" if column in ("estimator", "bin") else "right")
    for rel in calibration.reliabilities:
        for i, b in enumerate(rel.bins):
            table.add_row(
                rel.estimator if i == 0 else "",
                f"{rel.ece:.3f}" if i == 0 else "",
                f"[{b.low:.1f}, {b.high:.1f})",
                str(b.n),
                f"{b.confidence:.3f}",
                f"{b.accuracy:.3f}",
                end_section=i == len(rel.bins) - 1,
            )
    return table


def choice_line(calibration: Calibration) -> str:
    """One line: the chosen estimator and threshold with its estimated accuracy and cost."""
    p = calibration.chosen
    met = "" if calibration.meets_goal else " — goal NOT met on this history, best effort"
    return (
        f"chosen: confidence={p.estimator} threshold={p.threshold:g}: estimated accuracy "
        f"{p.accuracy:.3f}, {p.tokens_per_item:.1f} tokens/item, {p.accepted:.0%} accepted "
        f"without a vote{met}"
    )


@calibrate_app.command()
def calibrate(
    db: Annotated[Path, typer.Option("--db", help="DuckDB ledger file.")] = Path(
        ".accord/ledger.duckdb"
    ),
    target_accuracy: Annotated[
        float | None, typer.Option(help="Cheapest threshold reaching this accuracy.")
    ] = None,
    max_tokens_per_item: Annotated[
        float | None, typer.Option(help="Most accurate threshold within this many tokens per item.")
    ] = None,
    estimator: Annotated[
        list[str] | None,
        typer.Option(help="Estimator to compare (repeatable; e.g. min:option_prob,verbalised)."),
    ] = None,
    bins: Annotated[int, typer.Option(help="Reliability bins.")] = 10,
    out: Annotated[Path | None, typer.Option(help="Write the chosen policy YAML here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Reliability diagram PNG.")] = None,
) -> None:
    """Learn the adaptive threshold from labelled ledger history (primary attempts)."""
    from accord.bench import calibration as cal

    if target_accuracy is None and max_tokens_per_item is None:
        target_accuracy = 0.9
    if target_accuracy is not None and not 0.0 <= target_accuracy <= 1.0:
        raise ConfigError(
            f"--target-accuracy {target_accuracy} is not an accuracy", hint="give 0 to 1, e.g. 0.9"
        )
    if max_tokens_per_item is not None and not 0.0 <= max_tokens_per_item < math.inf:
        raise ConfigError(
            f"--max-tokens-per-item {max_tokens_per_item} is not a token count",
            hint="give a number >= 0",
        )
    result = cal.calibrate(
        cal.load_history(db),
        estimator or cal.DEFAULT_ESTIMATORS,
        bins=bins,
        target_accuracy=target_accuracy,
        max_tokens=max_tokens_per_item,
    )
    console.print(reliability_table(result))
    console.print(choice_line(result), highlight=False)
    if plot is not None:
        console.print(f"reliability diagram: {cal.plot_reliability(result.reliabilities, plot)}")
    if out is not None:
        cal.write_policy(result, out, base=cal.history_policy(db))  # keep k, voters, ...
        console.print(f"policy: {out}")
