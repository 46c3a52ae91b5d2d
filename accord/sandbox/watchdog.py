"""A watchdog that kills a run when its caller dies, however it dies (even by SIGKILL).

Signal handlers and `finally` do not run on SIGKILL, and a parent-death signal reaches only one
process. The watchdog is a small shell outside the run that blocks reading a pipe whose only
writer is the caller: the kernel closes that pipe when the caller dies, and the shell then runs
the kill commands it was given (kill the run's cgroup, or its process group). A run that ends
normally stops the watchdog first, so the commands never run against a reused pid.
"""

from __future__ import annotations

import contextlib
import os
import subprocess


class Watchdog:
    """Runs `script` (sh) when this process dies before `stop()`; `stop()` disarms it."""

    def __init__(self, script: str) -> None:
        read, self._pipe = os.pipe()  # both ends close-on-exec: no other child holds the pipe
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", f"read -r _ || true; {script}"],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on the terminal must not kill the watchdog
                env={"PATH": "/usr/bin:/bin"},
            )
        except BaseException:
            os.close(self._pipe)
            raise
        finally:
            os.close(read)

    def stop(self) -> None:
        """Disarm: end the watchdog without running its script (idempotent)."""
        if self._pipe < 0:
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        os.close(self._pipe)
        self._pipe = -1
        self._proc.wait()
