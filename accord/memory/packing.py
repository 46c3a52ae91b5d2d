"""Packing memories into a prompt within a token budget, and recording what was left out.

Candidates are ranked by relevance to the task, then recency, with a small bonus for goals and
verified facts. They are included whole while they fit; the first that does not fit is
summarised (cut to what fits, marked `…`) when enough budget is left, the rest are omitted, and
a last line says how many were left out. Every candidate gets an entry saying which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Action = Literal["included", "summarised", "omitted"]
Source = Literal["working", "long_term"]
TokenCounter = Callable[[str], int]

HEADER = "Memory (from this run and earlier runs):"
_MIN_SUMMARY_TOKENS = 6
_KIND_BONUS = {"goal": 0.15, "fact": 0.05, "status": -0.1}
_VERIFIED_BONUS = 0.1


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate: ~1.3 tokens per word (BPE on English prose)."""
    words = len(text.split())
    return math.ceil(words * 1.3) if words else 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something that may go into the prompt: a working or a long-term memory."""

    ref: str
    kind: str
    text: str
    relevance: float
    recency: float
    verified: bool = False
    source: Source = "working"

    @property
    def score(self) -> float:
        """Relevance first, then recency, nudged by kind and verification."""
        bonus = _KIND_BONUS.get(self.kind, 0.0) + (_VERIFIED_BONUS if self.verified else 0.0)
        return 0.65 * self.relevance + 0.35 * self.recency + bonus

    def line(self) -> str:
        """How this memory reads in the prompt."""
        mark = " (verified)" if self.verified else ""
        return f"- [{self.kind}{mark}] {self.text}"


@dataclass(frozen=True, slots=True)
class PackEntry:
    """What happened to one candidate."""

    ref: str
    kind: str
    source: Source
    action: Action
    tokens: int
    score: float


@dataclass(frozen=True, slots=True)
class Packed:
    """The memory block for one prompt and the fate of every candidate."""

    text: str
    entries: tuple[PackEntry, ...]
    budget: int
    used: int

    def refs(self, action: Action) -> list[str]:
        """Refs of candidates with `action`."""
        return [e.ref for e in self.entries if e.action == action]


def _cut(text: str, tokens: int, count: TokenCounter) -> str:
    """The longest word prefix of `text` (plus `…`) that fits in `tokens`."""
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid]) + " …") <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …" if lo else ""


def pack(
    candidates: Sequence[Candidate], budget: int, *, count: TokenCounter = approx_tokens
) -> Packed:
    """The best candidates that fit in `budget` tokens (header and notes included)."""
    ranked = sorted(candidates, key=lambda c: (-c.score, -c.recency, c.ref))
    used = count(HEADER)
    if not ranked or budget <= used:
        omit = tuple(PackEntry(c.ref, c.kind, c.source, "omitted", 0, c.score) for c in ranked)
        return Packed("", omit, budget, 0)
    lines: list[str] = [HEADER]
    entries: list[PackEntry] = []
    omitted = 0
    for cand in ranked:
        line = cand.line()
        cost = count(line)
        action: Action = "included"
        if used + cost > budget:
            room = budget - used - count(f"({omitted + 99} more left out)")
            line = _cut(line, room, count) if room >= _MIN_SUMMARY_TOKENS else ""
            cost = count(line)
            action = "summarised" if line else "omitted"
        if action == "omitted":
            omitted += 1
            entries.append(PackEntry(cand.ref, cand.kind, cand.source, "omitted", 0, cand.score))
            continue
        lines.append(line)
        used += cost
        entries.append(PackEntry(cand.ref, cand.kind, cand.source, action, cost, cand.score))
    if omitted:
        note = f"({omitted} more left out)"
        if used + count(note) <= budget:
            lines.append(note)
            used += count(note)
    if len(lines) == 1:
        return Packed("", tuple(entries), budget, 0)
    return Packed("\n".join(lines), tuple(entries), budget, used)
