"""Model backends behind one protocol: embedded llama.cpp (default), scripted (tests)."""

from accord.models import builtin as _builtin  # noqa: F401  (registers the built-in backends)
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    Usage,
    backends,
    create_backend,
)

__all__ = [
    "Backend",
    "Completion",
    "CompletionRequest",
    "Message",
    "OptionScores",
    "Usage",
    "backends",
    "create_backend",
]
