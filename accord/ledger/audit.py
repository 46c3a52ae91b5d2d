"""The audit trail: append-only events, HMAC-chained per run, and a verifier that names tampering.

Each event stores who acted, on what (a tool, a task), digests of the arguments and the result,
the decision and the policy that made it. Its `hash` is an HMAC-SHA256, keyed with the audit
key kept outside the ledger (`accord.ledger.audit_keys`), over its fields and `prev_hash`, the
HMAC of the run's previous event (the first links to a keyed per-run genesis value). Without
the key no one can recompute a chain after editing it. Each flush also writes the run's new
head to `audit_heads` in the database and to the heads file outside it
(`accord.ledger.audit_heads`), so cutting off a run's newest events shows too.

`_Chain` rebuilds a chain from its links and compares it with the stored order: a row whose
fields no longer match its HMAC was modified; a row whose predecessor is missing follows a
deletion; a row that forks off the chain was inserted; rows in the chain but stored out of
chain order were reordered. `accord.ledger.audit_verify` adds the checks against the heads
file, the `runs` table and the sealed decisions (`accord.ledger.audit_seal`).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb

from accord.canonical import digest
from accord.ledger.audit_heads import append_head, heads_path
from accord.ledger.audit_keys import AuditKey, load_key
from accord.ledger.reader import open_readonly


class LedgerFile(Protocol):
    """What the audit needs of a `Ledger`: its file and a connection to it (no import cycle)."""

    @property
    def path(self) -> str: ...

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


AUDIT_TABLES = ("audit_events", "audit_heads")

_COLUMNS = (
    "run_id, seq, event_id, ts, kind, actor, tool, args_digest, result_digest, "
    "decision, policy, detail, prev_hash, hash"
)
_COLUMN_NAMES = tuple(c.strip() for c in _COLUMNS.split(","))
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
Problem = Literal[
    "modified", "deleted", "inserted", "reordered", "unchained", "unsealed", "key", "missing"
]


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

    def expected_hash(self, key: AuditKey) -> str:
        """The HMAC this event's fields and link should have under `key`."""
        return key.mac({k: getattr(self, k) for k in _HASHED})

    def row(self) -> tuple[Any, ...]:
        """The event as a row of `audit_events`, in `_COLUMNS` order."""
        return tuple(getattr(self, c) for c in _COLUMN_NAMES)

    @property
    def label(self) -> str:
        """How a verify report names this event."""
        what = f"{self.kind} {self.tool}" if self.tool else self.kind
        return f"seq {self.seq} (event {self.event_id}: {what} by {self.actor}, {self.decision})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _chained(events: list[AuditEvent], key: AuditKey, seq: int, head: str) -> list[AuditEvent]:
    """`events` linked one after another from (`seq`, `head`), each with its HMAC."""
    out = []
    for e in events:
        draft = replace(e, seq=seq + 1, prev_hash=head, hash="")
        event = replace(draft, hash=draft.expected_hash(key))
        seq, head = event.seq, event.hash
        out.append(event)
    return out


def _stored_head(db: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, str] | None:
    rows = db.execute(
        "SELECT seq, hash FROM audit_heads WHERE run_id = ? ORDER BY seq DESC LIMIT 1", [run_id]
    ).fetchall()
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


