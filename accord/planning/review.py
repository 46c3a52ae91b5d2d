"""An agent's review of a call that needs approval: the request shown as fenced data, the
answer scored, and the review recorded as a decision in the ledger."""

from __future__ import annotations

import itertools

from accord.consensus.records import Decision, Task
from accord.ledger.writer import Ledger
from accord.planning.fence import RULE, fence
from accord.roles.pool import AgentPool
from accord.tools.approval import Review
from accord.tools.base import canonical
from accord.tools.calls import CallRequest


def review_prompt(request: CallRequest, reason: str) -> str:
    """What the reviewer reads: the trusted facts in the open, the rest fenced as data.

    The tool, its effect and the roles come from the registry and the crew file; the
    arguments and the reason (which quotes argument values) come from the plan.
    """
    who = request.role + (f" as {request.delegate}" if request.delegate else "")
    return "\n".join(
        [
            f"REVIEW {request.tool.name} requested by {who}: a {request.tool.effect} call "
            "that needs approval.",
            RULE,
            fence(f"arguments: {canonical(request.args)}", f"why it needs approval: {reason}"),
            "Approve or reject?",
        ]
    )


class AgentReviewer:
    """Asks a reviewer role (say, the finance approver) to approve or reject a call."""

    def __init__(self, agents: AgentPool, ledger: Ledger, run_id: str, *, seed: int = 0) -> None:
        self.agents, self.ledger, self.run_id, self.seed = agents, ledger, run_id, seed
        self._count = itertools.count(1)

    async def __call__(self, reviewer: str, request: CallRequest, reason: str) -> Review:
        """The reviewer's answer, with its probability as the review's confidence."""
        n = next(self._count)
        task = Task(
            id=f"review-{n}.{request.step or request.tool.name}",
            prompt=review_prompt(request, reason),
            answer_type="choice",
            choices=("approve", "reject"),
            role=reviewer,
        )
        attempt = await self.agents.attempt(
            reviewer, task, kind="primary", temperature=0.0, seed=self.seed + n
        )
        confidence = attempt.option_prob or 0.0
        self.ledger.record(
            self.run_id,
            Decision(
                task_id=task.id,
                answer=attempt.answer,
                confidence=confidence,
                path="single",
                stop_reason="review",
                status="accepted",
                policy="review",
                attempts=(attempt,),
                wall_ms=attempt.model_ms,
            ),
        )
        return Review(
            attempt.answer == "approve",
            reviewer,
            f"{reviewer} answered {attempt.answer!r} (p={confidence:.2f})",
            confidence,
        )
