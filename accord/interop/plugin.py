"""accord's interop backends, registered through the `accord.backends` entry point.

They are added the way a third-party package would add its own backends: pyproject declares
`[project.entry-points."accord.backends"] interop = "accord.interop.plugin:register_backends"`,
and the backend registry calls `register_backends` the first time it needs a name it lacks.
Nothing heavy is imported here: CrewAI and AutoGen load only when such a backend is built.
"""

from __future__ import annotations

from accord.models.base import Backend
from accord.registry import Registry


def _crewai_agent(**options: object) -> Backend:
    from accord.interop.agents import CrewAIAgentBackend

    return CrewAIAgentBackend(**options)  # type: ignore[arg-type]


def _autogen_agent(**options: object) -> Backend:
    from accord.interop.agents import AutoGenAgentBackend

    return AutoGenAgentBackend(**options)  # type: ignore[arg-type]


def register_backends(registry: Registry[Backend]) -> None:
    """Add the CrewAI-agent and AutoGen-agent backends to `registry`."""
    registry.add("crewai-agent", _crewai_agent)
    registry.add("autogen-agent", _autogen_agent)
