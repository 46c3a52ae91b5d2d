"""Permissions: deny by default; a role calls only the tools it is granted, within limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from accord.tools.base import Tool
from accord.tools.calls import Caller, CallOutcome, CallRequest
from accord.tools.constraints import Constraint, failing, parse_all
from accord.tools.spec import GrantSpec

Verdict = Literal["allow", "deny", "approval"]


@dataclass(frozen=True, slots=True)
class Permit:
    """A permission decision: allow, deny, or allow once approved; with the rule and why."""

    verdict: Verdict
    policy: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Grant:
    """A parsed GrantSpec."""

    tool: str
    limits: tuple[Constraint, ...]
    over_limit: Literal["deny", "approval"]
    requires_approval: bool | None


class Permissions:
    """Grants per role; anything not granted is denied."""

    def __init__(self, grants: Mapping[str, Sequence[GrantSpec]]) -> None:
        self._grants: dict[str, dict[str, Grant]] = {
            role: {
                g.tool: Grant(g.tool, parse_all(g.limits), g.over_limit, g.requires_approval)
                for g in specs
            }
            for role, specs in grants.items()
        }

    def tools_of(self, role: str) -> list[str]:
        """The tools `role` is granted."""
        return sorted(self._grants.get(role, {}))

    def roles_for(self, tool: str) -> list[str]:
        """The roles granted `tool`."""
        return sorted(r for r, grants in self._grants.items() if tool in grants)

    def check(self, role: str, tool: Tool, args: Mapping[str, object]) -> Permit:
        """Whether `role` may call `tool` with `args`."""
        grant = self._grants.get(role, {}).get(tool.name)
        if grant is None:
            others = self.roles_for(tool.name)
            hint = f"; granted to {', '.join(others)}" if others else ""
            return Permit(
                "deny",
                "deny-by-default",
                f"role {role!r} has no grant for tool {tool.name!r}{hint}",
            )
        broken = failing(grant.limits, dict(args))
        policy = f"grants.{role}.{tool.name}"
        if broken:
            reason = f"{role!r} limit on {tool.name!r}: {'; '.join(broken)}"
            if grant.over_limit == "deny":
                return Permit("deny", f"{policy}.limits", reason)
            return Permit("approval", f"{policy}.over_limit", reason)
        needs = grant.requires_approval
        if needs is None:
            needs = tool.effect == "irreversible"
        if needs:
            return Permit(
                "approval",
                f"{policy}.requires_approval",
                f"{tool.name!r} is {tool.effect} and needs approval",
            )
        return Permit("allow", policy)


class Permissioned:
    """Wraps a caller: refuses what the permissions deny; holds back what needs approval."""

    def __init__(self, inner: Caller, permissions: Permissions) -> None:
        self.inner = inner
        self.permissions = permissions

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Check the permission, then the approval (when needed), then call through."""
        permit = self.permissions.check(request.grantee, request.tool, request.args)
        if permit.verdict == "deny":
            return CallOutcome(request, "refused", permit.policy, permit.reason)
        if permit.verdict == "approval":
            approval = request.approval
            if approval is None:
                return CallOutcome(request, "needs_approval", permit.policy, permit.reason)
            if not approval.approved:
                return CallOutcome(
                    request,
                    "refused",
                    approval.policy,
                    f"approval denied by {approval.by}: {approval.reason}",
                )
            return self.inner(request).note(f"approved by {approval.by} ({approval.policy})")
        return self.inner(request)
