"""Where the compute went: money and tokens per day by crew or by model, the escalation
rate per day, and the tasks whose escalations cost the most."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from accord.ui.queries import RunFilter
from accord.ui.store import Reader

Split = Literal["crew", "model"]
TOP_TASKS = 15


@dataclass(frozen=True, slots=True)
class Daily:
    """Per-day series: the days, values per key (crew or model), and decision counts."""

    days: list[date]
    usd: dict[str, list[float]]
    tokens: dict[str, list[float]]
    decisions: list[int]
    escalated: list[int]

    @property
    def rates(self) -> list[float | None]:
        """Escalation rate per day (None on a day without decisions)."""
        return [e / n if n else None for e, n in zip(self.escalated, self.decisions, strict=True)]


def _series(rows: list[dict[str, Any]], days: list[date], field: str) -> dict[str, list[float]]:
    at = {d: i for i, d in enumerate(days)}
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(str(r["key"]), [0.0] * len(days))[at[r["day"]]] += float(r[field] or 0)
    return out


def daily(db: Reader, flt: RunFilter, split: Split) -> Daily:
    """USD and tokens per day split by crew or model, with the day's escalation counts.

    A decision counts on the day it was decided; by model, each attempt's own cost counts
    for its model.
    """
    where, params = flt.where()
    counts = db.rows(
        f"""SELECT CAST(d.decided_at AS DATE) AS day, count(*) AS n,
                   sum(CASE WHEN d.path <> 'single' THEN 1 ELSE 0 END) AS escalated
            FROM decisions d JOIN runs r USING (run_id) WHERE {where}
            GROUP BY ALL ORDER BY day""",
        params,
    )
    if split == "crew":
        sql = f"""SELECT CAST(d.decided_at AS DATE) AS day, r.crew AS key,
                         sum(d.cost_usd) AS usd,
                         sum(d.prompt_tokens + d.completion_tokens) AS tokens
                  FROM decisions d JOIN runs r USING (run_id) WHERE {where} GROUP BY ALL"""
    else:
        sql = f"""SELECT CAST(d.decided_at AS DATE) AS day, a.model AS key,
                         sum(a.cost_usd) AS usd,
                         sum(a.prompt_tokens + a.completion_tokens) AS tokens
                  FROM attempts a JOIN decisions d USING (run_id, task_id)
                  JOIN runs r USING (run_id) WHERE {where} GROUP BY ALL"""
    rows = db.rows(sql, params)
    days = _fill([c["day"] for c in counts])
    n = {c["day"]: int(c["n"]) for c in counts}
    esc = {c["day"]: int(c["escalated"]) for c in counts}
    return Daily(
        days,
        _series(rows, days, "usd"),
        _series(rows, days, "tokens"),
        [n.get(d, 0) for d in days],
        [esc.get(d, 0) for d in days],
    )


def _fill(days: list[date]) -> list[date]:
    """Every day from the first to the last (a quiet day shows as a gap), at most ~a year."""
    if not days:
        return []
    first, last = min(days), max(days)
    span = (last - first).days
    if span > 400:  # sparse history: only the days with decisions
        return sorted(days)
    return [date.fromordinal(first.toordinal() + i) for i in range(span + 1)]


def totals(db: Reader, flt: RunFilter) -> dict[str, Any]:
    """Headline figures over the filtered runs."""
    where, params = flt.where()
    row = db.one(
        f"""SELECT count(DISTINCT d.run_id) AS runs, count(*) AS decisions,
                   coalesce(sum(CASE WHEN d.path <> 'single' THEN 1 ELSE 0 END), 0) AS escalated,
                   coalesce(sum(d.prompt_tokens + d.completion_tokens), 0) AS tokens,
                   coalesce(sum(d.cost_usd), 0) AS usd, sum(d.flops) AS flops
            FROM decisions d JOIN runs r USING (run_id) WHERE {where}""",
        params,
    )
    assert row is not None
    row["escalation"] = row["escalated"] / row["decisions"] if row["decisions"] else None
    return row


def escalating_tasks(db: Reader, flt: RunFilter, limit: int = TOP_TASKS) -> list[dict[str, Any]]:
    """Tasks by what their escalations cost beyond the first answer (tokens, then USD).

    `extra_*` is a decision's cost less its first attempt's: what the vote, the retries, the
    critics and higher tiers added.
    """
    where, params = flt.where()
    return db.rows(
        f"""WITH first AS (
                SELECT run_id, task_id, cost_usd AS usd,
                       prompt_tokens + completion_tokens AS tokens
                FROM attempts WHERE attempt_no = 0)
            SELECT r.crew, d.task_id, count(*) AS decisions,
                   sum(CASE WHEN d.path <> 'single' THEN 1 ELSE 0 END) AS escalated,
                   avg(CASE WHEN d.path <> 'single' THEN 1.0 ELSE 0.0 END) AS rate,
                   sum(CASE WHEN d.status <> 'accepted' THEN 1 ELSE 0 END) AS unresolved,
                   sum(d.prompt_tokens + d.completion_tokens) AS tokens,
                   sum(d.cost_usd) AS usd,
                   sum(d.prompt_tokens + d.completion_tokens - coalesce(f.tokens, 0))
                       AS extra_tokens,
                   sum(d.cost_usd - coalesce(f.usd, 0)) AS extra_usd,
                   max(d.run_id) AS last_run
            FROM decisions d JOIN runs r USING (run_id)
            LEFT JOIN first f USING (run_id, task_id)
            WHERE {where}
            GROUP BY r.crew, d.task_id
            HAVING sum(CASE WHEN d.path <> 'single' THEN 1 ELSE 0 END) > 0
            ORDER BY extra_tokens DESC, extra_usd DESC, d.task_id LIMIT ?""",
        [*params, limit],
    )


def models(db: Reader, flt: RunFilter) -> list[dict[str, Any]]:
    """Per model: attempts, tokens, USD and how many attempts were answers vs. critics."""
    where, params = flt.where()
    return db.rows(
        f"""SELECT a.model, count(*) AS attempts,
                   sum(a.prompt_tokens + a.completion_tokens) AS tokens,
                   sum(a.cost_usd) AS usd, sum(a.model_ms) AS model_ms,
                   sum(CASE WHEN a.verdict_ok THEN 0 ELSE 1 END) AS invalid
            FROM attempts a JOIN runs r USING (run_id) WHERE {where}
            GROUP BY a.model ORDER BY tokens DESC""",
        params,
    )
