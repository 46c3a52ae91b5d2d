"""Opening a ledger file that another process may hold for a moment.

DuckDB lets one process write a file, or several read it, never both at once. The writer
holds the file only while it flushes a batch and readers only while they query, so a
conflict is short: waiting it out (with growing pauses, up to `timeout_s`) is the fix.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

LOCK_TIMEOUT_S = 30.0


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB refusing a file another process has open."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(
    path: str | Path, *, read_only: bool = False, timeout_s: float = LOCK_TIMEOUT_S
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, retried while another process holds a conflicting lock."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.025)
