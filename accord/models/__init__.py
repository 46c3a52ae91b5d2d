"""Model backends behind one protocol: embedded llama.cpp (default), scripted (tests)."""

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