class AuditTrail:
    """Appends events of one run to the ledger's audit table, each chained to the last.

    The key is the audit key (`load_key()`, created on first use, when None). Each flush
    writes the new head to the heads file next to the ledger (`heads`, or the default).
    """

    def __init__(
        self,
        ledger: LedgerFile,
        run_id: str,
        *,
        batch: int = 1,
        key: AuditKey | None = None,
        heads: str | Path | None = None,
    ) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.batch = batch
        self.key = key or load_key()
        self.heads = heads_path(ledger.path, heads)
        self._pending: list[AuditEvent] = []
        with ledger.connect() as db:
            found = _stored_head(db, run_id)
        self.seq, self.head = found or (0, self.key.genesis(run_id))

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
        args_digest: str | None = None,
        result_digest: str | None = None,
    ) -> AuditEvent:
        """Chain one event; it is written at once, or with the next batch when `batch` > 1.

        `args` and `result` are stored as digests (`args_digest`, `result_digest` give them
        ready-made).
        """
        draft = AuditEvent(
            self.run_id,
            0,
            uuid.uuid4().hex[:12],
            _now(),
            kind,
            actor,
            tool,
            args_digest if args is None else digest(args),
            result_digest if result is None else digest(result),
            decision,
            policy,
            detail,
            "",
            "",
        )
        (event,) = _chained([draft], self.key, self.seq, self.head)
        self.seq, self.head = event.seq, event.hash
        self._pending.append(event)
        if len(self._pending) >= self.batch:
            self.flush()
        return event

    def flush(self) -> int:
        """Write pending events and the run's new head in one transaction; return how many.

        Events are linked again to the head stored now if another trail of the same run
        wrote in between (the run's seal, say), so the chain never forks. The head then goes
        to the heads file.
        """
        events, self._pending = self._pending, []
        if not events:
            return 0
        with self.ledger.connect() as db:
            db.execute("BEGIN TRANSACTION")
            try:
                stored = _stored_head(db, self.run_id) or (0, self.key.genesis(self.run_id))
                if stored != (events[0].seq - 1, events[0].prev_hash):
                    events = _chained(events, self.key, *stored)
                appender = db.appender("audit_events", columns=list(_COLUMN_NAMES))
                appender.append_rows([e.row() for e in events])
                appender.flush()
                db.execute("DELETE FROM audit_heads WHERE run_id = ?", [self.run_id])
                db.execute(
                    "INSERT INTO audit_heads VALUES (?, ?, ?)",
                    [self.run_id, events[-1].seq, events[-1].hash],
                )
                db.execute("COMMIT")
            except BaseException:
                with suppress(duckdb.Error):
                    db.execute("ROLLBACK")
                self._pending[:0] = events  # kept for the next flush
                raise
        self.seq, self.head = events[-1].seq, events[-1].hash
        if self.heads is not None:
            append_head(self.heads, self.key, self.run_id, self.seq, self.head)
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
    decisions: int = 0

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

    def __init__(
        self,
        run_id: str,
        events: list[AuditEvent],
        head: tuple[int, str] | None,
        key: AuditKey,
    ) -> None:
        self.run_id, self.events, self.head, self.key = run_id, events, head, key
        self.valid = [e.hash == e.expected_hash(key) for e in events]
        self.by_hash: dict[str, int] = {}
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
        for i, ok in enumerate(self.valid):
            if not ok:
                self._flag(i, "modified", "its fields no longer match its HMAC")
        self._walk(self._pick(self.next.get(self.key.genesis(self.run_id), [])))
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


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """A run's chain as verified: the findings, and its events in chain order."""

    findings: list[Finding]
    chain: list[AuditEvent]  # linked from the genesis, without inserted events


def check_chain(
    run_id: str, events: list[AuditEvent], head: tuple[int, str] | None, key: AuditKey
) -> ChainCheck:
    """Verify one run's stored events against their HMACs, links and the stored `head`."""
    chain = _Chain(run_id, events, head, key)
    if events and not any(chain.valid):
        return ChainCheck(
            [
                Finding(
                    "key",
                    None,
                    f"key: none of the run's {len(events)} event(s) matches its HMAC under the "
                    f"audit key at {key.path} (id {key.id}): the run was chained with another "
                    "key or without one (an older accord), or every event was rewritten",
                )
            ],
            [],
        )
    findings = chain.check()
    flagged = {i for i, f in chain.found.items() if f.problem == "inserted"}
    return ChainCheck(findings, [events[i] for i in chain.order if i not in flagged])


def stored_head(db: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, str] | None:
    """The head of `run_id` recorded in the database's `audit_heads` table."""
    return _stored_head(db, run_id)


def timeline(path: str | Path, run_id: str) -> list[AuditEvent]:
    """A run's events in order, for `accord audit show`."""
    with open_readonly(path, AUDIT_TABLES) as db:
        return load_events(db, run_id)
