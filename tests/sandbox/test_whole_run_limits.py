"""Limits bind the whole run, not each process (issue 20, items 3 and 9).

Where this machine gives a writable cgroup (`accord.sandbox.cgroup.detect()`), memory spread
over many processes or held in memfd pages, CPU burnt by short-lived detached workers, and (as
root, in unsafe-local runs) processes all count against the run's one limit, and a `setsid`
grandchild of an unsafe-local run does not outlive it. Without a cgroup the result says plainly
that only per-process rlimits apply.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid

import pytest

from accord.sandbox import UnsafeLocalSandbox
from accord.sandbox.cgroup import detect
from tests.conftest import ROOT
from tests.sandbox.conftest import SMALL, MiB, report, wait_gone

needs_cgroup = pytest.mark.skipif(
    detect().version is None, reason=f"no usable cgroup here: {detect().reason}"
)
TIGHT = dataclasses.replace(SMALL, memory_bytes=64 * MiB, wall_seconds=60, cpu_seconds=30)

# 8 children each take and touch 24 MiB (under the 64 MiB per-process limit), then stop
# (SIGSTOP: they keep the memory and use no CPU). Held at once: the children still stopped.
ALLOCATORS = """
import json, os, signal
kids = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (24 << 20)
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    kids.append(pid)
stopped = [pid for pid in kids if os.WIFSTOPPED(os.waitpid(pid, os.WUNTRACED)[1])]
alive = [pid for pid in stopped if os.waitpid(pid, os.WNOHANG) == (0, 0)]
print(json.dumps({"held_mib": 24 * len(alive)}), flush=True)
"""


@needs_cgroup
def test_many_allocating_children_share_one_memory_limit(run) -> None:
    result = run(ALLOCATORS, limits=TIGHT)
    held = report(result)["held_mib"]
    assert held <= 64, f"{held} MiB held at once under a 64 MiB limit"
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes <= 64 * MiB


MEMFD = """
import json, os
fd = os.memfd_create("hog")
chunk = b"x" * (8 << 20)
for i in range(1, 26):  # 200 MiB of shared-memory pages: not address space, not a file limit
    os.write(fd, chunk)
    print(json.dumps({"written_mib": 8 * i}), flush=True)
"""


@needs_cgroup
def test_memfd_pages_count_against_the_memory_limit(run) -> None:
    result = run(MEMFD, limits=dataclasses.replace(TIGHT, file_size_bytes=512 * MiB))
    assert report(result)["written_mib"] <= 64
    assert result.limit_hit == "memory" and not result.ok


# Detached workers (double fork) each burn 0.8 s of CPU, under the per-process limit of 2 s,
# report and then stop: no one ever waits for them, so rusage never sees their time.
WORKERS = """
import os, signal, time
r, w = os.pipe()
for _ in range(6):
    if os.fork() == 0:
        if os.fork() == 0:
            start = time.process_time()
            while time.process_time() - start < 0.8:
                pass
            os.write(w, b"1")
            os.close(w)
            os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    os.wait()
os.close(w)
done = b""
while chunk := os.read(r, 6):
    done += chunk
print(len(done), "workers done", flush=True)
"""


@needs_cgroup
def test_short_lived_workers_share_one_cpu_limit(run) -> None:
    limits = dataclasses.replace(TIGHT, cpu_seconds=2)
    result = run(WORKERS, limits=limits)
    assert result.limit_hit == "cpu", (result.stdout, result.stderr)
    assert result.cpu_seconds >= limits.cpu_seconds  # the workers' time is reported


def test_result_says_what_bounded_the_run(sandbox) -> None:
    result = sandbox.run(["true"], limits=SMALL)
    if detect().version:
        assert result.enforcement.startswith(f"cgroup {detect().version}")
    else:
        assert result.enforcement.startswith("rlimits per process only")


def test_without_cgroups_the_result_says_so() -> None:
    code = (
        "from accord.sandbox import open_sandbox\n"
        "for unsafe in (False, True):\n"
        "    print(open_sandbox(unsafe_local=unsafe).run(['true']).enforcement)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCORD_SANDBOX_CGROUPS": "off"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    boxed, local = done.stdout.splitlines()
    assert boxed.startswith("rlimits per process only (no cgroup: disabled")
    assert "processes that leave the session are not killed" in local
    if os.geteuid() == 0:
        assert "the process limit does not bind root" in local


# --- unsafe-local (item 9) ---------------------------------------------------------------------


@needs_cgroup
def test_unsafe_local_setsid_grandchild_does_not_outlive_the_run(tmp_path) -> None:
    marker = f"accord-escapee-{uuid.uuid4().hex}"
    target = tmp_path / "written-after-the-run"
    code = f"""
import os, subprocess, sys
# a daemon that keeps writing a host file, in a new session, its output not on our pipes
daemon = ("import time\\nwhile True:\\n    open({str(target)!r}, 'a').write('x')\\n"
          "    time.sleep(0.05)")
subprocess.Popen([sys.executable, "-c", daemon, {marker!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not os.path.exists({str(target)!r}):
    pass
print("daemon started")
"""
    result = UnsafeLocalSandbox().run(python_code=code, limits=dataclasses.replace(SMALL))
    assert result.ok and result.text == "daemon started\n", result.stderr
    assert wait_gone(marker, seconds=10) == []


@needs_cgroup
@pytest.mark.skipif(os.geteuid() != 0, reason="the rlimit already binds a normal user")
def test_unsafe_local_process_limit_binds_root() -> None:
    code = """
import json, os, time
made = 0
try:
    while made < 100:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        made += 1
except OSError:
    pass
print(json.dumps({"made": made}))
"""
    limits = dataclasses.replace(SMALL, max_processes=8)
    result = UnsafeLocalSandbox().run(python_code=code, limits=limits)
    assert report(result)["made"] < limits.max_processes
