"""Running untrusted code and commands: bubblewrap isolation, limits, timeout, capped output.

    from accord.sandbox import open_sandbox
    result = open_sandbox().run(python_code="print(2 + 2)")

`open_sandbox()` gives the bubblewrap backend and refuses (SandboxRefused) when it cannot
isolate; `open_sandbox(unsafe_local=True)` is the explicit, recorded opt-out.
"""

from __future__ import annotations

from accord.sandbox.base import Isolation, LimitHit, Limits, Sandbox, SandboxResult, sandboxes
from accord.sandbox.bubblewrap import BubblewrapSandbox
from accord.sandbox.local import UnsafeLocalSandbox


def open_sandbox(name: str = "bubblewrap", *, unsafe_local: bool = False) -> Sandbox:
    """The sandbox registered as `name` (checked usable), or the unsafe-local one on request."""
    sandbox = sandboxes.create("unsafe-local" if unsafe_local else name)
    sandbox.check()
    return sandbox


__all__ = [
    "BubblewrapSandbox",
    "Isolation",
    "LimitHit",
    "Limits",
    "Sandbox",
    "SandboxResult",
    "UnsafeLocalSandbox",
    "open_sandbox",
    "sandboxes",
]
