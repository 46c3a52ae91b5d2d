"""Public fakes for tests: scripted agents and pools that need no model and no Ray."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.models.scripted import Scripted, ScriptedBackend, ScriptEntry, ScriptFunction
from accord.roles.agent import RoleAgent
from accord.roles.pool import AgentSpec, LocalPool
from accord.roles.prompt import RoleProfile

__all__ = ["Scripted", "ScriptedBackend", "scripted_pool"]


def scripted_pool(
    scripts: Mapping[str, Mapping[str, ScriptEntry] | ScriptFunction],
    *,
    replicas: int = 1,
    latency_s: float = 0.0,
    threads: bool = False,
) -> LocalPool:
    """An in-process pool with one scripted agent per role name, in the given order."""
    specs: Sequence[AgentSpec] = [
        AgentSpec(
            RoleProfile(name), "scripted", {"script": script, "latency_s": latency_s}, replicas
        )
        for name, script in scripts.items()
    ]
    return LocalPool(specs, threads=threads)


def scripted_agent(name: str, script: Mapping[str, ScriptEntry] | ScriptFunction) -> RoleAgent:
    """One scripted RoleAgent."""
    return RoleAgent(RoleProfile(name), ScriptedBackend(script=script))
