"""Why a decision stopped, as a typed value that is also the ledger's text.

A `StopReason` is a `str` (the text stored in `decisions.stop_reason`, the same as before:
`confident`, `budget:tokens_per_run`, `attempt failed: TimeoutError: ...`, `tier2:k_max`, ...)
whose parts are fields: code asks `reason.kind`, `reason.limit` or `reason.over_budget` and
never takes the text apart. Decisions made elsewhere (an external call, a plan review) or read
back from the ledger carry plain text; `Decision.stop` gives them kind `other`.
"""

from __future__ import annotations

from typing import Any, Literal

# confident: the primary's answer was valid and confident; single: the single-agent policy's
# answer; invalid: no valid answer (retries spent); budget: a limit ended it; rule: the vote's
# stopping rule (or its cap, `k_max`) ended it; failed: every attempt raised; tiers: a cascade's
# outcome; other: text from outside the coordinator
StopKind = Literal["confident", "single", "invalid", "budget", "rule", "failed", "tiers", "other"]
BUDGET = "budget:"  # the ledger's text of a budget stop: BUDGET + the limit's name
FAILED = "attempt failed: "  # ... and of an attempt that raised: FAILED + "Type: message"


class StopReason(str):
    """A decision's stop reason: the ledger's text, with its parts as fields (see the module)."""

    kind: StopKind
    detail: str  # budget: the limit; rule: the rule's word; failed: the error; other: the text
    tier: int | None  # tiers: the cascade tier whose answer stands ...
    inner: StopReason | None  # ... and that tier's own reason
    fallback: StopReason | None  # tiers: the top tier's reason, when a lower tier's answer stood

    def __new__(
        cls,
        kind: StopKind,
        detail: str = "",
        *,
        tier: int | None = None,
        inner: StopReason | None = None,
        fallback: StopReason | None = None,
    ) -> StopReason:
        self = super().__new__(cls, _text(kind, detail, tier, inner, fallback))
        self.kind, self.detail = kind, detail
        self.tier, self.inner, self.fallback = tier, inner, fallback
        return self

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Pickled by its fields (a Decision crosses process boundaries)."""
        extra = {"tier": self.tier, "inner": self.inner, "fallback": self.fallback}
        return (self.kind, self.detail), extra

    @classmethod
    def budget(cls, limit: str) -> StopReason:
        """A budget limit (`tokens_per_run`, `seconds_per_decision`, ...) ended the decision."""
        return cls("budget", limit)

    @classmethod
    def rule(cls, word: str) -> StopReason:
        """The vote's stopping rule ended it (`settled`, `beta`, `window`, or `k_max`)."""
        return cls("rule", word)

    @classmethod
    def failed(cls, error: str) -> StopReason:
        """Every attempt raised; `error` is the last one (`Type: message`)."""
        return cls("failed", error)

    @classmethod
    def tiers(cls, tier: int, inner: str, *, fallback: StopReason | None = None) -> StopReason:
        """A cascade's outcome: tier `tier`'s answer stands for `inner`; `fallback` is the top
        tier's reason when that tier is a lower one."""
        return cls("tiers", tier=tier, inner=of(inner), fallback=fallback)

    @property
    def over_budget(self) -> bool:
        """Whether a budget ended the decision (or a cascade tier of it)."""
        if self.kind == "budget":
            return True
        return any(r is not None and r.over_budget for r in (self.inner, self.fallback))


def of(reason: str) -> StopReason:
    """`reason` as a StopReason (plain text: kind `other`)."""
    return reason if isinstance(reason, StopReason) else StopReason("other", reason)


def _text(
    kind: StopKind,
    detail: str,
    tier: int | None,
    inner: StopReason | None,
    fallback: StopReason | None,
) -> str:
    if kind == "budget":
        return BUDGET + detail
    if kind == "failed":
        return FAILED + detail
    if kind == "tiers":
        text = f"tier{tier}:{inner}"
        return f"{text} ({fallback})" if fallback is not None else text
    if kind in ("rule", "other"):
        return detail
    return kind
