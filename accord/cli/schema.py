"""`accord schema`: the crew file's JSON Schema (for editors) or its Markdown reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import console

schema_app = typer.Typer()


@schema_app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown reference instead.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the crew file's JSON Schema (editors complete and check fields with it)."""
    from accord.crews.reference import crew_json_schema, reference_markdown

    text = reference_markdown() if markdown else json.dumps(crew_json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")
