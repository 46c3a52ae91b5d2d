"""Crew formats besides accord's own YAML (a CrewAI project, ...), found through a registry.

A format registers a loader under a name: `loader(path=..., inputs=...)` returns the crew as an
`ImportedCrew` when `path` is in that format, else None. Installed packages add formats through
the `accord.crew_sources` entry point (a function `register(registry)`). accord's CrewAI import
registers through a function of the same shape (`accord.interop.plugin.register_crew_sources`),
which the package root calls, so that accord.crews never imports accord.interop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from accord.crews.spec import CrewSpec
from accord.registry import Registry


@dataclass(frozen=True, slots=True)
class ImportedCrew:
    """An imported crew: the spec, what was not carried over, and where it came from."""

    spec: CrewSpec
    warnings: tuple[str, ...]
    source: str
    base_dir: Path


crew_sources: Registry[ImportedCrew | None] = Registry("crew source", plugins="accord.crew_sources")


def import_crew(
    path: str | Path, *, inputs: Mapping[str, str] | None = None
) -> ImportedCrew | None:
    """The crew at `path` as read by the first registered format that knows it, else None."""
    for name in crew_sources.names():
        imported = crew_sources.create(name, path=path, inputs=inputs)
        if imported is not None:
            return imported
    return None
