"""Escape suite, resources: processes, memory, CPU, wall time, output and file size are bounded."""

from __future__ import annotations

import dataclasses
import os
import uuid

from tests.sandbox.conftest import SMALL, MiB, report, wait_gone


def test_fork_bomb_is_capped(run) -> None:
    marker = f"accord-bomb-{uuid.uuid4().hex}"
    code = """
import json, os, sys, time
made = 0
try:
    while made < 10_000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        made += 1
    print(json.dumps({"made": made, "blocked": False}))
except OSError as exc:
    print(json.dumps({"made": made, "blocked": True}))
"""
    result = run(code, marker)
    out = report(result)
    assert out["blocked"] is True and out["made"] < SMALL.max_processes
    assert not result.timed_out
    assert wait_gone(marker) == []


def test_fork_bomb_exponential_is_contained(run) -> None:
    marker = f"accord-bomb-{uuid.uuid4().hex}"
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    limits = dataclasses.replace(SMALL, wall_seconds=2)
    result = run(code, marker, limits=limits)
    assert result.limit_hit in ("wall_time", "cpu")
    assert wait_gone(marker) == []


def test_memory_bomb_hits_the_limit(run) -> None:
    code = """
import json
chunks = []
try:
    while len(chunks) < 200:
        chunks.append(bytearray(16 * 1024 * 1024))
    print(json.dumps({"mib": 16 * len(chunks)}))
except MemoryError:
    print(json.dumps({"mib": 16 * len(chunks)}))
    raise
"""
    result = run(code)
    assert report(result)["mib"] < SMALL.memory_bytes // MiB
    assert result.limit_hit == "memory" and result.exit_code != 0


def test_cpu_spin_is_killed(run) -> None:
    limits = dataclasses.replace(SMALL, cpu_seconds=1, wall_seconds=10)
    result = run("while True:\n    pass\n", limits=limits)
    assert result.limit_hit == "cpu" and not result.timed_out
    assert 0.8 <= result.cpu_seconds < 2.5


def test_sleep_past_timeout_is_killed(run) -> None:
    limits = dataclasses.replace(SMALL, wall_seconds=1)
    result = run("import time\nprint('started', flush=True)\ntime.sleep(60)\n", limits=limits)
    assert result.timed_out and result.limit_hit == "wall_time"
    assert result.stdout == b"started\n"
    assert result.wall_seconds >= 1


def test_unbounded_output_is_capped(run) -> None:
    result = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert result.stdout_truncated and result.limit_hit == "output"
    assert len(result.stdout) == SMALL.output_bytes


def test_unbounded_stderr_is_capped(run) -> None:
    result = run("import sys\nwhile True:\n    sys.stderr.write('e' * 4096)\n")
    assert result.stderr_truncated and not result.stdout_truncated
    assert len(result.stderr) == SMALL.output_bytes


def test_huge_file_is_capped(run) -> None:
    code = """
import json
written = 0
try:
    with open("big.bin", "wb") as f:
        for _ in range(64):
            f.write(b"\\0" * (1 << 20))
            f.flush()
            written += 1 << 20
except OSError as exc:
    print(json.dumps({"written": written, "errno": exc.errno}))
    raise
"""
    result = run(code)
    out = report(result)
    assert out["written"] <= SMALL.file_size_bytes and out["errno"] == 27  # EFBIG
    assert result.limit_hit == "file_size"


def test_work_dir_is_size_capped(run) -> None:
    code = """
import json
made = 0
try:
    for i in range(64):  # each file stays under the file-size limit; together they do not fit
        with open(f"f{i}", "wb") as f:
            f.write(b"\\0" * ((1 << 20) - 1))
        made += 1
    print(json.dumps({"made": made, "errno": None}))
except OSError as exc:
    print(json.dumps({"made": made, "errno": exc.errno}))
"""
    out = report(run(code))
    assert out["errno"] == 28 and out["made"] <= SMALL.workdir_bytes // MiB  # ENOSPC


def test_open_files_are_capped(run) -> None:
    code = """
import json
files = []
try:
    while len(files) < 10_000:
        files.append(open("/dev/null"))
except OSError as exc:
    print(json.dumps({"open": len(files), "errno": exc.errno}))
"""
    out = report(run(code))
    assert out["errno"] == 24 and out["open"] < SMALL.open_files  # EMFILE


def test_process_limit_is_per_run_and_runs_are_apart(run) -> None:
    from concurrent.futures import ThreadPoolExecutor

    code = """
import json, os, time
kids = []
for _ in range(10):  # 11 processes with this one: two runs together exceed max_processes
    pid = os.fork()
    if pid == 0:
        time.sleep(1.5)
        os._exit(0)
    kids.append(pid)
seen = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
for pid in kids:
    os.waitpid(pid, 0)
print(json.dumps({"uid": os.getuid(), "seen": len(seen)}))
"""
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: run(code), range(2))
    a, b = report(first), report(second)
    assert first.ok and second.ok, (first.stderr, second.stderr)
    assert a["seen"] <= 12 and b["seen"] <= 12  # each sees its own processes only
    if os.geteuid() == 0:
        assert a["uid"] != b["uid"]
