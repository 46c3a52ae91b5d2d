"""accord's interop backends, registered through the `accord.backends` entry point.

They are added the way a third-party package would add its own backends: pyproject declares
`[project.entry-points."accord.backends"] interop = "accord.interop.plugin:register_backends"`,
and the backend registry calls `register_backends` the first time it needs a name it lacks.
Nothing heavy is imported here: CrewAI and AutoGen load only when such a backend is built.
`register_crew_sources` adds CrewAI projects to `accord.crews.sources` the same way (the
package root calls it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.models.base import Backend
from accord.registry import Registry

if TYPE_CHECKING:
    from accord.crews.sources import ImportedCrew


def _crewai_agent(**options: Any) -> Backend:
    from accord.interop.agents import CrewAIAgentBackend

    return CrewAIAgentBackend(**options)


def _autogen_agent(**options: Any) -> Backend:
    from accord.interop.agents import AutoGenAgentBackend

    return AutoGenAgentBackend(**options)


def register_backends(registry: Registry[Backend]) -> None:
    """Add the CrewAI-agent and AutoGen-agent backends to `registry`."""
    registry.add("crewai-agent", _crewai_agent)
    registry.add("autogen-agent", _autogen_agent)


def _crewai_project(
    *, path: str | Path, inputs: Mapping[str, str] | None = None
) -> ImportedCrew | None:
    from accord.interop.crewai_import import find_project, import_crewai

    project = find_project(path)
    return None if project is None else import_crewai(path, inputs=inputs, project=project)


def register_crew_sources(registry: Registry[ImportedCrew | None]) -> None:
    """Add CrewAI projects (a folder, config/*.yaml or crew.jsonc) to `registry`."""
    registry.add("crewai", _crewai_project)
