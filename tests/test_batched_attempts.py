"""Batched voter samples: `complete_many`, `RoleAgent.attempts` and the pools' `attempts`."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from accord.consensus.records import Task
from accord.errors import BackendError
from accord.models.base import Completion, CompletionRequest, Message, Usage, complete_many
from accord.models.scripted import ScriptedBackend
from accord.roles.agent import RoleAgent
from accord.roles.pool import AgentSpec, LocalPool, RayPool, pool_attempts
from accord.roles.prompt import RoleProfile

SCRIPT = {"capital": ["Paris", "Rome", "Paris", "Berlin"], "sum": ["4", "5", "4", "22"]}
SEEDS = [0, 1, 2, 3, 5]
GENERATE = Task(id="sum", prompt="What is the sum of 2 and 2?", answer_type="number")
CHOOSE = Task(id="capital", prompt="The capital of France?", choices=("Paris", "Rome", "Berlin"))


class Batching(ScriptedBackend):
    """A scripted backend with its own complete_many, counting calls."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.calls: list[str] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.calls.append("complete")
        return super().complete(request)

    def complete_many(self, request, seeds):
        self.calls.append(f"many:{len(seeds)}")
        out = [super(Batching, self).complete(replace(request, seed=s)) for s in seeds]
        return [replace(c, usage=replace(c.usage, cached_prompt_tokens=1)) for c in out]


def _without_time(attempts):
    """Attempts without what batching changes: model time and the cached share of the prompt."""
    return [replace(a, model_ms=0.0, cached_prompt_tokens=0) for a in attempts]


def test_complete_many_falls_back_to_one_complete_per_seed() -> None:
    backend = ScriptedBackend(script=SCRIPT)
    request = CompletionRequest(messages=(Message("user", "sum please"),), seed=99)
    texts = [c.text for c in complete_many(backend, request, SEEDS)]
    assert texts == ["4", "5", "4", "22", "5"]
    assert Usage(1, 2, 3.0, "m").cached_prompt_tokens == 0  # old positional use still works


def test_complete_many_uses_the_backends_batched_call() -> None:
    backend = Batching(script=SCRIPT)
    request = CompletionRequest(messages=(Message("user", "sum please"),))
    out = complete_many(backend, request, SEEDS)
    assert backend.calls == ["many:5"]
    assert [c.text for c in out] == ["4", "5", "4", "22", "5"]


@pytest.mark.parametrize("task", [GENERATE, CHOOSE], ids=["generate", "choose"])
@pytest.mark.parametrize("backend_cls", [ScriptedBackend, Batching], ids=["loop", "batched"])
def test_agent_attempts_equal_one_attempt_per_seed(task: Task, backend_cls: type) -> None:
    one = RoleAgent(RoleProfile("solver"), backend_cls(script=SCRIPT))
    many = RoleAgent(RoleProfile("solver"), backend_cls(script=SCRIPT))
    singles = [one.attempt(task, kind="voter", temperature=2.0, seed=s) for s in SEEDS]
    batch = many.attempts(task, kind="voter", temperature=2.0, seeds=SEEDS)
    assert _without_time(batch) == _without_time(singles)
    assert [a.seed for a in batch] == SEEDS
    assert len({a.answer for a in batch}) > 1
    if task.choices:  # one scoring for all seeds; the rest record no model time
        assert all(a.model_ms == 0.0 for a in batch[1:])
        assert all(a.cached_prompt_tokens == a.prompt_tokens for a in batch[1:])
    if backend_cls is Batching and not task.choices:
        assert many.backend.calls == ["many:5"]
    assert many.attempts(task, seeds=[]) == []


def test_agent_attempts_wraps_backend_failures() -> None:
    def boom(request: CompletionRequest) -> str:
        raise RuntimeError("the model fell over")

    agent = RoleAgent(RoleProfile("solver"), ScriptedBackend(script=boom))
    with pytest.raises(BackendError, match="fell over"):
        agent.attempts(GENERATE, seeds=[1, 2])


def _specs(replicas: int) -> list[AgentSpec]:
    return [AgentSpec(RoleProfile("solver"), "scripted", {"script": SCRIPT}, replicas=replicas)]


def _expected(task: Task) -> list[str]:
    agent = RoleAgent(RoleProfile("solver"), ScriptedBackend(script=SCRIPT))
    return [agent.attempt(task, kind="voter", temperature=0.7, seed=s).answer for s in SEEDS]


@pytest.mark.parametrize("threads", [False, True])
def test_local_pool_attempts_come_from_one_agent_in_seed_order(threads: bool) -> None:
    pool = LocalPool(_specs(2), threads=threads)
    got = asyncio.run(pool.attempts("solver", GENERATE, kind="voter", temperature=0.7, seeds=SEEDS))
    assert [a.seed for a in got] == SEEDS
    assert [a.answer for a in got] == _expected(GENERATE)


def test_local_pool_attempts_make_one_batched_call() -> None:
    pool = LocalPool(_specs(2))
    agents = pool._agents["solver"].handles
    for agent in agents:
        agent.backend = Batching(script=SCRIPT)
    asyncio.run(pool.attempts("solver", GENERATE, kind="voter", temperature=0.7, seeds=SEEDS))
    assert sorted(a.backend.calls for a in agents) == [[], ["many:5"]]


def test_pool_attempts_falls_back_to_one_attempt_per_seed() -> None:
    class Plain:
        """A pool with `attempt` only."""

        def __init__(self) -> None:
            self.inner = LocalPool(_specs(1))

        async def attempt(self, role, task, *, kind, temperature, seed):
            return await self.inner.attempt(
                role, task, kind=kind, temperature=temperature, seed=seed
            )

    got = asyncio.run(
        pool_attempts(Plain(), "solver", CHOOSE, kind="voter", temperature=0.7, seeds=SEEDS)
    )
    assert [a.answer for a in got] == _expected(CHOOSE)


@pytest.mark.usefixtures("ray_cluster")
def test_ray_pool_attempts_in_one_actor_call() -> None:
    pool = RayPool(_specs(2))
    try:
        got = asyncio.run(
            pool_attempts(pool, "solver", GENERATE, kind="voter", temperature=0.7, seeds=SEEDS)
        )
        assert [a.seed for a in got] == SEEDS
        assert [a.answer for a in got] == _expected(GENERATE)
    finally:
        pool.close()
