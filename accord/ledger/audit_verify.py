"""Verifying a ledger's audit trail: each run's keyed chain, its heads, its seals, its row.

For every run named in the `runs` table, the audit tables or the heads file, `verify_ledger`
checks that:

- the run has a chain, and every event matches its HMAC and links to the one before
  (`accord.ledger.audit`): edits, deletions, insertions and reorderings are named;
- the chain ends where the database's `audit_heads` and every heads-file line of the run say
  it did at each flush: cutting off the newest events shows, even with the head row deleted;
- every decision row of the run, its attempts and the run's row match their seals
  (`accord.ledger.audit_seal`), and no decision is left unsealed;
- the heads file itself is intact (`accord.ledger.audit_heads`), and exists when there are runs.

A run is verified only when all of this holds; `LedgerReport.ok` also needs at least one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from accord.errors import ConfigError
from accord.ledger.audit import (
    AUDIT_TABLES,
    AuditEvent,
    Finding,
    RunReport,
    check_chain,
    load_events,
    stored_head,
)
from accord.ledger.audit_heads import HeadLine, HeadsFile, heads_path, read_heads
from accord.ledger.audit_keys import AuditKey, load_key
from accord.ledger.audit_seal import check_sealed, run_row
from accord.ledger.reader import open_readonly


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """The verdict on a ledger: one report per run, and problems of the files themselves."""

    reports: list[RunReport]
    problems: list[str]
    heads: Path | None

    @property
    def ok(self) -> bool:
        """True when at least one run was verified and nothing is wrong."""
        return bool(self.reports) and not self.problems and all(r.ok for r in self.reports)


def _tables(db: duckdb.DuckDBPyConnection) -> set[str]:
    rows = db.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def _known_runs(db: duckdb.DuckDBPyConnection, audit: bool, heads: HeadsFile | None) -> list[str]:
    """Every run id the ledger or the heads file knows, the `runs` table's by start time."""
    runs = [r[0] for r in db.execute("SELECT run_id FROM runs ORDER BY started_at").fetchall()]
    if audit:
        runs += [
            r[0]
            for r in db.execute(
                "SELECT run_id FROM (SELECT run_id FROM audit_events UNION "
                "SELECT run_id FROM audit_heads) ORDER BY run_id"
            ).fetchall()
        ]
    if heads is not None:
        runs += heads.runs()
    return list(dict.fromkeys(runs))


def _latest(db: duckdb.DuckDBPyConnection) -> str | None:
    row = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _check_heads(
    events: list[AuditEvent], chain: list[AuditEvent], lines: list[HeadLine], heads: HeadsFile
) -> list[Finding]:
    """Each heads-file line of the run names an event of its chain; the last names its end."""
    at = {e.hash: e for e in chain}
    stored = {e.hash for e in events}
    last = chain[-1].seq if chain else 0
    found = []
    beyond = [line for line in lines if line.head not in at and line.seq > last]
    if beyond:
        line = beyond[-1]
        found.append(
            Finding(
                "deleted",
                None,
                f"deleted: the heads file records seq {line.seq} "
                f"({heads.path}:{line.lineno}) but the chain ends at seq {last}: "
                f"the newest {line.seq - last} event(s) were deleted",
            )
        )
    for line in lines:
        where = f"{heads.path}:{line.lineno}"
        event = at.get(line.head)
        if event is None and line.seq <= last:
            gone = line.head not in stored
            found.append(
                Finding(
                    "deleted" if gone else "modified",
                    line.seq,
                    f"{'deleted' if gone else 'modified'}: the event the heads file records at "
                    f"seq {line.seq} ({where}) is " + ("missing" if gone else "not in the chain"),
                )
            )
        elif event is not None and event.seq != line.seq:
            found.append(
                Finding(
                    "reordered",
                    event.seq,
                    f"reordered: the heads file records this event at seq {line.seq} ({where}), "
                    f"it is stored at seq {event.seq}",
                )
            )
    after = chain.index(at[lines[-1].head]) + 1 if lines and lines[-1].head in at else len(chain)
    if after < len(chain):
        found.append(
            Finding(
                "unchained",
                chain[after].seq,
                f"unchained: {len(chain) - after} event(s) from seq {chain[after].seq} on are "
                "not in the heads file (a crash between the two writes, or forged by someone "
                "holding the audit key)",
            )
        )
    return found


