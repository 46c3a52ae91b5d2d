"""The explicit opt-out: run on the host, in a temporary dir, with limits and the timeout only.

No namespaces, so the program sees the network and every file the caller can read. Choose it only
on purpose (`unsafe_local=True`, `--unsafe-local`); every result says `isolation="unsafe-local"`
so the ledger and audit trail can record each use (`RecordedSandbox` in recorded.py is the hook).

Where a cgroup is available (cgroup.py) the run is in one: its memory, processes and CPU time are
bounded together, and everything in it, `setsid` daemons included, is killed when the program
exits, when a limit is hit and when the caller dies. Without one, only the program's session is
killed and the limits are per-process rlimits; `SandboxResult.enforcement` then says so.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from accord.sandbox.base import Files, Limits, SandboxResult, sandboxes
from accord.sandbox.cgroup import run_group
from accord.sandbox.process import classify, supervise
from accord.sandbox.program import build_command, host_interpreter
from accord.sandbox.witness import witnessed


@sandboxes.register("unsafe-local")
class UnsafeLocalSandbox:
    """Runs programs directly on the host: limits and timeout apply, isolation does not."""

    name = "unsafe-local"

    def __init__(self) -> None:
        self.interpreter = host_interpreter()

    def check(self) -> None:
        """Always usable."""

    @witnessed  # observers (a crew run's audit trail) hear of each run before it starts
    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python_code: str | None = None,
        files: Files | None = None,
        limits: Limits | None = None,
        stdin: bytes | None = None,
    ) -> SandboxResult:
        """Run `argv` (or `python_code` as main.py) in a fresh temporary dir on the host."""
        limits = limits or Limits()
        command, content = build_command(argv, python_code, files, self.interpreter.executable)
        work = Path(tempfile.mkdtemp(prefix="accord-unsafe-"))
        try:
            for name, data in content.items():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_bytes(data)
            env = {
                "PATH": f"{self.interpreter.bin_dir}:/usr/local/bin:/usr/bin:/bin",
                "HOME": str(work),
                "TMPDIR": str(work),
                "LANG": "C.UTF-8",
                "PYTHONUNBUFFERED": "1",
            }
            with run_group(limits) as (group, enforcement):
                outcome = supervise(
                    command,
                    limits=limits,
                    env=env,
                    cwd=str(work),
                    stdin=stdin,
                    preexec_fn=_rlimits(limits),
                    group=group,
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        sig = -outcome.returncode if outcome.returncode < 0 else None
        return SandboxResult(
            exit_code=outcome.returncode,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            stdout_truncated=outcome.stdout_truncated,
            stderr_truncated=outcome.stderr_truncated,
            timed_out=outcome.timed_out,
            limit_hit=classify(outcome, sig, limits),
            signal=sig,
            cpu_seconds=outcome.cpu_seconds,
            wall_seconds=outcome.wall_seconds,
            isolation="unsafe-local",
            argv=tuple(command),
            memory_peak_bytes=outcome.memory_peak_bytes,
            enforcement=_caveats(enforcement, cgroup=group is not None),
        )


def _caveats(enforcement: str, *, cgroup: bool) -> str:
    """What the unsafe-local run could not bound, said plainly."""
    if cgroup:
        return enforcement
    notes = [enforcement, "processes that leave the session are not killed at the end"]
    if os.geteuid() == 0:
        notes.append("the process limit does not bind root")
    return "; ".join(notes)


def _rlimits(limits: Limits) -> Callable[[], None]:
    pairs = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_NPROC, limits.max_processes),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]

    def apply() -> None:
        for which, value in pairs:
            resource.setrlimit(which, (value, value))

    return apply
