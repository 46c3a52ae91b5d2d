"""Ledger rows <-> records, by name: one mapping driven by the records' fields.

The ledger stores each field of `Attempt` and `Decision` under the field's own name (a
verdict as `verdict_ok` + `verdict_reason`); a row read back by column name becomes the record
again. Numbers a model server reports go through `clamp_count` first: DuckDB's BIGINT holds
at most 2**63 - 1, and a negative count would make a budget grow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any

import duckdb

from accord.consensus.records import Attempt, Decision, Verdict

BIGINT_MAX = 2**63 - 1
COUNT_MAX = 2**53  # a token count past this is no count (and a float loses units past it)

# what the attempts table adds to an Attempt's own fields, and what it leaves out
_ATTEMPT_KEYS = ("run_id", "task_id", "attempt_no")
_NOT_STORED = {"verdict", "min_logprob", "messages"}  # messages: as JSON in `prompt`
ATTEMPT_FIELDS = tuple(f.name for f in fields(Attempt) if f.name not in _NOT_STORED)
ATTEMPT_COLUMNS = (
    *_ATTEMPT_KEYS,
    *(n for n in ATTEMPT_FIELDS if n != "task_id"),
    "verdict_ok",
    "verdict_reason",
    "prompt",
    "cost_usd",
    "flops",
)
DECISION_FIELDS = ("task_id", "answer", "confidence", "path", "stop_reason", "status", "policy")
DECISION_COLUMNS = (
    "run_id",
    *DECISION_FIELDS,
    "n_attempts",
    "prompt_tokens",
    "completion_tokens",
    "wall_ms",
    "model_ms",
    "cost_usd",
    "flops",
    "expected",
    "correct",
    "decided_at",
    "votes",
)


def clamp_count(value: Any, *, low: int = 0, high: int = COUNT_MAX) -> tuple[int, bool]:
    """`value` as an int in [low, high], and whether it had to be changed to fit."""
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        return low, True
    if isinstance(number, float) and not math.isfinite(number):
        return (high if number > 0 else low), True
    fitted = min(max(int(number), low), high)
    return fitted, fitted != number


def clamp_seed(value: Any) -> tuple[int, bool]:
    """A seed that fits a BIGINT (one past it is stored modulo 2**63)."""
    if isinstance(value, int) and 0 <= value <= BIGINT_MAX:
        return value, False
    try:
        return int(value) % (BIGINT_MAX + 1), True
    except (TypeError, ValueError, OverflowError):
        return 0, True


def _default(name: str, cls: type) -> Any:
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            return "" if f.type == "str" else None
    raise KeyError(name)


def record_from_row(cls: type, row: Mapping[str, Any], **extra: Any) -> Any:
    """A `cls` record from a row by column name: NULL gives the field's default (text: "")."""
    names = {f.name for f in fields(cls)}
    values = {k: (_default(k, cls) if v is None else v) for k, v in row.items() if k in names}
    return cls(**{**values, **extra})


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    """An Attempt from a row of the attempts table (by column name)."""
    verdict = Verdict(bool(row.get("verdict_ok")), row.get("verdict_reason") or "")
    sent = json.loads(row["prompt"]) if row.get("prompt") else []
    messages = tuple((m["role"], m["content"]) for m in sent)
    return record_from_row(Attempt, row, verdict=verdict, messages=messages)


def decision_from_row(row: Mapping[str, Any], attempts: Sequence[Attempt]) -> Decision:
    """A Decision from a row of the decisions table (by column name) and its attempts."""
    tally = json.loads(row["votes"]) if row.get("votes") else []
    votes = tuple((v["answer"], v["votes"]) for v in tally)
    return record_from_row(Decision, row, attempts=tuple(attempts), votes=votes)


def prompt_json(a: Attempt) -> str | None:
    """An attempt's messages as the JSON the `prompt` column holds (None when it has none)."""
    if not a.messages:
        return None
    return json.dumps([{"role": r, "content": c} for r, c in a.messages], ensure_ascii=False)


def votes_json(decision: Decision) -> str | None:
    """A vote's tally as the JSON the `votes` column holds (None without a vote)."""
    if decision.groups:  # the groups the vote saw: what stood for each, share, members
        return json.dumps(
            [
                {"answer": g.answer, "votes": g.votes, "share": round(g.share, 6),
                 "members": list(g.members)}
                for g in decision.groups
            ],
            ensure_ascii=False,
        )  # fmt: skip
    if not decision.votes:
        return None
    tally = [
        {"answer": a, "votes": int(n) if float(n).is_integer() else n} for a, n in decision.votes
    ]
    return json.dumps(tally, ensure_ascii=False)


def named_rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
