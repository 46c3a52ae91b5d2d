"""Agent pools: where the coordinator sends attempts. Ray actors, or in-process for tests.

The `AgentPool` protocol they implement is the coordinator's, in `accord.consensus.pool`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from accord.consensus.pool import AgentPool, Kind, pool_attempts
from accord.consensus.records import Attempt, Task
from accord.errors import AccordError, BackendError, ConfigError
from accord.roles.agent import RoleAgent
from accord.roles.prompt import RoleProfile
from accord.roles.ray_runtime import ActorCache, actor_key
from accord.roles.workers import Worker, wait_interruptibly

__all__ = ["AgentPool", "AgentSpec", "Kind", "LocalPool", "RayPool", "pool_attempts"]


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """How to build one role's agents: its profile, backend and number of replicas."""

    role: RoleProfile
    backend: str = "llama"
    backend_options: Mapping[str, object] = field(default_factory=dict)
    replicas: int = 1


class _Replicas:
    """Replicas of one role with a count of calls in flight, to pick the least busy."""

    def __init__(self, handles: Sequence[Any]) -> None:  # Ray actor handles or agents
        self.handles = list(handles)
        self.busy = [0] * len(self.handles)

    def acquire(self) -> int:
        index = min(range(len(self.busy)), key=self.busy.__getitem__)
        self.busy[index] += 1
        return index

    def release(self, index: int) -> None:
        self.busy[index] -= 1


T = TypeVar("T")


async def _result(ref: Any) -> Any:
    """The value of a Ray ObjectRef, awaited."""
    return await ref


async def _on_replica(replicas: _Replicas, index: int, work: Awaitable[T]) -> T:
    """Await `work` running on replica `index`, and mark the replica free when it is done.

    A caller that stops waiting (a time budget cancels it) does not stop the work: the
    replica stays busy until the work really finishes, so no second call shares it meanwhile.
    """
    future = asyncio.ensure_future(work)
    future.add_done_callback(lambda _: replicas.release(index))
    return await asyncio.shield(future)


def _replicas_of(pools: Mapping[str, _Replicas], role: str) -> _Replicas:
    try:
        return pools[role]
    except KeyError:
        known = ", ".join(sorted(pools))
        raise ConfigError(f"no role named {role!r}", hint=f"known roles: {known}") from None


def _unsendable(spec: AgentSpec, exc: TypeError) -> ConfigError:
    """A backend option Ray cannot send to an actor (a live object holding locks, sockets)."""
    detail = next((line for line in str(exc).splitlines() if "cannot pickle" in line), "")
    reason = detail.split("cannot pickle", 1)[-1].strip(" :") if detail else str(exc)[:200]
    return ConfigError(
        f"role {spec.role.name!r}: the options of backend {spec.backend!r} cannot be sent to a "
        f"Ray actor (cannot pickle {reason})",
        hint="pass the object as an import path 'package.module:name' or a function that "
        "builds it (e.g. agent='my_crew.agents:make_researcher' for crewai-agent and "
        "autogen-agent), or run in-process with pool='local' (--local)",
    )


def _startup_error(exc: Exception) -> AccordError:
    """The user-facing error behind a Ray actor that failed to start."""
    lines = [ln.strip() for ln in str(getattr(exc, "error_msg", exc)).splitlines() if ln.strip()]
    last = lines[-1] if lines else str(exc)
    prefix = "accord.errors.ConfigError: "
    if last.startswith(prefix):
        return ConfigError(last.removeprefix(prefix).removeprefix("<input>: "))
    return BackendError("ray", f"a role actor failed to start: {last}")


