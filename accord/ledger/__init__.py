"""The DuckDB ledger: schema migrations, the batched writer, read-only queries, prices."""

from accord.ledger.reader import latest_run, list_runs, open_readonly, run_decisions
from accord.ledger.writer import DEFAULT_PATH, Ledger, new_run_id
from accord.models.pricing import Price, PriceTable

__all__ = [
    "DEFAULT_PATH",
    "Ledger",
    "Price",
    "PriceTable",
    "latest_run",
    "list_runs",
    "new_run_id",
    "open_readonly",
    "run_decisions",
]
