"""The executor: every tool call goes through the guards, and every outcome is audited.

    Audited( Delegated( Permissioned( HumanRequired( Idempotent( Quota( RateLimited( invoke )))))))

Unknown tools and arguments that fail the schema are refused before the guards; refusals,
approvals, duplicates and failures are audited exactly like calls that ran. The calling role's
grants govern its calls; a call made as another role passes only under a delegation the crew
file declares, and is audited as a delegation too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from accord.tools.base import Tool, ToolSet, explain_validation
from accord.tools.calls import Approval, Caller, CallOutcome, CallRequest, invoke
from accord.tools.delegation import Delegated, Delegations
from accord.tools.human import HumanRequired
from accord.tools.idempotency import Idempotent, KeyStore
from accord.tools.permissions import Permissioned, Permissions
from accord.tools.quota import Quota
from accord.tools.ratelimit import RateLimited
from accord.tools.spec import LimitSpec


class AuditSink(Protocol):
    """Where audit events go (accord.ledger.audit.AuditTrail, or a list in tests)."""

    def append(
        self,
        kind: str,
        actor: str,
        decision: str,
        *,
        tool: str | None = None,
        args: Any = None,
        result: Any = None,
        policy: str | None = None,
        detail: str | None = None,
    ) -> object:
        """Record one event."""
        ...


class MemoryAudit:
    """An audit sink that keeps events in a list (for tests and dry runs)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def append(self, kind: str, actor: str, decision: str, **fields: Any) -> object:
        """Keep the event."""
        self.events.append({"kind": kind, "actor": actor, "decision": decision, **fields})
        return self.events[-1]


def _unknown(name: str) -> Tool:
    return Tool(name, lambda: None, BaseModel, "read", "unknown tool")


def detail_of(outcome: CallOutcome) -> str:
    """The audit detail of an outcome: stage, step, reason and notes."""
    req = outcome.request
    parts = [f"stage={req.stage}"]
    if req.step:
        parts.append(f"step={req.step}")
    if req.delegate:
        parts.append(f"as={req.delegate}")
    if outcome.key:
        parts.append(f"key={outcome.key}")
    if outcome.reason:
        parts.append(outcome.reason)
    parts.extend(outcome.notes)
    return "; ".join(parts)


class ToolExecutor:
    """Runs tool calls for roles under permissions, governance and idempotency; audits all."""

    def __init__(
        self,
        tools: ToolSet,
        permissions: Permissions,
        *,
        limits: Sequence[LimitSpec] = (),
        keys: KeyStore | None = None,
        audit: AuditSink | None = None,
        run_id: str = "",
        clock: Callable[[], float] = time.monotonic,
        delegations: Delegations | None = None,
        require_human: Sequence[str] = (),
    ) -> None:
        self.tools = tools
        self.permissions = permissions
        self.delegations = delegations or Delegations()
        self.audit = audit or MemoryAudit()
        self.run_id = run_id
        chain: Caller = invoke
        chain = RateLimited(chain, limits, clock=clock)
        chain = Quota(chain, limits)
        chain = Idempotent(chain, keys)
        chain = HumanRequired(chain, require_human)
        chain = Permissioned(chain, permissions)
        self._chain: Caller = Delegated(chain, self.delegations)

    def request(
        self,
        role: str,
        tool: str,
        args: Mapping[str, Any],
        *,
        step: str | None = None,
        stage: str = "run",
        approval: Approval | None = None,
        delegate: str | None = None,
    ) -> CallRequest | CallOutcome:
        """A checked request, or the refusal when the tool is unknown or the args are wrong."""
        delegate = None if delegate == role else delegate
        if tool not in self.tools:
            req = CallRequest(
                role, _unknown(tool), dict(args), self.run_id, stage, step, delegate=delegate
            )
            known = ", ".join(self.tools)
            return CallOutcome(
                req, "refused", "registry", f"unknown tool {tool!r} (known: {known})"
            )
        found = self.tools.get(tool)
        try:
            checked = found.validate(args)
        except ValidationError as exc:
            req = CallRequest(role, found, dict(args), self.run_id, stage, step, delegate=delegate)
            return CallOutcome(
                req, "refused", "schema", f"invalid arguments: {explain_validation(exc)}"
            )
        return CallRequest(role, found, checked, self.run_id, stage, step, approval, delegate)

    def call(
        self,
        role: str,
        tool: str,
        args: Mapping[str, Any],
        *,
        step: str | None = None,
        stage: str = "run",
        approval: Approval | None = None,
        delegate: str | None = None,
    ) -> CallOutcome:
        """Make one call through the guards and audit its outcome.

        `delegate` makes the call as that role, which the crew file must allow (`role` may
        delegate `tool` to it); otherwise it is refused.
        """
        made = self.request(
            role, tool, args, step=step, stage=stage, approval=approval, delegate=delegate
        )
        outcome = made if isinstance(made, CallOutcome) else self._chain(made)
        self.record(outcome)
        return outcome

    def record(self, outcome: CallOutcome) -> None:
        """Audit one outcome (also used for refusals found while validating a plan)."""
        req = outcome.request
        if req.delegate is not None:
            refused = outcome.policy == "delegation"
            self.audit.append(
                "delegation",
                req.role,
                "refused" if refused else "delegated",
                tool=req.tool.name,
                args=req.args,
                policy="delegation" if refused else "tools.delegations",
                detail=f"stage={req.stage}; {req.role} -> {req.delegate}; "
                + (outcome.reason if refused else f"call {outcome.decision}"),
            )
        self.audit.append(
            "tool_call",
            req.role,
            outcome.decision,
            tool=req.tool.name,
            args=req.args,
            result=outcome.result,
            policy=outcome.policy,
            detail=detail_of(outcome),
        )
