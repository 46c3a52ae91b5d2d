"""Sealing a run: its decisions, their attempts and costs, and its end, chained in the audit trail.

`seal_run` is called by `Ledger.finish_run` once the run's rows are written. It reads them
back and appends to the run's chain one `decision` event per decision not sealed before
(subject: the task id; `args_digest` over the decision row, `result_digest` over its attempt
rows; `detail` shows the path, tokens, money and a hash of the answer) and one `run_end` event
over the run's row in `runs`. Reading back means the digests are of the values as stored, so
`check_sealed` recomputes them from the tables and names the column that changed.

A resumed run is sealed again when it ends: decisions sealed before are left as they are, new
ones are added, and a new `run_end` records the new end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import duckdb

from accord.canonical import canonical, digest
from accord.ledger.audit import AuditEvent, AuditTrail, Finding, LedgerFile
from accord.ledger.audit_keys import AuditKey

# the columns sealed (a column added by a later migration is not covered until listed here)
DECISION_COLUMNS = (
    "task_id, policy, path, stop_reason, status, n_attempts, prompt_tokens, completion_tokens, "
    "wall_ms, model_ms, cost_usd, flops, answer, confidence, expected, correct, decided_at"
)
ATTEMPT_COLUMNS = (
    "task_id, attempt_no, role, model, kind, prompt_tokens, completion_tokens, "
    "cached_prompt_tokens, model_ms, temperature, seed, answer, raw, confidence, option_prob, "
    "mean_logprob, verdict_ok, verdict_reason, critic_score, cost_usd, flops"
)
RUN_COLUMNS = "run_id, crew, source, backend, policy, seed, status, started_at, finished_at, config"
# shown in a decision event's detail, so verify can say which value changed
_SHOWN = (
    "path",
    "status",
    "policy",
    "stop_reason",
    "n_attempts",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "confidence",
    "correct",
)
Row = dict[str, Any]


def _select(db: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[Row]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def decision_rows(db: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Row]:
    """The run's decision rows by task id, in the order they were made."""
    rows = _select(
        db,
        f"SELECT {DECISION_COLUMNS} FROM decisions WHERE run_id = ? ORDER BY decided_at, task_id",
        [run_id],
    )
    return {row["task_id"]: row for row in rows}


def attempt_rows(db: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[Row]]:
    """The run's attempt rows by task id, each list by attempt number."""
    out: dict[str, list[Row]] = {}
    for row in _select(
        db,
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ? ORDER BY task_id, attempt_no",
        [run_id],
    ):
        out.setdefault(row["task_id"], []).append(row)
    return out


def run_row(db: duckdb.DuckDBPyConnection, run_id: str) -> Row | None:
    """The run's row in `runs`, if any."""
    rows = _select(db, f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id])
    return rows[0] if rows else None


def _short(value: Any) -> str:
    return digest(value)[:12]


def _summary(row: Row, attempts: list[str]) -> Row:
    """What a decision event's detail shows: the values verify can name, a hash of the answer,
    and a short digest of each attempt row (`attempts`)."""
    shown = {k: row[k] for k in _SHOWN}
    shown["answer_sha256"] = hashlib.sha256(str(row["answer"]).encode()).hexdigest()[:16]
    shown["attempts"] = attempts
    return shown


def _run_summary(row: Row) -> Row:
    end = row["finished_at"]
    return {
        "status": row["status"],
        "finished_at": None if end is None else str(end),
        "crew": row["crew"],
    }


def seal_run(ledger: LedgerFile, run_id: str, *, key: AuditKey | None = None) -> int:
    """Chain the run's unsealed decisions and its end; return how many events were added."""
    trail = AuditTrail(ledger, run_id, batch=1 << 30, key=key)
    with ledger.connect() as db:
        sealed = {
            r[0]
            for r in db.execute(
                "SELECT tool FROM audit_events WHERE run_id = ? AND kind = 'decision'", [run_id]
            ).fetchall()
        }
        decisions = decision_rows(db, run_id)
        attempts = attempt_rows(db, run_id)
        run = run_row(db, run_id)
    for task_id, row in decisions.items():
        if task_id in sealed:
            continue
        tries = attempts.get(task_id, [])
        shorts = [_short(a) for a in tries]  # the attempts' digest is over these
        trail.append(
            "decision",
            str(tries[0]["role"]) if tries else "-",
            str(row["status"]),
            tool=task_id,
            policy=str(row["policy"]),
            args_digest=digest(row),
            result_digest=digest(shorts),
            detail=canonical(_summary(row, shorts)),
        )
    if run is not None:
        trail.append(
            "run_end",
            "ledger",
            str(run["status"]),
            args_digest=digest(run),
            detail=canonical(_run_summary(run)),
        )
    return trail.flush()


