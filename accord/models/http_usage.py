"""Reading what an OpenAI-compatible server says a call cost, without trusting it.

A server's `usage` is outside input: a count that is not a number, negative, or absurd (1e30
tokens) is clamped into [0, MAX_TOKENS] here, at the backend's edge, and the names of the
clamped fields travel on `Usage.clamped` so the ledger can record that the figure is not the
server's own. Cached prompt tokens are read from `usage.prompt_tokens_details.cached_tokens`
(OpenAI, vLLM) or `usage.prompt_cache_hit_tokens` (DeepSeek), and never exceed the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from accord.models.base import Usage

# No single call evaluates a hundred million tokens: anything above is a server's error.
MAX_TOKENS = 100_000_000


def clamp_count(value: object) -> tuple[int, bool]:
    """`value` as a token count in [0, MAX_TOKENS], and whether it had to be changed."""
    if value is None:
        return 0, False
    if isinstance(value, bool):
        return int(value), True
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0, True
    if not math.isfinite(number):
        return (MAX_TOKENS if number > 0 else 0), True
    clamped = min(max(number, 0.0), float(MAX_TOKENS))
    return int(clamped), clamped != number or not float(number).is_integer()


def read_usage(body: dict[str, Any], *, wall_ms: float, model: str) -> Usage:
    """The call's `Usage` from a response body, every count clamped (see the module doc)."""
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    clamped: list[str] = []
    counts = {}
    cached = details.get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    for name, raw in (
        ("prompt_tokens", usage.get("prompt_tokens")),
        ("completion_tokens", usage.get("completion_tokens")),
        ("cached_prompt_tokens", cached),
    ):
        counts[name], changed = clamp_count(raw)
        if changed:
            clamped.append(name)
    if counts["cached_prompt_tokens"] > counts["prompt_tokens"]:
        counts["cached_prompt_tokens"] = counts["prompt_tokens"]
        clamped.append("cached_prompt_tokens")
    reported = body.get("model")
    return Usage(
        counts["prompt_tokens"],
        counts["completion_tokens"],
        wall_ms,
        reported if isinstance(reported, str) and reported else model,
        cached_prompt_tokens=counts["cached_prompt_tokens"],
        clamped=tuple(clamped),
    )


def split_count(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared out in proportion to `weights` (largest remainders), summing to `total`."""
    if not weights:
        return []
    mass = sum(weights)
    if mass <= 0:
        weights, mass = [1] * len(weights), len(weights)
    exact = [total * w / mass for w in weights]
    out = [int(x) for x in exact]
    by_remainder = sorted(range(len(out)), key=lambda i: out[i] - exact[i])
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    return out