def verify_run(
    db: duckdb.DuckDBPyConnection,
    run_id: str,
    key: AuditKey,
    heads: HeadsFile | None,
    *,
    audit: bool = True,
) -> RunReport:
    """Check one run: chain, heads (database and file), seals, and its row in `runs`."""
    events = load_events(db, run_id) if audit else []
    checked = check_chain(run_id, events, stored_head(db, run_id) if audit else None, key)
    found = list(checked.findings)
    run = run_row(db, run_id)
    if run is None:
        found.append(
            Finding("missing", None, f"missing: run {run_id!r} has no row in the runs table")
        )
    if not events:
        found.append(
            Finding(
                "missing",
                None,
                "missing: the run has no audit chain (its events were deleted, or it was "
                "written without auditing)",
            )
        )
    if heads is not None and heads.exists:
        lines = heads.of(run_id)
        if events and not lines:
            found.append(Finding("missing", None, f"missing: the run has no line in {heads.path}"))
        if any(f.problem == "key" for f in found):
            lines = []  # nothing of the chain can be matched
        found += _check_heads(events, checked.chain, lines, heads)
    sealed = 0
    if checked.chain or run is not None:
        sealed, more = check_sealed(db, run_id, checked.chain, run)
        found += [f for f in more if not (f.problem == "unsealed" and not events)]
    return RunReport(run_id, len(events), tuple(found), sealed)


def verify_ledger(
    path: str | Path,
    run_ids: list[str] | None = None,
    *,
    key: str | Path | None = None,
    heads: str | Path | None = None,
) -> LedgerReport:
    """Check `run_ids` (`latest` allowed; every run when None) in the ledger at `path`.

    An unknown run id, a missing ledger or a missing key is a ConfigError (exit 2).
    """
    where = heads_path(path, heads)
    with open_readonly(path) as db:
        audit_key = load_key(key, create=False)
        tables = _tables(db)
        audit = all(t in tables for t in AUDIT_TABLES)
        problems = [f"the {t} table is missing" for t in AUDIT_TABLES if t not in tables]
        heads_file = read_heads(where, audit_key) if where is not None else None
        known = _known_runs(db, audit, heads_file)
        if heads_file is not None:
            problems += heads_file.problems
            if not heads_file.exists and known:
                problems.append(f"the heads file {where} is missing")
        runs = _select_runs(db, path, run_ids, known)
        reports = [verify_run(db, run, audit_key, heads_file, audit=audit) for run in runs]
    return LedgerReport(reports, problems, where)


def _select_runs(
    db: duckdb.DuckDBPyConnection, path: str | Path, run_ids: list[str] | None, known: list[str]
) -> list[str]:
    if run_ids is None:
        return known
    out = []
    for run_id in run_ids:
        if run_id == "latest":
            latest = _latest(db)
            if latest is None and known:  # no runs left, yet the audit trail knows some
                out += known
                continue
            if latest is None:
                raise ConfigError(
                    "no runs in the ledger or its heads file: nothing to verify", path=path
                )
            run_id = latest
        if run_id not in known:
            raise ConfigError(
                f"no run {run_id!r} in the ledger or its heads file",
                path=path,
                hint="`accord ledger` lists the runs; `accord audit verify --all` checks them all",
            )
        out.append(run_id)
    return list(dict.fromkeys(out))


def verify(
    path: str | Path,
    run_ids: list[str] | None = None,
    *,
    key: str | Path | None = None,
    heads: str | Path | None = None,
) -> list[RunReport]:
    """Check `run_ids` (every run when None) in the ledger at `path`; see `verify_ledger`."""
    return verify_ledger(path, run_ids, key=key, heads=heads).reports