def _changed(shown: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    diffs = [
        f"{k} sealed {v!r}, stored {now.get(k)!r}" for k, v in shown.items() if v != now.get(k)
    ]
    return "; ".join(diffs) or "a column not shown in the event (e.g. the raw text or a time)"


def _check_decision(event: AuditEvent, row: Row, tries: list[Row]) -> list[Finding]:
    try:
        shown = json.loads(event.detail or "{}")
    except ValueError:
        shown = {}
    shorts = [_short(a) for a in tries]
    now = _summary(row, shorts)
    what = f"decision of task {event.tool!r} (sealed at seq {event.seq})"
    found = []
    if event.args_digest != digest(row):
        diff = {k: v for k, v in shown.items() if k != "attempts"}
        found.append(
            Finding(
                "modified",
                event.seq,
                f"modified: {what}: the row differs from its seal: {_changed(diff, now)}",
            )
        )
    if event.result_digest != digest(shorts):
        sealed = list(shown.get("attempts", []))
        pairs = zip(tries, shorts, sealed, strict=False)
        moved = [str(a["attempt_no"]) for a, now_, was in pairs if now_ != was]
        count = (
            f"{len(sealed)} sealed, {len(tries)} stored"
            if len(sealed) != len(tries)
            else f"attempt(s) {', '.join(moved) or '?'} changed"
        )
        found.append(Finding("modified", event.seq, f"modified: attempts of the {what}: {count}"))
    return found


def check_sealed(
    db: duckdb.DuckDBPyConnection, run_id: str, chain: list[AuditEvent], run: Row | None
) -> tuple[int, list[Finding]]:
    """Compare the decisions, attempts and run row as stored with their seals in `chain`.

    Returns the number of sealed decisions and the findings.
    """
    rows = decision_rows(db, run_id)
    attempts = attempt_rows(db, run_id)
    found: list[Finding] = []
    seals: dict[str, AuditEvent] = {}
    for event in (e for e in chain if e.kind == "decision"):
        if str(event.tool) in seals:
            found.append(
                Finding("inserted", event.seq, f"inserted: task {event.tool!r} sealed twice")
            )
        seals.setdefault(str(event.tool), event)
    for task_id, event in seals.items():
        if task_id not in rows:
            found.append(
                Finding(
                    "deleted",
                    event.seq,
                    f"deleted: the decision of task {task_id!r} (sealed at seq {event.seq}) "
                    "is missing from the decisions table",
                )
            )
        else:
            found += _check_decision(event, rows[task_id], attempts.get(task_id, []))
    ends = [e for e in chain if e.kind == "run_end"]
    running = run is not None and run["status"] == "running" and run["finished_at"] is None
    unsealed = [t for t in rows if t not in seals]
    if unsealed:
        why = (
            "the run has not finished (still running, or it crashed: resume it to seal them)"
            if running
            else "added to the decisions table after the run was sealed"
        )
        found.append(
            Finding(
                "unchained",
                None,
                f"unchained: {len(unsealed)} decision(s) not in the audit chain "
                f"({', '.join(map(repr, unsealed[:5]))}{', ...' if len(unsealed) > 5 else ''}): "
                f"{why}",
            )
        )
    if run is not None:
        found += _check_run_end(ends, run, running)
    return len(seals), found


def _check_run_end(ends: list[AuditEvent], run: Row, running: bool) -> list[Finding]:
    if not ends:
        if running:
            return [
                Finding(
                    "unsealed",
                    None,
                    "unsealed: the run has not finished (status running): still running, or "
                    "it crashed (resume it to seal it)",
                )
            ]
        return [
            Finding(
                "unsealed",
                None,
                f"unsealed: the run is {run['status']!r} but its end was never sealed "
                "(its run_end event is missing)",
            )
        ]
    end = ends[-1]
    if end.args_digest == digest(run):
        return []
    try:
        sealed = json.loads(end.detail or "{}")
    except ValueError:
        sealed = {}
    # a resumed run that has not finished yet: the row as sealed, but for its status and end
    as_sealed = {**run, "status": end.decision, "finished_at": sealed.get("finished_at")}
    if running and digest(as_sealed) == end.args_digest:
        return [
            Finding(
                "unsealed",
                None,
                "unsealed: the run was resumed and has not finished (status running): still "
                "running, or it crashed (resume it again to seal it)",
            )
        ]
    return [
        Finding(
            "modified",
            end.seq,
            f"modified: the run's row in `runs` differs from its seal at seq {end.seq}: "
            + _changed(sealed, _run_summary(run)),
        )
    ]
