"""The sandbox seam: limits, the result of one run, the `Sandbox` protocol and its registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from accord.registry import Registry

Isolation = Literal["bubblewrap", "unsafe-local"]
LimitHit = Literal["wall_time", "cpu", "memory", "processes", "file_size", "open_files", "output"]
Files = Mapping[str, bytes | str]

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use; every field is enforced by the kernel or by the runner.

    wall_seconds ends the run (the whole process tree) when it passes; cpu_seconds, memory_bytes
    (address space), max_processes, file_size_bytes and open_files are rlimits on every process
    of the run (max_processes counts per host uid, so concurrent runs as root share it);
    output_bytes caps each of stdout and stderr and ends the run when exceeded; workdir_bytes
    sizes the tmpfs work dir and /tmp.
    """

    wall_seconds: float = 30.0
    cpu_seconds: int = 10
    memory_bytes: int = 512 * MiB
    max_processes: int = 64
    file_size_bytes: int = 16 * MiB
    open_files: int = 256
    output_bytes: int = 1 * MiB
    workdir_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                from accord.errors import ConfigError

                raise ConfigError(f"sandbox limit {name} must be > 0, got {value!r}")


@dataclass(frozen=True)
class SandboxResult:
    """What came out of one run: exit code, captured output and which limit (if any) was hit.

    `isolation` says how the run was contained; an "unsafe-local" run is the one the ledger and
    audit trail must record (see `Sandbox.run`).
    """

    exit_code: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    limit_hit: LimitHit | None = None
    signal: int | None = None
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    isolation: Isolation = "bubblewrap"
    argv: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """The program exited with 0 and hit no limit."""
        return self.exit_code == 0 and self.limit_hit is None

    @property
    def text(self) -> str:
        """stdout decoded (invalid bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted programs; `argv` or `python_code`, with `files` in a fresh work dir."""

    name: str

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python_code: str | None = None,
        files: Files | None = None,
        limits: Limits | None = None,
        stdin: bytes | None = None,
    ) -> SandboxResult:
        """Run `argv` (or `python_code` as main.py, `argv` then being its arguments)."""
        ...

    def check(self) -> None:
        """Raise SandboxRefused unless this backend can isolate a run on this machine."""
        ...


sandboxes: Registry[Sandbox] = Registry("sandbox")
