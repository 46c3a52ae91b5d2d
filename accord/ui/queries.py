"""What the run and decision pages show, read from the ledger's tables in a few queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accord.consensus.normalise import normalise_answer
from accord.consensus.records import ANSWER_KINDS, Task
from accord.consensus.voting import Tally
from accord.ui.store import Reader

PAGE = 200  # rows per page of a long table


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list: a crew, and a window of start times (UTC, as the ledger keeps)."""

    crew: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, alias: str = "r") -> tuple[str, list[Any]]:
        """A SQL condition on runs `alias`, and its parameters."""
        terms, params = ["TRUE"], list[Any]()
        if self.crew:
            terms.append(f"{alias}.crew = ?")
            params.append(self.crew)
        if self.since is not None:
            terms.append(f"{alias}.started_at >= ?")
            params.append(self.since)
        if self.until is not None:
            terms.append(f"{alias}.started_at < ?")
            params.append(self.until)
        return " AND ".join(terms), params


_TOTALS = """
    SELECT run_id, count(*) AS decisions,
           sum(CASE WHEN path <> 'single' THEN 1 ELSE 0 END) AS escalated,
           sum(CASE WHEN status <> 'accepted' THEN 1 ELSE 0 END) AS unresolved,
           sum(n_attempts) AS attempts,
           sum(prompt_tokens + completion_tokens) AS tokens,
           sum(cost_usd) AS cost_usd,
           avg(CASE WHEN correct IS NULL THEN NULL WHEN correct THEN 1.0 ELSE 0.0 END)
               AS accuracy,
           max(decided_at) AS last_decided_at
    FROM decisions {where} GROUP BY run_id"""


def _wall_s(run: dict[str, Any], now: datetime) -> float | None:
    end = run.get("finished_at") or (now if run.get("status") == "running" else None)
    end = end or run.get("last_decided_at")
    return (end - run["started_at"]).total_seconds() if end and run.get("started_at") else None


def _finish(run: dict[str, Any], now: datetime) -> dict[str, Any]:
    for key in ("decisions", "escalated", "unresolved", "attempts", "tokens"):
        run[key] = int(run.get(key) or 0)
    run["cost_usd"] = float(run.get("cost_usd") or 0.0)
    run["escalation"] = run["escalated"] / run["decisions"] if run["decisions"] else None
    run["wall_s"] = _wall_s(run, now)
    return run


def now_of(db: Reader) -> datetime:
    """The database's UTC clock, naive like the ledger's timestamps."""
    return db.value("SELECT CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)")


def crews(db: Reader) -> list[str]:
    """Every crew name in the ledger."""
    return [r["crew"] for r in db.rows("SELECT DISTINCT crew FROM runs ORDER BY crew")]


