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
) -> Outcome:
    """Run `argv` in its own session; kill the whole group on timeout or excess output.

    `on_kill` runs first when the run is cut short, for what the group kill cannot reach.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        preexec_fn=preexec_fn,
    )
    if stdin is not None:
        threading.Thread(target=_feed_stdin, args=(proc, stdin), daemon=True).start()
    out, err = _Capture(limits.output_bytes), _Capture(limits.output_bytes)
    timed_out, exceeded = _pump(proc, out, err, start + limits.wall_seconds)
    if timed_out or exceeded:
        if on_kill is not None:
            on_kill()
        _kill_group(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _close(proc)
    return Outcome(
        returncode=proc.returncode,
        stdout=out.value(),
        stderr=err.value(),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        timed_out=timed_out,
        output_exceeded=exceeded,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        wall_seconds=time.monotonic() - start,
    )


def _pump(
    proc: subprocess.Popen[bytes], out: _Capture, err: _Capture, deadline: float
) -> tuple[bool, bool]:
    """Read both pipes until EOF; (timed out, output cap exceeded)."""
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True, False
            for key, _ in sel.select(timeout=remaining):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                key.data.feed(data)
                if key.data.truncated:
                    return False, True
        return _wait_until(proc, deadline), False
    finally:
        sel.close()


def _wait_until(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Both pipes closed: wait for the exit itself, still bounded by the deadline."""
    while True:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.005)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


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
    return next((hit for marker, hit in _STDERR_HINTS if marker in tail), None)
