"""The seam between the coordinator and whoever runs attempts: the `AgentPool` protocol.

accord.roles implements it (in-process agents, Ray actors); the bench's replay implements it
from recorded samples. The coordinator depends on this protocol only, never on accord.roles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from accord.consensus.records import Attempt, AttemptKind, Task

Kind = AttemptKind  # a pool runs every kind of attempt: primary, voter, retry, critic, judge


class AgentPool(Protocol):
    """Runs attempts for named roles; may keep several busy at once."""

    def roles(self) -> list[str]:
        """Names of the roles this pool can run."""
        ...

    def capacity(self, role: str) -> int:
        """How many attempts of `role` can run at the same time."""
        ...

    async def attempt(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seed: int
    ) -> Attempt:
        """Run one attempt of `task` by `role`."""
        ...

    def close(self) -> None:
        """Release the pool's agents."""
        ...


async def pool_attempts(
    pool: AgentPool,
    role: str,
    task: Task,
    *,
    kind: Kind,
    temperature: float,
    seeds: Sequence[int],
) -> list[Attempt]:
    """Attempts of `task` by `role`, one per seed, in seed order.

    Batched where the pool can (`attempts`: one call to one agent, which draws every sample
    from one prompt evaluation), else one `attempt` per seed, all in flight at once.
    """
    batched = getattr(pool, "attempts", None)
    if callable(batched):
        return await batched(role, task, kind=kind, temperature=temperature, seeds=seeds)
    return list(
        await asyncio.gather(
            *(pool.attempt(role, task, kind=kind, temperature=temperature, seed=s) for s in seeds)
        )
    )
