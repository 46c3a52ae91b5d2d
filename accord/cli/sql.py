"""`accord sql "SELECT ..."`: query a ledger (or any DuckDB file accord wrote), read-only.

accord writes DuckDB 2.0 files, which older DuckDB command-line tools refuse; this command
reads them with the DuckDB accord itself runs on.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import duckdb
import typer
from rich.table import Table
from rich.text import Text

from accord.cli.common import DEFAULT_DB, DbOption, console
from accord.cli.render import json_value, sanitise
from accord.errors import ConfigError

sql_app = typer.Typer()


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(title_justify="left")
    for name in columns:
        table.add_column(Text(sanitise(name, newlines=False)), overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if v is None else sanitise(v)) for v in row))
    return table


@sql_app.command()
def sql(
    query: Annotated[str, typer.Argument(help='SQL to run, e.g. "SELECT * FROM run_summary".')],
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the rows as a JSON list of objects.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
) -> None:
    """Query the ledger read-only with DuckDB SQL: tables runs, decisions, attempts, ..."""
    from accord.ledger.reader import open_readonly

    if as_json and as_csv:
        raise ConfigError("--json and --csv are two formats", hint="pick one")
    with open_readonly(db, tables=()) as con:
        try:
            cursor = con.execute(query)
            columns = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall() if columns else []
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            hint = "the ledger is opened read-only" if "read-only" in str(exc) else None
            raise ConfigError(f"SQL error: {first}", path=db, hint=hint) from None
    if as_json:
        body = [{c: json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([json_value(v) for v in row] for row in rows)
    else:
        console.print(_table(columns, rows))
        console.print(f"[dim]{len(rows)} row(s)[/dim]")
