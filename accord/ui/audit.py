"""A run's audit trail for the UI: its events, and the verdict `accord audit verify` reaches.

Verifying a run re-checks every event's HMAC and every decision's seal (about 1.3 s for a run
of 10,000 decisions), so pages do not wait for it: they fetch it from the run's audit page
after loading, and verdicts are kept while the ledger and its heads file stay unchanged.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from accord.errors import ConfigError
from accord.ledger.audit import AUDIT_TABLES
from accord.ui.store import Reader

PAGE = 200
SEAL = "decision"  # the kind of a decision's seal event
NO_CHAIN = (
    "This run has no audit chain: an accord that did not seal runs wrote it, or its events "
    "and head were deleted (`accord audit verify` reports it as missing)."
)


def available(db: Reader) -> bool:
    """Whether the file has the audit tables."""
    return db.has(*AUDIT_TABLES)


def counts(db: Reader, run_id: str) -> dict[str, int]:
    """A run's audit events by kind."""
    rows = db.rows(
        "SELECT kind, count(*) AS n FROM audit_events WHERE run_id = ? GROUP BY kind ORDER BY kind",
        [run_id],
    )
    return {r["kind"]: int(r["n"]) for r in rows}


def events(db: Reader, run_id: str, *, seals: bool = True, page: int = 0) -> list[dict[str, Any]]:
    """One page of a run's audit events in chain order; `seals=False` leaves out the
    decisions' seals (what remains: tool calls, plans, approvals, the run's end)."""
    where = "run_id = ?" if seals else f"run_id = ? AND kind <> '{SEAL}'"
    return db.rows(
        f"SELECT * EXCLUDE (run_id) FROM audit_events WHERE {where} "
        "ORDER BY seq, rowid LIMIT ? OFFSET ?",
        [run_id, PAGE, page * PAGE],
    )


def events_of(db: Reader, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """The decision's seal and the run's events whose detail names `task_id`."""
    found = db.rows(
        "SELECT * EXCLUDE (run_id) FROM audit_events WHERE run_id = ? "
        f"AND ((kind = '{SEAL}' AND tool = ?) OR contains(detail, ?)) ORDER BY seq, rowid",
        [run_id, task_id, task_id],
    )
    named = re.compile(rf"(?<![\w.-]){re.escape(task_id)}(?![\w.-])")
    return [
        e
        for e in found
        if (e["kind"] == SEAL and e.get("tool") == task_id) or named.search(e.get("detail") or "")
    ]


def verdict(db: Reader, run_id: str, ledger_path: str | Path) -> dict[str, Any]:
    """The verdict on a run's audit trail: keyed chain, heads and seals, as `accord audit
    verify` checks them. `ok` is None when it could not be checked, and `note` says why."""
    from accord.ledger.audit_heads import heads_path, read_heads
    from accord.ledger.audit_keys import load_key
    from accord.ledger.audit_verify import verify_run

    n = int(db.value("SELECT count(*) FROM audit_events WHERE run_id = ?", [run_id]) or 0)
    if not n and not db.value("SELECT count(*) FROM audit_heads WHERE run_id = ?", [run_id]):
        return {"ok": None, "events": 0, "findings": [], "note": NO_CHAIN}
    try:
        key = load_key(create=False)
    except ConfigError as exc:
        return {"ok": None, "events": n, "findings": [], "note": str(exc)}
    where = heads_path(ledger_path)
    heads = read_heads(where, key) if where is not None else None
    report = verify_run(db.conn, run_id, key, heads)
    findings = [f.message for f in report.findings]
    return {"ok": report.ok, "events": report.events, "findings": findings, "note": None}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class Verdicts:
    """Verdicts kept while the ledger, its WAL and its heads file stay as they were."""

    def __init__(self, path: Path, size: int = 64) -> None:
        self.path = path
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, run_id: str) -> tuple[Any, ...]:
        from accord.ledger.audit_heads import heads_path

        heads = heads_path(self.path)
        files = (self.path, Path(f"{self.path}.wal"), heads)
        return (run_id, os.environ.get("ACCORD_AUDIT_KEY_FILE"), *(_stamp(f) for f in files if f))

    def get(self, db: Reader, run_id: str) -> dict[str, Any]:
        """The verdict on `run_id`, checked again only when a file changed."""
        key = self._key(run_id)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = verdict(db, run_id, self.path)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found
