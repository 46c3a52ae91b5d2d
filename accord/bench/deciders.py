"""Building deciders for strategies: coordinator + pool per model tier, cascades, peers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from accord.bench.solver import SOLVER
from accord.bench.strategies import Decider, Strategy, peers
from accord.consensus.cascade import Cascade
from accord.consensus.coordinator import Coordinator
from accord.consensus.normalise import NormalisingPool
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Decision, Task
from accord.errors import ConfigError
from accord.roles.pool import AgentPool, AgentSpec, LocalPool

PoolKind = Literal["local", "ray"]

# The model tiers a cascade climbs, per backend (tier 1 is the backend as configured).
TIERS: dict[str, list[dict[str, object]]] = {
    "llama": [{}, {"model": "gemma3-270m"}],
    "simulated": [{}, {"skill": 1.5, "model": "sim-strong"}],
}


def tier_options(backend: str, options: Mapping[str, object], tier: int) -> dict[str, object]:
    """Backend options of cascade tier `tier` (0-based)."""
    tiers = TIERS.get(backend, [{}])
    if tier >= len(tiers):
        raise ConfigError(
            f"backend {backend!r} has no cascade tier {tier + 1}",
            hint=f"backends with tiers: {', '.join(sorted(TIERS))}",
        )
    return {**options, **tiers[tier]}


def tier_label(backend: str, options: Mapping[str, object]) -> str:
    """A stable name for one backend configuration (for caches and tables)."""
    return f"{backend}{json.dumps(dict(options), sort_keys=True, default=str)}"


def build_pool(
    backend: str, options: Mapping[str, object], kind: PoolKind = "local", replicas: int = 1
) -> AgentPool:
    """A pool of solver agents on one backend, answers normalised before they are voted on."""
    spec = AgentSpec(SOLVER, backend, dict(options), replicas)
    if kind == "ray":
        from accord.roles.actor import ensure_ray
        from accord.roles.pool import RayPool

        ensure_ray()
        return NormalisingPool(RayPool([spec]))
    return NormalisingPool(LocalPool([spec]))


class PolicyDecider:
    """A coordinator deciding with one policy."""

    def __init__(self, coordinator: Coordinator, policy: PolicySpec) -> None:
        self.coordinator = coordinator
        self.policy = policy

    async def decide(self, task: Task) -> Decision:
        """The coordinator's decision under this policy."""
        return await self.coordinator.decide(task, self.policy)


class Deciders:
    """Makes deciders for strategies, sharing one pool per model tier."""

    def __init__(
        self,
        backend: str,
        options: Mapping[str, object],
        *,
        seed: int = 0,
        pool: PoolKind = "local",
        pools: Mapping[int, AgentPool] | None = None,
    ) -> None:
        self.backend = backend
        self.options = dict(options)
        self.seed = seed
        self.kind = pool
        self._pools: dict[int, AgentPool] = dict(pools or {})
        self._owned: list[AgentPool] = []
        self._peers: list[Decider] = []

    def pool(self, tier: int) -> AgentPool:
        """The pool of tier `tier` (built on first use)."""
        if tier not in self._pools:
            options = tier_options(self.backend, self.options, tier)
            self._pools[tier] = build_pool(self.backend, options, self.kind)
            self._owned.append(self._pools[tier])
        return self._pools[tier]

    def coordinator(self, tier: int = 0) -> Coordinator:
        """A coordinator over tier `tier`'s pool."""
        return Coordinator(self.pool(tier), seed=self.seed)

    def build(self, strategy: Strategy) -> Decider:
        """The decider for `strategy`."""
        if strategy.peer is not None:
            peer = peers.create(
                strategy.peer, backend=self.backend, backend_options=self.options, seed=self.seed
            )
            self._peers.append(peer)
            return peer
        assert strategy.policy is not None
        if strategy.tiers > 1:
            tiers = [self.coordinator(t) for t in range(strategy.tiers)]
            return Cascade(tiers, strategy.policy)
        return PolicyDecider(self.coordinator(0), strategy.policy)

    def close(self) -> None:
        """Close the pools and peers this object built."""
        for pool in self._owned:
            pool.close()
        self._owned.clear()
        for peer in self._peers:
            close = getattr(peer, "close", None)
            if callable(close):
                close()
        self._peers.clear()