class LocalPool:
    """In-process agents, for tests and single-process use.

    Every call runs on its agent's daemon worker thread (`accord.roles.workers`), so a call
    that blocks does not hold up SIGTERM or Ctrl-C. By default the event loop waits for each
    call as if it ran inline (one call at a time, in a fixed order: runs are deterministic);
    with `threads`, calls of different agents run concurrently and the loop goes on meanwhile.
    """

    def __init__(self, specs: Sequence[AgentSpec], *, threads: bool = False) -> None:
        self._threads = threads
        self._agents = {
            s.role.name: _Replicas([self._build(s) for _ in range(s.replicas)]) for s in specs
        }
        # one worker per agent: one call at a time (a model context is not thread-safe),
        # even when a caller stopped waiting for an earlier call still running
        self._workers = {
            id(agent): Worker(f"accord-{name}")
            for name, r in self._agents.items()
            for agent in r.handles
        }

    @staticmethod
    def _build(spec: AgentSpec) -> RoleAgent:
        return RoleAgent(
            spec.role, backend_name=spec.backend, backend_options=dict(spec.backend_options)
        )

    def roles(self) -> list[str]:
        """Names of the roles this pool can run."""
        return list(self._agents)

    def capacity(self, role: str) -> int:
        """Number of replicas of `role`."""
        return len(_replicas_of(self._agents, role).handles)

    async def attempt(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seed: int
    ) -> Attempt:
        """Run one attempt in-process (in a worker thread when `threads`)."""
        return await self._run(
            role, "attempt", task=task, kind=kind, temperature=temperature, seed=seed
        )

    async def attempts(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seeds: Sequence[int]
    ) -> list[Attempt]:
        """One attempt per seed (in seed order) from the least busy replica, in one call."""
        return await self._run(
            role, "attempts", task=task, kind=kind, temperature=temperature, seeds=list(seeds)
        )

    async def _run(self, role: str, method: str, **kwargs: Any) -> Any:
        """`method` of the least busy replica of `role`, which is busy until the call ends."""
        replicas = _replicas_of(self._agents, role)
        index = replicas.acquire()
        agent: RoleAgent = replicas.handles[index]
        try:
            call = self._workers[id(agent)].submit(
                functools.partial(getattr(agent, method), **kwargs)
            )
        except BaseException:
            replicas.release(index)
            raise
        # inline-like: wait here; when a signal comes, let the loop handle it (the call goes on)
        if not self._threads and wait_interruptibly(call):
            replicas.release(index)
            return call.result()
        return await _on_replica(replicas, index, asyncio.wrap_future(call))

    def close(self) -> None:
        """Let the agents' threads end (a call still running finishes on its own)."""
        for worker in self._workers.values():
            worker.close()


