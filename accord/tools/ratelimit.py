"""Rate limits: at most N calls in any window of S seconds, per tool and/or role."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from accord.tools.calls import Caller, CallOutcome, CallRequest
from accord.tools.spec import LimitSpec


def applies(limit: LimitSpec, request: CallRequest) -> bool:
    """Whether `limit` covers this call (its tool and role, `*` matching any).

    A delegated call counts against the limits of both the caller and the delegate.
    """
    roles = ("*", request.role, request.delegate or request.role)
    return limit.tool in ("*", request.tool.name) and limit.role in roles


def scope(limit: LimitSpec) -> str:
    """A short name for the limit, for refusals and the audit trail."""
    return f"tool={limit.tool},role={limit.role}"


class RateLimited:
    """Wraps a caller: refuses a call that would exceed a rate (refused calls do not count)."""

    def __init__(
        self,
        inner: Caller,
        limits: Sequence[LimitSpec],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.limits = [lim for lim in limits if lim.rate_pair is not None]
        self.clock = clock
        self._times: dict[tuple[int, str], deque[float]] = {}

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Refuse when any matching window is full; otherwise call and count."""
        now = self.clock()
        windows = []
        for index, limit in enumerate(self.limits):
            if not applies(limit, request):
                continue
            calls, seconds = limit.rate_pair  # type: ignore[misc]
            window = self._times.setdefault((index, request.run_id), deque())
            while window and now - window[0] >= seconds:
                window.popleft()
            if len(window) >= calls:
                return CallOutcome(
                    request,
                    "refused",
                    f"rate[{scope(limit)}]",
                    f"rate limit {limit.rate} reached for {scope(limit)}",
                )
            windows.append(window)
        for window in windows:
            window.append(now)
        return self.inner(request)