def runs(db: Reader, flt: RunFilter, *, page: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of runs (newest first) with their totals, and how many runs match."""
    where, params = flt.where()
    total = db.value(f"SELECT count(*) FROM runs r WHERE {where}", params)
    found = db.rows(
        f"""SELECT r.run_id, r.crew, r.status, r.policy, r.backend, r.started_at,
                   r.finished_at, t.* EXCLUDE (run_id)
            FROM runs r LEFT JOIN ({_TOTALS.format(where="")}) t USING (run_id)
            WHERE {where} ORDER BY r.started_at DESC, r.run_id LIMIT ? OFFSET ?""",
        [*params, PAGE, page * PAGE],
    )
    now = now_of(db)
    return [_finish(r, now) for r in found], int(total or 0)


def latest_run(db: Reader) -> str | None:
    """The id of the most recently started run."""
    return db.value("SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1")


def run(db: Reader, run_id: str) -> dict[str, Any] | None:
    """A run's row, its totals and its parsed config (None when there is no such run)."""
    found = db.one(
        f"""SELECT r.*, t.* EXCLUDE (run_id)
            FROM runs r LEFT JOIN ({_TOTALS.format(where="WHERE run_id = ?")}) t USING (run_id)
            WHERE r.run_id = ?""",
        [run_id, run_id],
    )
    if found is None:
        return None
    try:
        config = json.loads(found.get("config") or "{}")
    except (TypeError, ValueError):
        config = {}
    found["config"] = config if isinstance(config, dict) else {}
    return _finish(found, now_of(db))


def task_specs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The crew file's tasks by id (tasks read from a source file are not listed there)."""
    tasks = config.get("tasks") or []
    return {t["id"]: t for t in tasks if isinstance(t, dict) and "id" in t}


def decisions(
    db: Reader, run_id: str, *, path: str | None = None, page: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """One page of a run's decisions in the order they were made, and how many match."""
    cond, params = "run_id = ?", [run_id]
    if path == "unresolved":
        cond += " AND status <> 'accepted'"
    elif path:
        cond += " AND path = ?"
        params.append(path)
    total = db.value(f"SELECT count(*) FROM decisions WHERE {cond}", params)
    found = db.rows(
        f"SELECT * FROM decisions WHERE {cond} ORDER BY decided_at, task_id LIMIT ? OFFSET ?",
        [*params, PAGE, page * PAGE],
    )
    return found, int(total or 0)


def decision_states(
    db: Reader, run_id: str, linked: list[str], *, others: int
) -> tuple[dict[str, dict[str, Any]], int]:
    """task id -> path, status, answer and attempts of the decisions the task graph shows:
    those of the `linked` tasks (on some dependency) and the first `others` of the rest, in
    the order they were decided; and how many of the rest there are."""
    columns = "task_id, path, status, answer, n_attempts FROM decisions WHERE run_id = ?"
    found = db.rows(f"SELECT {columns} AND list_contains(?, task_id)", [run_id, linked])
    found += db.rows(
        f"SELECT {columns} AND NOT list_contains(?, task_id) ORDER BY decided_at, task_id LIMIT ?",
        [run_id, linked, others],
    )
    rest = db.value(
        "SELECT count(*) FROM decisions WHERE run_id = ? AND NOT list_contains(?, task_id)",
        [run_id, linked],
    )
    return {r["task_id"]: r for r in found}, int(rest or 0)


def decision(db: Reader, run_id: str, task_id: str) -> dict[str, Any] | None:
    """One decision's row, or None."""
    return db.one("SELECT * FROM decisions WHERE run_id = ? AND task_id = ?", [run_id, task_id])


def _messages(value: Any) -> list[dict[str, str]] | None:
    """An attempt's stored prompt as a list of {role, content} (None when not stored)."""
    if value is None:
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return [{"role": "prompt", "content": str(value)}]
    if isinstance(parsed, str):
        return [{"role": "prompt", "content": parsed}]
    if isinstance(parsed, list):
        return [
            {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
            if isinstance(m, dict)
            else {"role": "", "content": str(m)}
            for m in parsed
        ]
    return [{"role": "prompt", "content": json.dumps(parsed)}]


def attempts(db: Reader, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """A decision's attempts in order; `messages` holds the prompt when the ledger kept it."""
    found = db.rows(
        "SELECT * FROM attempts WHERE run_id = ? AND task_id = ? ORDER BY attempt_no",
        [run_id, task_id],
    )
    for a in found:
        a["messages"] = _messages(a.get("prompt"))
        a["tokens"] = int(a["prompt_tokens"]) + int(a["completion_tokens"])
    return found


@dataclass(frozen=True, slots=True)
class VoteGroup:
    """One answer of a tally: its votes, summed confidence, and the attempts behind it."""

    answer: str
    votes: int
    weight: float | None
    share: float
    attempt_nos: tuple[int, ...]


def _task(spec: dict[str, Any] | None) -> Task:
    """The task as far as normalising its answers needs (type and choices)."""
    return Task(
        id="",
        prompt="",
        answer_type=(spec or {}).get("answer_type") or "text",
        choices=tuple((spec or {}).get("choices") or ()),
    )


def tallies(
    rows: list[dict[str, Any]], spec: dict[str, Any] | None, *, weighted: bool = False
) -> dict[str, list[VoteGroup]]:
    """The vote of each model tier, rebuilt from the stored attempts as the coordinator
    counts it: valid answers (not critics' verdicts), grouped by their normalised form."""
    task = _task(spec)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for a in rows:
        if a["kind"] in ANSWER_KINDS and a["verdict_ok"] and a["answer"] is not None:
            by_model.setdefault(a["model"], []).append(a)
    out: dict[str, list[VoteGroup]] = {}
    for model, answers in by_model.items():
        keyed = [(normalise_answer(a["answer"], task), a) for a in answers]
        tally = Tally.of(((k, a["confidence"] or 0.0) for k, a in keyed), weighted=weighted)
        whole = sum(r[2] for r in tally.rows) if weighted else tally.total
        out[model] = [
            VoteGroup(
                answer,
                count,
                weight,
                (weight if weighted else count) / whole if whole else 0.0,
                tuple(a["attempt_no"] for k, a in keyed if k == answer),
            )
            for answer, count, weight in tally.rows
        ]
    return out


@dataclass(frozen=True, slots=True)
class Recorded:
    """The tally the coordinator stored with the decision (`decisions.votes`), each answer
    joined to its attempts when one tier's rebuilt vote has exactly these counts."""

    tier: str | None
    groups: list[VoteGroup]


def recorded_tally(
    decision_row: dict[str, Any],
    rebuilt: dict[str, list[VoteGroup]],
    spec: dict[str, Any] | None,
) -> Recorded | None:
    """The stored tally of a vote (None when the ledger has none for this decision)."""
    try:
        stored = json.loads(decision_row.get("votes") or "null")
    except (TypeError, ValueError):
        return None
    if not isinstance(stored, list) or not stored:
        return None
    task = _task(spec)
    pairs = [
        (str(v.get("answer", "")), float(v.get("votes") or 0))
        for v in stored
        if isinstance(v, dict)
    ]
    keys = [normalise_answer(answer, task) for answer, _ in pairs]
    counts = dict(zip(keys, (n for _, n in pairs), strict=True))
    tier = next(
        (
            model
            for model, groups in reversed(rebuilt.items())
            if {g.answer: float(g.votes) for g in groups} == counts
            or {g.answer: round(g.weight or 0.0, 9) for g in groups}  # rebuilt: always weighed
            == {k: round(n, 9) for k, n in counts.items()}
        ),
        None,
    )
    by_key = {g.answer: g for g in rebuilt.get(tier, [])} if tier else {}
    whole = sum(n for _, n in pairs) or 1.0
    groups = []
    for (answer, n), key in zip(pairs, keys, strict=True):
        match = by_key.get(key)
        groups.append(
            VoteGroup(
                answer,
                int(n) if n.is_integer() else n,  # type: ignore[arg-type]
                match.weight if match else None,
                n / whole,
                match.attempt_nos if match else (),
            )
        )
    return Recorded(tier, groups)
