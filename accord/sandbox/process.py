"""Supervising one child process: wall-clock timeout, capped output, whole-group kill, rusage."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.sandbox.base import LimitHit, Limits
from accord.sandbox.cgroup import RunGroup
from accord.sandbox.watchdog import Watchdog

POLL = 0.05  # seconds between checks of the run's CPU time and exit
GRACE = 0.5  # seconds to drain the pipes after the program exited


@dataclass(frozen=True)
class Outcome:
    """The raw facts of one supervised run, before a backend interprets them."""

    returncode: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    output_exceeded: bool
    cpu_seconds: float
    wall_seconds: float
    cpu_exceeded: bool = False
    oom_killed: bool = False
    pids_refused: bool = False
    memory_peak_bytes: int | None = None


class _Capture:
    """Keeps at most `cap` bytes of one stream and notes whether more arrived."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        room = self.cap - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self.chunks.append(data)
        self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def supervise(
    argv: Sequence[str],
    *,
    limits: Limits,
    env: Mapping[str, str],
    cwd: str | None = None,
    pass_fds: Sequence[int] = (),
    stdin: bytes | None = None,
    preexec_fn: Callable[[], None] | None = None,
    on_kill: Callable[[], None] | None = None,
    group: RunGroup | None = None,
) -> Outcome:
    """Run `argv` in its own session (and `group`); kill all of it on a limit or any way out.

    Everything the run started is killed when its main process exits, when a limit is hit, and
    on every error (Ctrl-C included); a watchdog does the same if this process dies. The CPU
    limit of the whole run is enforced here, from the group's CPU time. `on_kill` runs first
    when the run is cut short, for what the group kill cannot reach.
    """
    start = time.monotonic()
    command = [*group.join_command(), *argv] if group else list(argv)
    if group is not None:
        group.watch()  # the process's watchdog, armed before the program starts
    proc = _start(command, env, cwd, pass_fds, stdin, preexec_fn)
    run = _Run(proc, limits, group, on_kill)
    try:
        if group is None:  # without a cgroup: a watchdog for this run's session
            run.watchdog = Watchdog(f"kill -9 -- -{proc.pid}")
        if stdin is not None:
            threading.Thread(target=_feed_stdin, args=(proc, stdin), daemon=True).start()
        hit = run.pump(start + limits.wall_seconds)
        if hit is not None:
            run.kill(cut_short=True)
        run.kill(cut_short=False)  # leftovers of a finished run: daemons, setsid children
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        run.kill(cut_short=True)
        proc.wait()
        raise
    finally:
        if run.watchdog is not None:
            run.watchdog.stop()
        _close(proc)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Outcome(
        returncode=proc.returncode,
        stdout=run.out.value(),
        stderr=run.err.value(),
        stdout_truncated=run.out.truncated,
        stderr_truncated=run.err.truncated,
        timed_out=hit == "wall_time",
        output_exceeded=hit == "output",
        cpu_seconds=max(cpu, (group.cpu_seconds() or 0.0) if group else 0.0),
        wall_seconds=time.monotonic() - start,
        cpu_exceeded=hit == "cpu",
        oom_killed=bool(group and group.oom_killed()),
        pids_refused=bool(group and group.pids_refused()),
        memory_peak_bytes=group.memory_peak() if group else None,
    )


class _Run:
    """One running program: its output, its limits and how to kill all of it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        limits: Limits,
        group: RunGroup | None,
        on_kill: Callable[[], None] | None,
    ) -> None:
        self.proc, self.limits, self.group, self.on_kill = proc, limits, group, on_kill
        self.out, self.err = _Capture(limits.output_bytes), _Capture(limits.output_bytes)
        # kills the session (or the cgroup, which also holds setsid children) if we die
        self.watchdog: Watchdog | None = None

    def pump(self, deadline: float) -> LimitHit | None:
        """Read both pipes until EOF or a limit; leftovers are killed once the program exits."""
        sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        sel.register(self.proc.stdout, selectors.EVENT_READ, self.out)
        sel.register(self.proc.stderr, selectors.EVENT_READ, self.err)
        exited_at: float | None = None
        try:
            while sel.get_map():
                now = time.monotonic()
                if now >= deadline:
                    return "wall_time"
                if self._over_cpu():
                    return "cpu"
                if exited_at is None and _exited(self.proc.pid):
                    exited_at = now
                    self.kill(cut_short=False)  # whatever still holds the pipes
                elif exited_at is not None and now - exited_at > GRACE:
                    break  # a holder we cannot kill (no cgroup): stop reading, keep what came
                for key, _ in sel.select(timeout=min(deadline - now, POLL)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    key.data.feed(data)
                    if key.data.truncated:
                        return "output"
        finally:
            sel.close()
        return self._wait_until(deadline)

    def _over_cpu(self) -> bool:
        used = self.group.cpu_seconds() if self.group else None
        return used is not None and used >= self.limits.cpu_seconds

    def _wait_until(self, deadline: float) -> LimitHit | None:
        """Both pipes closed: wait for the exit itself, still bounded by the limits."""
        while not _exited(self.proc.pid):
            if time.monotonic() >= deadline:
                return "wall_time"
            if self._over_cpu():
                return "cpu"
            time.sleep(0.005)
        return None

    def kill(self, *, cut_short: bool) -> None:
        """Kill the run's session and cgroup; `cut_short` also runs the backend's on_kill.

        Only called while the main process is not yet reaped, so its pid (the session's id)
        cannot have been reused.
        """
        if cut_short and self.on_kill is not None:
            self.on_kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.group is not None:
            self.group.kill()


def _start(
    command: list[str],
    env: Mapping[str, str],
    cwd: str | None,
    pass_fds: Sequence[int],
    stdin: bytes | None,
    preexec_fn: Callable[[], None] | None,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        preexec_fn=preexec_fn,
    )


def _exited(pid: int) -> bool:
    """The process has exited (it stays a zombie: its pid is not reused until reaped)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _feed_stdin(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except OSError:  # the program exited or closed its stdin early
        pass


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


_STDERR_HINTS: tuple[tuple[bytes, LimitHit], ...] = (
    (b"File too large", "file_size"),
    (b"MemoryError", "memory"),
    (b"Cannot allocate memory", "memory"),
    (b"Too many open files", "open_files"),
    (b"Resource temporarily unavailable", "processes"),
)


def classify(outcome: Outcome, sig: int | None, limits: Limits) -> LimitHit | None:
    """Best-effort name of the limit that ended the run (kernel signals first, then stderr)."""
    if outcome.timed_out:
        return "wall_time"
    if outcome.output_exceeded:
        return "output"
    if outcome.cpu_exceeded:
        return "cpu"
    if outcome.oom_killed:
        return "memory"
    # With soft == hard the kernel ends a CPU hog with SIGKILL; rusage (tick-sampled) can report
    # noticeably less than the limit the kernel enforced, hence the generous 0.5.
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and outcome.cpu_seconds >= limits.cpu_seconds * 0.5
    ):
        return "cpu"
    if sig == signal.SIGXFSZ:
        return "file_size"
    if outcome.returncode == 0 and sig is None:
        return None
    tail = outcome.stderr[-4096:]
    hint = next((hit for marker, hit in _STDERR_HINTS if marker in tail), None)
    return hint or ("processes" if outcome.pids_refused else None)
