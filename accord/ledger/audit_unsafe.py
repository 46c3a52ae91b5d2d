"""Auditing unsafe-local runs inside a crew run: each one is on record before it starts.

`audit_unsafe_runs(ledger, run_id)` is a context manager; while it is active, every program
the unsafe-local sandbox runs (a `code_tests` validator with `unsafe_local: true`, say) writes
two events to the run's audit chain: `unsafe_local.start` (the command and a digest of each
file, the model's code among them), flushed to the ledger and the heads file before the
program starts, and `unsafe_local.end` (exit code, limit hit, time out).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from accord.ledger.audit import AuditTrail
from accord.sandbox.base import SandboxResult
from accord.sandbox.witness import Finished, UnsafeRun, observing

if TYPE_CHECKING:
    from accord.ledger.writer import Ledger


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@contextmanager
def audit_unsafe_runs(ledger: Ledger, run_id: str, *, actor: str = "sandbox") -> Iterator[None]:
    """Audit every unsafe-local run started in this block under `run_id`."""
    lock = threading.Lock()
    trails: list[AuditTrail] = []

    def trail() -> AuditTrail:
        if not trails:  # the key and the chain are read only if an unsafe run happens
            trails.append(AuditTrail(ledger, run_id))
        return trails[0]

    def observe(request: UnsafeRun) -> Finished:
        files = {name: _sha(data) for name, data in sorted(request.files.items())}
        if request.python_code is not None:
            files["<python_code>"] = _sha(request.python_code)
        shown = " ".join(request.argv) or "python <python_code>"
        with lock:
            trail().append(
                "unsafe_local",
                actor,
                "unsafe-local",
                tool="unsafe_local.start",
                args={"argv": list(request.argv), "files": files},
                policy="explicit opt-in (unsafe_local)",
                detail=f"{shown[:300]}; files: "
                + ", ".join(f"{n}#{h[:12]}" for n, h in files.items()),
            )

        def finished(result: SandboxResult | None) -> None:
            outcome = (
                {"exit_code": None, "error": True}
                if result is None
                else {
                    "exit_code": result.exit_code,
                    "limit": result.limit_hit,
                    "timed_out": result.timed_out,
                }
            )
            with lock:
                trail().append(
                    "unsafe_local",
                    actor,
                    "unsafe-local",
                    tool="unsafe_local.end",
                    result=outcome,
                    policy="explicit opt-in (unsafe_local)",
                    detail=", ".join(f"{k}={v}" for k, v in outcome.items()),
                )

        return finished

    with observing(observe):
        yield
