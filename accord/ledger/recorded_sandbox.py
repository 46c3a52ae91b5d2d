"""A sandbox wrapper that records every run in the ledger's audit trail.

Wrapping keeps the sandboxes free of ledger code: `RecordedSandbox(open_sandbox(...), ledger)`
appends one hash-chained audit event per run (isolation, argv digest, exit code, limit hit),
so every `--unsafe-local` use is on record next to the run's costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from accord.ledger.audit import AuditTrail
from accord.ledger.audit_unsafe import audit_unsafe_runs
from accord.ledger.writer import Ledger, RunLog
from accord.sandbox.base import Files, Limits, Sandbox, SandboxResult


class RecordedSandbox:
    """Runs through `inner` and audits each run under `run_id` (a new `sandbox` run if None)."""

    def __init__(
        self, inner: Sandbox, ledger: Ledger, *, run_id: str | None = None, actor: str = "user"
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.ledger = ledger
        self.actor = actor
        self._run = ExitStack()  # the run this sandbox started, ended by close()
        self._log: RunLog | None = None
        if run_id is None:
            self._log = self._run.enter_context(ledger.run("sandbox", backend=inner.name))
            run_id = self._log.id
        self.run_id = run_id
        self.trail = AuditTrail(ledger, self.run_id)

    def check(self) -> None:
        """Whether the wrapped sandbox can run."""
        self.inner.check()

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python_code: str | None = None,
        files: Files | None = None,
        limits: Limits | None = None,
        stdin: bytes | None = None,
    ) -> SandboxResult:
        """Run in the wrapped sandbox, then append the audit event."""
        with audit_unsafe_runs(self.ledger, self.run_id, actor=self.actor):  # on record first
            result = self.inner.run(
                argv, python_code=python_code, files=files, limits=limits, stdin=stdin
            )
        outcome: dict[str, Any] = {
            "exit_code": result.exit_code,
            "limit": result.limit_hit,
            "timed_out": result.timed_out,
        }
        self.trail.append(
            "sandbox",
            self.actor,
            result.isolation,
            tool="sandbox.run",
            args={"argv": list(result.argv), "files": sorted(files or {})},
            result=outcome,
            # what bounded the run (a cgroup, or rlimits only) goes on record with it
            policy=f"{_policy(result.isolation)}; limits: {result.enforcement}"[:500],
            detail=" ".join(result.argv)[:500],
        )
        return result

    def close(self, status: str = "finished") -> None:
        """End the run this sandbox started (with `status`); a run passed in is left open."""
        if self._log is not None:
            self._log.status = status
        self._run.close()


def _policy(isolation: str) -> str:
    return "explicit opt-in" if isolation == "unsafe-local" else "isolated"