def _node_placements() -> list[object]:
    """One soft node-affinity strategy per alive node with CPUs, for round-robin placement.

    Ray's SPREAD is best effort for zero-CPU actors; pinning replicas round-robin (softly, so
    a lost node falls back to any other) spreads a crew over a cluster deterministically.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU"))
    if len(nodes) < 2:
        return ["DEFAULT"]
    return [NodeAffinitySchedulingStrategy(node_id=node, soft=True) for node in nodes]


class RayPool:
    """One Ray actor per role replica; attempts are awaited on the actors' object refs.

    With a `cache` (`accord.roles.ray_runtime.ActorCache`), idle actors of the same role,
    backend and options are taken from it instead of started, and `close` gives them back.
    """

    def __init__(
        self,
        specs: Sequence[AgentSpec],
        *,
        num_cpus: float = 0.0,
        max_restarts: int = 3,
        cache: ActorCache | None = None,
    ) -> None:
        self._cache = cache
        self._num_cpus, self._max_restarts = num_cpus, max_restarts
        self._actors: dict[str, _Replicas] = {}
        self._keys: dict[str, list[Hashable | None]] = {}
        self._reused: set[int] = set()  # ids of the handles taken from the cache
        placements = _node_placements()
        # the node each replica was asked for, by role (None: Ray's default placement)
        self.requested_nodes: dict[str, list[str | None]] = {}
        placed = 0
        for spec in specs:
            handles, keys = [], []
            for _ in range(spec.replicas):
                strategy = placements[placed % len(placements)]
                node = getattr(strategy, "node_id", None)
                self.requested_nodes.setdefault(spec.role.name, []).append(node)
                key = actor_key(
                    spec.role, spec.backend, spec.backend_options, num_cpus, max_restarts, node
                )
                handle = cache.take(key) if cache else None
                if handle is None:
                    handle = self._start(spec, strategy)
                else:
                    self._reused.add(id(handle))
                handles.append(handle)
                keys.append(key)
                placed += 1
            self._actors[spec.role.name] = _Replicas(handles)
            self._keys[spec.role.name] = keys
        self._check_started(specs, placements)

    def _start(self, spec: AgentSpec, strategy: object) -> object:
        """A new actor for `spec` placed by `strategy`."""
        from accord.roles.actor import role_actor_class

        try:
            return (
                role_actor_class()
                .options(
                    num_cpus=self._num_cpus,
                    max_restarts=self._max_restarts,
                    max_task_retries=self._max_restarts,
                    scheduling_strategy=strategy,
                )
                .remote(
                    spec.role,
                    backend_name=spec.backend,
                    backend_options=dict(spec.backend_options),
                )
            )
        except TypeError as exc:  # Ray could not pickle an option for the actor
            self.close()
            raise _unsendable(spec, exc) from None

    def _check_started(self, specs: Sequence[AgentSpec], placements: list[object]) -> None:
        """Surface construction errors (a missing model file, a bad option) here, at start;
        a reused actor that died meanwhile is replaced by a new one."""
        import ray

        by_name = {s.role.name: s for s in specs}
        fresh = {id(h) for r in self._actors.values() for h in r.handles} - self._reused
        while True:
            slots = [(n, i, h) for n, r in self._actors.items() for i, h in enumerate(r.handles)]
            refs = [h.ping.remote() for _, _, h in slots]
            dead = []
            for (name, index, handle), ref in zip(slots, refs, strict=True):
                try:
                    ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    dead.append((name, index, handle, exc))
            if not dead:
                return
            if any(id(handle) in fresh for _, _, handle, _ in dead):
                self._cache = None  # nothing of a pool that failed to start is kept
                self.close()
                raise _startup_error(dead[0][3]) from None
            for name, index, _, _ in dead:  # a reused actor that died: start a new one
                node = self.requested_nodes[name][index]
                strategy = next(
                    (p for p in placements if getattr(p, "node_id", None) == node), placements[0]
                )
                handle = self._start(by_name[name], strategy)
                fresh.add(id(handle))
                self._actors[name].handles[index] = handle

    def roles(self) -> list[str]:
        """Names of the roles this pool can run."""
        return list(self._actors)

    def capacity(self, role: str) -> int:
        """Number of actors of `role`."""
        return len(_replicas_of(self._actors, role).handles)

    async def attempt(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seed: int
    ) -> Attempt:
        """Run one attempt on the least busy actor of `role`."""
        return await self._run(role, "attempt", task, kind=kind, temperature=temperature, seed=seed)

    async def attempts(
        self, role: str, task: Task, *, kind: Kind, temperature: float, seeds: Sequence[int]
    ) -> list[Attempt]:
        """One attempt per seed (in seed order) from the least busy actor of `role`, in one
        Ray call (`RoleAgent.attempts`: the llama backend evaluates the prompt once)."""
        return await self._run(
            role, "attempts", task, kind=kind, temperature=temperature, seeds=list(seeds)
        )

    async def _run(self, role: str, method: str, task: Task, **kwargs: Any) -> Any:
        """`method` on the least busy actor of `role`, which is busy until the call ends."""
        replicas = _replicas_of(self._actors, role)
        index = replicas.acquire()
        try:
            ref = getattr(replicas.handles[index], method).remote(task, **kwargs)
        except BaseException:
            replicas.release(index)
            raise
        return await _on_replica(replicas, index, _result(ref))

    def handles(self, role: str) -> list[object]:
        """The actor handles of `role` (for inspection and fault tests)."""
        return list(_replicas_of(self._actors, role).handles)

    def close(self) -> None:
        """Give the pool's idle actors back to its cache, and kill the others (all of them
        without a cache; an actor still running a call is never given back)."""
        import ray

        for name, replicas in self._actors.items():
            keys = self._keys.get(name, [])
            for index, handle in enumerate(replicas.handles):
                key = keys[index] if index < len(keys) else None
                if self._cache is not None and not replicas.busy[index]:
                    self._cache.give_back(key, handle)
                else:
                    ray.kill(handle)
        self._actors.clear()
