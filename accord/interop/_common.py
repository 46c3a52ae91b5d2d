"""What the adapters share: lazy imports with exact install hints, and backend lookup."""

from __future__ import annotations

import importlib
from types import ModuleType

from accord.errors import ConfigError
from accord.models.base import Backend, create_backend

EXTRAS = {"crewai": "crewai", "autogen_core": "autogen", "autogen_agentchat": "autogen"}


def require(module: str) -> ModuleType:
    """Import `module` (crewai, autogen_core, ...) or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module.split(".")[0], module)
        raise ConfigError(
            f"{module} is not installed", hint=f"pip install 'accord[{extra}]'"
        ) from None


def as_backend(backend: Backend | str, options: dict[str, object]) -> Backend:
    """`backend` itself, or the backend registered under that name built with `options`."""
    return create_backend(backend, **options) if isinstance(backend, str) else backend
