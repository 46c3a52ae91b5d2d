"""The exception tree of accord.

    AccordError
    ├── ConfigError          the user's input is wrong (exit code 2)
    │   └── UnknownNameError a registry was asked for a name it does not know
    └── RunError             something failed while running
        ├── BackendError     a model backend failed
        ├── BudgetExceeded   a token, money or time budget ran out
        ├── ConsensusFailed  no acceptable answer could be reached
        └── SandboxRefused   untrusted code was not run: no usable isolation

Exceptions carry fields, not just text, and do no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path


def _rebuild(
    cls: type[AccordError], args: tuple[object, ...], state: dict[str, object]
) -> AccordError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class AccordError(Exception):
    """Base class of every error accord raises on purpose."""

    exit_code: int = 1

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take fields, not the message, so the default pickling cannot rebuild
        # them; Ray pickles errors raised in actors.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(AccordError):
    """The user's input (a crew file, a flag, a spec) is wrong; names the place and the fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.col = col
        self.hint = hint
        super().__init__(self.render())

    @property
    def location(self) -> str:
        """`path:line:col` (as much of it as is known)."""
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def render(self) -> str:
        """The one-line message shown to users."""
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class UnknownNameError(ConfigError):
    """A name (backend, validator, policy, ...) is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], **where: object) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        close = get_close_matches(name, self.known, n=1)
        hint = f"known {kind}s: {', '.join(self.known)}"
        if close:
            hint = f"did you mean {close[0]!r}? {hint}"
        super().__init__(f"unknown {kind} {name!r}", hint=hint, **where)  # type: ignore[arg-type]


class RunError(AccordError):
    """Something failed while a crew was running."""


class RunInterrupted(RunError):
    """A run was stopped by a signal; what it decided is in the ledger and it can resume."""

    exit_code = 130

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} interrupted; its decisions so far are in the ledger "
            f"(hint: `accord run CREW --resume {run_id}` continues it)"
        )


class BackendError(RunError):
    """A model backend failed to answer."""

    def __init__(self, backend: str, message: str) -> None:
        self.backend = backend
        super().__init__(f"backend {backend!r}: {message}")


class BudgetExceeded(RunError):
    """A budget (tokens, money, seconds) ran out."""

    def __init__(self, what: str, limit: float, used: float) -> None:
        self.what = what
        self.limit = limit
        self.used = used
        super().__init__(f"{what} budget exceeded: used {used:g} of {limit:g}")


class ConsensusFailed(RunError):
    """No acceptable answer could be reached for a decision."""

    def __init__(self, task: str, reason: str) -> None:
        self.task = task
        self.reason = reason
        super().__init__(f"task {task!r}: {reason}")


class SandboxRefused(RunError):
    """Untrusted code was not run because the sandbox backend cannot isolate it here."""

    def __init__(self, backend: str, reason: str, *, hint: str | None = None) -> None:
        self.backend = backend
        self.reason = reason
        self.hint = hint
        text = f"sandbox {backend!r} refused to run: {reason}"
        super().__init__(f"{text} (hint: {hint})" if hint else text)
