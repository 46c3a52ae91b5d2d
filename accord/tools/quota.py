"""Quotas: calls per run, and the total of an argument per run, per tool and/or role."""

from __future__ import annotations

from collections.abc import Sequence

from accord.tools.calls import Caller, CallOutcome, CallRequest
from accord.tools.ratelimit import applies, scope
from accord.tools.spec import LimitSpec


class Quota:
    """Wraps a caller: refuses a call past a per-run quota; only calls that ran are charged."""

    def __init__(self, inner: Caller, limits: Sequence[LimitSpec]) -> None:
        self.inner = inner
        self.limits = [lim for lim in limits if lim.per_run is not None or lim.total]
        self._calls: dict[tuple[int, str], int] = {}
        self._totals: dict[tuple[int, str, str], float] = {}

    def _refusal(self, request: CallRequest) -> CallOutcome | None:
        for index, limit in enumerate(self.limits):
            if not applies(limit, request):
                continue
            used = self._calls.get((index, request.run_id), 0)
            if limit.per_run is not None and used >= limit.per_run:
                return CallOutcome(
                    request,
                    "refused",
                    f"quota[{scope(limit)}]",
                    f"quota of {limit.per_run} call(s) per run used up for {scope(limit)}",
                )
            for arg, cap in (limit.total or {}).items():
                value = float(request.args.get(arg, 0) or 0)
                spent = self._totals.get((index, request.run_id, arg), 0.0)
                if spent + value > cap:
                    return CallOutcome(
                        request,
                        "refused",
                        f"quota[{scope(limit)}].{arg}",
                        f"{arg} total per run would be {spent + value:g} > "
                        f"{cap:g} for {scope(limit)}",
                    )
        return None

    def _charge(self, request: CallRequest) -> None:
        for index, limit in enumerate(self.limits):
            if not applies(limit, request):
                continue
            key = (index, request.run_id)
            self._calls[key] = self._calls.get(key, 0) + 1
            for arg in limit.total or {}:
                total_key = (index, request.run_id, arg)
                value = float(request.args.get(arg, 0) or 0)
                self._totals[total_key] = self._totals.get(total_key, 0.0) + value

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Refuse past the quota; otherwise call and charge what ran."""
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        outcome = self.inner(request)
        if outcome.decision in ("allowed", "failed"):
            self._charge(request)
        return outcome
