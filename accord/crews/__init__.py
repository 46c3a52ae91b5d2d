"""Crews: specs, YAML loading with precise errors, task sources, the graph runner, the API."""

from accord.crews.crew import Crew, CrewResult
from accord.crews.loader import load_crew
from accord.crews.spec import CrewSpec, ModelSpec, RoleSpec, SourceSpec, TaskSpec

__all__ = [
    "Crew",
    "CrewResult",
    "CrewSpec",
    "ModelSpec",
    "RoleSpec",
    "SourceSpec",
    "TaskSpec",
    "load_crew",
]
