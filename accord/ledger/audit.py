"""The audit trail: append-only events, hash-chained per run, and a verifier that names tampering.

Each event stores who acted, on which tool, digests of the arguments and the result, the
decision and the policy that made it. Its `hash` is sha256 over its fields and `prev_hash`, the
hash of the run's previous event (the first links to a per-run genesis value); `audit_heads`
keeps each run's last seq and hash, so deleting the newest events is caught too.

`verify_run` rebuilds the chain from the links and compares it with the stored order: a row
whose fields no longer match its hash was modified; a row whose predecessor is missing follows a
deletion; a row that forks off the chain was inserted; rows in the chain but stored out of
chain order were reordered. (Someone able to rewrite every later hash and the head can forge a
consistent history; anchor the head elsewhere for that threat.)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from accord.ledger.reader import open_readonly
from accord.ledger.writer import Ledger
from accord.tools.base import canonical, digest

AUDIT_TABLES = ("audit_events", "audit_heads")

_COLUMNS = (
    "run_id, seq, event_id, ts, kind, actor, tool, args_digest, result_digest, "
    "decision, policy, detail, prev_hash, hash"
)
_HASHED = (
    "run_id",
    "event_id",
    "ts",
    "kind",
    "actor",
    "tool",
    "args_digest",
    "result_digest",
    "decision",
    "policy",
    "detail",
    "prev_hash",
)
Problem = Literal["modified", "deleted", "inserted", "reordered"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One stored audit event."""

    run_id: str
    seq: int
    event_id: str
    ts: str
    kind: str
    actor: str
    tool: str | None
    args_digest: str | None
    result_digest: str | None
    decision: str
    policy: str | None
    detail: str | None
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this event's fields and link should have."""
        fields = asdict(self)
        return hashlib.sha256(canonical({k: fields[k] for k in _HASHED}).encode()).hexdigest()

    @property
    def label(self) -> str:
        """How a verify report names this event."""
        what = f"{self.kind} {self.tool}" if self.tool else self.kind
        return f"seq {self.seq} (event {self.event_id}: {what} by {self.actor}, {self.decision})"


