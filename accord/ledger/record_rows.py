"""A decision and its attempts as the rows the writer queues (priced, counts fitted)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from accord.consensus.records import Attempt, Decision
from accord.ledger.rows import (
    ATTEMPT_FIELDS,
    COUNT_MAX,
    clamp_count,
    clamp_seed,
    prompt_json,
    votes_json,
)
from accord.models.pricing import PriceTable

Row = tuple[Any, ...]
_STORED = tuple(n for n in ATTEMPT_FIELDS if n != "task_id")
_PROMPT, _COMPLETION = (3 + _STORED.index(n) for n in ("prompt_tokens", "completion_tokens"))


def attempt_rows(run_id: str, decision: Decision, prices: PriceTable, prompts: bool) -> list[Row]:
    """The decision's attempts as `attempts` rows (`prompts`: with their messages)."""
    task = decision.task_id
    return [
        _attempt_row(run_id, task, i, a, prices, prompts) for i, a in enumerate(decision.attempts)
    ]


def decision_row(
    run_id: str,
    decision: Decision,
    attempts: list[Row],
    expected: Sequence[str],
    correct: bool | None,
    decided_at: datetime,
) -> Row:
    """The `decisions` row of `decision`, its sums taken over its `attempts` rows."""
    flops = [r[-1] for r in attempts if r[-1] is not None]
    return (
        run_id,
        decision.task_id,
        decision.answer,
        decision.confidence,
        decision.path,
        str(decision.stop_reason),  # the text (a StopReason is a str with fields)
        decision.status,
        decision.policy,
        len(attempts),
        sum(r[_PROMPT] for r in attempts),
        sum(r[_COMPLETION] for r in attempts),
        decision.wall_ms,
        decision.model_ms,
        sum(r[-2] for r in attempts),
        sum(flops) if flops else None,
        " | ".join(expected) if expected else None,
        correct,
        decided_at,
        votes_json(decision),
    )


def _fitted(a: Attempt) -> tuple[Attempt, str]:
    """`a` with counts a BIGINT holds and a budget can trust (tokens in [0, 2**53], a seed
    in [0, 2**63)), and a note of what had to change ("" when nothing did)."""
    fixes: dict[str, int] = {}
    for name in ("prompt_tokens", "completion_tokens", "cached_prompt_tokens"):
        value, changed = clamp_count(getattr(a, name))
        if changed:
            fixes[name] = value
    seed, changed = clamp_seed(a.seed)
    if changed:
        fixes["seed"] = seed
    if not fixes:
        return a, ""
    note = "clamped " + ", ".join(f"{k}={getattr(a, k)!r}" for k in fixes)
    return replace(a, **fixes), note  # type: ignore[arg-type]


def _attempt_row(
    run_id: str, task_id: str, index: int, a: Attempt, prices: PriceTable, prompts: bool
) -> tuple[Any, ...]:
    if (
        type(a.seed) is not int
        or a.seed < 0
        or a.seed > COUNT_MAX
        or a.prompt_tokens < 0
        or a.completion_tokens < 0
        or a.tokens > COUNT_MAX
    ):  # rare: check in full
        a, note = _fitted(a)
    else:
        note = ""
    reason = a.verdict.reason if not note else "; ".join(p for p in (a.verdict.reason, note) if p)
    return (
        run_id,
        task_id,
        index,
        *(getattr(a, name) for name in _STORED),
        a.verdict.ok,
        reason,
        prompt_json(a) if prompts else None,
        # money as billed (every prompt token sent); FLOPs as computed (cached prompt tokens
        # were not evaluated again)
        prices.usd(a.model, a.prompt_tokens, a.completion_tokens, a.cached_prompt_tokens),
        prices.flops(a.model, a.evaluated_tokens),
    )
