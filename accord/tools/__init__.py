"""Tools agents may call: typed functions, permissions, governance, idempotency, audit."""

from accord.tools.base import Tool, ToolFailure, ToolSet, make_tool
from accord.tools.calls import Approval, CallOutcome, CallRequest
from accord.tools.executor import MemoryAudit, ToolExecutor
from accord.tools.permissions import Permissions, Permit
from accord.tools.spec import GoalSpec, GrantSpec, LimitSpec, PreApprovalSpec, ToolsSpec

__all__ = [
    "Approval",
    "CallOutcome",
    "CallRequest",
    "GoalSpec",
    "GrantSpec",
    "LimitSpec",
    "MemoryAudit",
    "Permissions",
    "Permit",
    "PreApprovalSpec",
    "Tool",
    "ToolExecutor",
    "ToolFailure",
    "ToolSet",
    "ToolsSpec",
    "make_tool",
]