def genesis(run_id: str) -> str:
    """The value the first event of a run links to."""
    return hashlib.sha256(f"accord-audit:{run_id}".encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class AuditTrail:
    """Appends events of one run to the ledger's audit table, each chained to the last."""

    def __init__(self, ledger: Ledger, run_id: str, *, batch: int = 1) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.batch = batch
        self._pending: list[AuditEvent] = []
        with ledger.connect() as db:
            row = db.execute(
                "SELECT seq, hash FROM audit_heads WHERE run_id = ?", [run_id]
            ).fetchone()
        self.seq, self.head = (int(row[0]), str(row[1])) if row else (0, genesis(run_id))

    def append(
        self,
        kind: str,
        actor: str,
        decision: str,
        *,
        tool: str | None = None,
        args: Any = None,
        result: Any = None,
        policy: str | None = None,
        detail: str | None = None,
    ) -> AuditEvent:
        """Chain one event; it is written at once, or with the next batch when `batch` > 1."""
        draft = AuditEvent(
            self.run_id,
            self.seq + 1,
            uuid.uuid4().hex[:12],
            _now(),
            kind,
            actor,
            tool,
            None if args is None else digest(args),
            None if result is None else digest(result),
            decision,
            policy,
            detail,
            self.head,
            "",
        )
        event = AuditEvent(**{**asdict(draft), "hash": draft.expected_hash()})
        self.seq, self.head = event.seq, event.hash
        self._pending.append(event)
        if len(self._pending) >= self.batch:
            self.flush()
        return event

    def flush(self) -> int:
        """Write pending events and the run's new head in one transaction; return how many."""
        events, self._pending = self._pending, []
        if not events:
            return 0
        with self.ledger.connect() as db:
            db.execute("BEGIN TRANSACTION")
            db.executemany(
                f"INSERT INTO audit_events ({_COLUMNS}) VALUES "
                f"({', '.join('?' for _ in _COLUMNS.split(','))})",
                [list(asdict(e).values()) for e in events],
            )
            db.execute("DELETE FROM audit_heads WHERE run_id = ?", [self.run_id])
            db.execute(
                "INSERT INTO audit_heads VALUES (?, ?, ?)",
                [self.run_id, events[-1].seq, events[-1].hash],
            )
            db.execute("COMMIT")
        return len(events)


@dataclass(frozen=True, slots=True)
class Finding:
    """One sign of tampering, naming the row."""

    problem: Problem
    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class RunReport:
    """The verdict on one run's audit chain."""

    run_id: str
    events: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return not self.findings


def load_events(db: duckdb.DuckDBPyConnection, run_id: str) -> list[AuditEvent]:
    """A run's events in stored order (by seq)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit_events WHERE run_id = ? ORDER BY seq, rowid", [run_id]
    ).fetchall()
    return [AuditEvent(*row) for row in rows]


class _Chain:
    """Rebuilds a run's chain from its links and compares it with the stored order."""

    def __init__(self, run_id: str, events: list[AuditEvent], head: tuple[int, str] | None):
        self.run_id, self.events, self.head = run_id, events, head
        self.by_hash = {}
        for i, e in enumerate(events):
            self.by_hash.setdefault(e.hash, i)
        self.next: dict[str, list[int]] = {}
        for i, e in enumerate(events):
            self.next.setdefault(e.prev_hash, []).append(i)
        self.order: list[int] = []
        self.seen: set[int] = set()
        self.found: dict[int, Finding] = {}

    def _pick(self, candidates: list[int]) -> int | None:
        free = [c for c in candidates if c not in self.seen]
        head_hash = self.head[1] if self.head else None

        def rank(i: int) -> tuple[bool, int]:
            e = self.events[i]
            return (not (self.next.get(e.hash) or e.hash == head_hash), i)

        return min(free, key=rank) if free else None

    def _walk(self, start: int | None) -> None:
        while start is not None and start not in self.seen:
            self.seen.add(start)
            self.order.append(start)
            start = self._pick(self.next.get(self.events[start].hash, []))

    def _flag(self, i: int, problem: Problem, message: str) -> None:
        self.found.setdefault(
            i, Finding(problem, self.events[i].seq, f"{problem}: {self.events[i].label}: {message}")
        )

    def check(self) -> list[Finding]:
        events = self.events
        for i, e in enumerate(events):
            if e.hash != e.expected_hash():
                self._flag(i, "modified", "its fields no longer match its hash")
        self._walk(self._pick(self.next.get(genesis(self.run_id), [])))
        for i, e in enumerate(events):
            if i not in self.seen and e.prev_hash not in self.by_hash:
                self._flag(i, "deleted", "the event before it is missing")
                self._walk(i)
        for i, e in enumerate(events):
            if i not in self.seen:
                fork = self.by_hash.get(e.prev_hash)
                after = f"seq {events[fork].seq}" if fork is not None else "the start"
                self._flag(i, "inserted", f"not in the chain; it forks off after {after}")
        inserted = {i for i, f in self.found.items() if f.problem == "inserted"}
        extra = self._check_head(inserted)
        chain = [i for i in self.order if i not in inserted]
        stored = sorted(chain)
        for at, (want, got) in enumerate(zip(chain, stored, strict=True)):
            if want != got:
                self._flag(
                    got,
                    "reordered",
                    f"stored at position {at + 1} of the chain, belongs at {chain.index(got) + 1}",
                )
        return [self.found[i] for i in sorted(self.found)] + extra

    def _check_head(self, inserted: set[int]) -> list[Finding]:
        if not self.events:
            if self.head:
                return [
                    Finding(
                        "deleted",
                        None,
                        f"deleted: all {self.head[0]} event(s) of the run are missing",
                    )
                ]
            return []
        if self.head is None:
            return [Finding("deleted", None, "deleted: the run's head record is missing")]
        seq, hash_ = self.head
        if hash_ not in self.by_hash:
            last = max(e.seq for e in self.events)
            return [
                Finding(
                    "deleted",
                    None,
                    f"deleted: event(s) after seq {last} are missing "
                    f"(the recorded head is seq {seq})",
                )
            ]
        at = self.order.index(self.by_hash[hash_]) if self.by_hash[hash_] in self.order else -1
        for i in self.order[at + 1 :]:
            self._flag(i, "inserted", "appended after the recorded head of the run")
            inserted.add(i)
        return []


def verify_run(db: duckdb.DuckDBPyConnection, run_id: str) -> RunReport:
    """Check one run's chain."""
    events = load_events(db, run_id)
    row = db.execute(
        "SELECT seq, hash FROM audit_heads WHERE run_id = ? ORDER BY seq DESC", [run_id]
    ).fetchone()
    head = (int(row[0]), str(row[1])) if row else None
    return RunReport(run_id, len(events), tuple(_Chain(run_id, events, head).check()))


def audited_runs(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs with audit events or a head record, oldest first."""
    rows = db.execute(
        "SELECT run_id FROM (SELECT run_id FROM audit_events UNION "
        "SELECT run_id FROM audit_heads) ORDER BY run_id"
    ).fetchall()
    return [r[0] for r in rows]


def verify(path: str | Path, run_ids: Iterable[str] | None = None) -> list[RunReport]:
    """Check the chains of `run_ids` (every audited run when None) in the ledger at `path`."""
    with open_readonly(path, AUDIT_TABLES) as db:
        runs = list(run_ids) if run_ids is not None else audited_runs(db)
        return [verify_run(db, run_id) for run_id in runs]


def timeline(path: str | Path, run_id: str) -> list[AuditEvent]:
    """A run's events in order, for `accord audit show`."""
    with open_readonly(path, AUDIT_TABLES) as db:
        return load_events(db, run_id)
