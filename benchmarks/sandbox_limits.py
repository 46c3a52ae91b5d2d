"""Whole-run limits, measured: hostile programs under rlimits only vs under the run's cgroup.

    python benchmarks/sandbox_limits.py [--sandbox bubblewrap|unsafe-local]

Runs each program twice in a fresh process, once with ACCORD_SANDBOX_CGROUPS=off (per-process
rlimits only, as before cgroups were used) and once with the cgroup this machine allows, under
a 64 MiB memory limit and a 2 s CPU limit, and prints what each run took and what was reported:
- allocators: 8 children each touching 24 MiB and holding it (MiB held at once);
- memfd: 200 MiB written into memfd pages (MiB written before the run was stopped);
- workers: 6 detached workers each burning 0.8 s of CPU (CPU time reported; limit hit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sandbox.test_whole_run_limits import ALLOCATORS, MEMFD, WORKERS  # noqa: E402

CHILD = """
import dataclasses, json, sys
from accord.sandbox import Limits, open_sandbox
MiB = 1 << 20
limits = Limits(wall_seconds=60, cpu_seconds=2, memory_bytes=64 * MiB, max_processes=16,
                file_size_bytes=512 * MiB)
box = open_sandbox(sys.argv[1])
result = box.run(python_code=sys.stdin.read(), limits=limits)
lines = result.text.strip().splitlines()
print(json.dumps({"last": lines[-1] if lines else "", "limit": result.limit_hit,
                  "cpu": result.cpu_seconds, "peak": result.memory_peak_bytes,
                  "enforcement": result.enforcement}))
"""


def measure(program: str, sandbox: str, cgroups: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not cgroups:
        env["ACCORD_SANDBOX_CGROUPS"] = "off"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, sandbox],
        input=program,
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def figure(name: str, out: dict) -> str:
    last = out["last"]
    if name == "allocators":
        value = f"{json.loads(last)['held_mib']} MiB held at once" if last else "no report"
    elif name == "memfd":
        value = f"{json.loads(last)['written_mib']} MiB written" if last else "nothing written"
    else:
        value = last or "no report"
    peak = f", peak {out['peak'] / (1 << 20):.0f} MiB" if out["peak"] else ""
    return f"{value}; limit hit {out['limit']}; cpu reported {out['cpu']:.2f} s{peak}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="bubblewrap", choices=["bubblewrap", "unsafe-local"])
    opts = parser.parse_args()
    programs = {"allocators": ALLOCATORS, "memfd": MEMFD, "workers": WORKERS}
    print(f"sandbox {opts.sandbox}; memory limit 64 MiB, cpu limit 2 s")
    for cgroups in (False, True):
        first = None
        for name, program in programs.items():
            out = measure(program, opts.sandbox, cgroups)
            if first is None:
                first = out["enforcement"]
                print(f"-- {first}")
            print(f"  {name:10} {figure(name, out)}")


if __name__ == "__main__":
    main()
