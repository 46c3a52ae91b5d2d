"""A cgroup per sandbox run: memory, process and CPU limits on the whole run, killed as a unit.

rlimits bind each process alone: many children, or shared-memory pages, add up to many times
the memory limit, and short-lived workers each stay under the CPU limit. A cgroup bounds the
run's processes together. `detect()` finds what this machine allows, without assuming:

- cgroup v2 with the memory and pids controllers usable below our own group: memory.max,
  memory.swap.max=0, pids.max, CPU time read from cpu.stat;
- cgroup v1 (memory and pids hierarchies writable): memory.limit_in_bytes (and memsw, no swap),
  pids.max, CPU time from cpuacct.usage, freezer for an atomic kill;
- neither (no cgroup filesystem, or not writable: usually not root): rlimits only, and the
  result's `enforcement` says so.

The CPU limit on the whole run is enforced by the supervisor, which polls the group's CPU time
(cgroups have no CPU-time cap, only a rate). A run's group is killed as a unit at its end, on
every error path, and, through one watchdog per process that outlives it, when the caller dies:
the watchdog then kills every group the process made (they are named accord-PID-*).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shlex
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from accord.sandbox.base import Limits
from accord.sandbox.watchdog import Watchdog

ROOT = Path("/sys/fs/cgroup")
V1_NEEDED = ("memory", "pids")
V1_OPTIONAL = ("cpuacct", "freezer")
V2_NEEDED = ("memory", "pids")
PREFIX = "accord-"


@dataclass(frozen=True)
class Support:
    """What cgroups this machine lets us use: a version and the parent folder per controller."""

    version: str | None  # "v1", "v2" or None
    parents: dict[str, Path] = field(default_factory=dict)
    reason: str = ""

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(self.parents)


def _own_paths() -> dict[str, str]:
    """Our cgroup path per v1 controller, and under "" the v2 one (from /proc/self/cgroup)."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path
    return paths


def _mounts() -> dict[str, Path]:
    """Mount point per v1 controller name, and under "" the cgroup2 mount."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = [*right.split(), "", "", ""][:3]
        point = Path(left.split()[4])
        if fstype == "cgroup2":
            found.setdefault("", point)
        elif fstype == "cgroup":
            for option in options.split(","):
                found.setdefault(option, point)
    return found


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


@functools.cache
def detect() -> Support:
    """The cgroup support usable by this process (checked once per process)."""
    if os.environ.get("ACCORD_SANDBOX_CGROUPS", "").lower() in ("0", "off", "no", "false"):
        return Support(None, reason="disabled by ACCORD_SANDBOX_CGROUPS")
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as exc:
        return Support(None, reason=f"cannot read the cgroup setup: {exc.strerror}")
    v2 = _detect_v2(mounts, own)
    if v2.version:
        return v2
    parents = {
        name: mounts[name] / own.get(name, "/").lstrip("/")
        for name in (*V1_NEEDED, *V1_OPTIONAL)
        if name in mounts
    }
    usable = {name: path for name, path in parents.items() if _writable(path)}
    missing = [name for name in V1_NEEDED if name not in usable]
    if not missing:
        return Support("v1", usable)
    why = v2.reason or "no cgroup2"
    return Support(None, reason=f"{why}; cgroup v1 {', '.join(missing)} not writable")


def _detect_v2(mounts: dict[str, Path], own: dict[str, str]) -> Support:
    if "" not in mounts or "" not in own:
        return Support(None, reason="no cgroup2 mount")
    parent = mounts[""] / own[""].lstrip("/")
    try:
        available = (parent / "cgroup.controllers").read_text().split()
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return Support(None, reason="cgroup2 not readable")
    missing = [name for name in V2_NEEDED if name not in available]
    if missing or not _writable(parent):
        return Support(None, reason=f"cgroup2 lacks {', '.join(missing) or 'write access'}")
    if any(name not in enabled for name in V2_NEEDED):
        # enabling controllers for children fails while our own group holds processes
        return Support(None, reason="cgroup2 controllers not delegated to child groups")
    wanted = [n for n in (*V2_NEEDED, "cpu") if n in available]
    return Support("v2", {name: parent for name in wanted})


class RunGroup:
    """The cgroup(s) of one run: created with the run's limits, killed and removed at its end."""

    def __init__(self, support: Support, limits: Limits, *, extra_processes: int = 0) -> None:
        self.support = support
        self.version = support.version
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        self.dirs: dict[str, Path] = {}
        for controller, parent in support.parents.items():
            folder = parent / name
            if folder not in self.dirs.values():
                folder.mkdir()
            self.dirs[controller] = folder
        try:
            self._set_limits(limits, extra_processes)
        except BaseException:
            self.remove()
            raise

    def _set_limits(self, limits: Limits, extra: int) -> None:
        pids = str(limits.max_processes + extra)
        memory = str(limits.memory_bytes)
        if self.version == "v2":
            folder = self.dirs["memory"]
            _write(folder / "memory.max", memory)
            _write(folder / "memory.swap.max", "0", missing_ok=True)
            _write(folder / "pids.max", pids)
            return
        memory_dir = self.dirs["memory"]
        _write(memory_dir / "memory.limit_in_bytes", memory)
        _write(memory_dir / "memory.memsw.limit_in_bytes", memory, missing_ok=True)
        _write(self.dirs["pids"] / "pids.max", pids)

    @property
    def description(self) -> str:
        """What the group bounds, for the result and the docs."""
        parts = ["memory", "processes"]
        if self.cpu_seconds() is not None:
            parts.append("cpu time")
        return f"cgroup {self.version} ({', '.join(parts)} of the whole run)"

    def join_command(self) -> list[str]:
        """A prefix that moves the command into the group before it execs (so all it spawns is)."""
        files = sorted({str(folder / "cgroup.procs") for folder in self.dirs.values()})
        moves = " && ".join(f"echo $$ > {shlex.quote(f)}" for f in files)
        script = f'{moves} || {{ echo "accord-cgroup: cannot join" >&2; exit 125; }}; exec "$@"'
        return ["/bin/sh", "-c", script, "sh"]

    def watch(self) -> None:
        """Make sure this process's watchdog runs: it kills every group of ours if we die."""
        _watch(self.support)

    def pids(self) -> list[int]:
        """Every process in the group now."""
        found: set[int] = set()
        for folder in self.dirs.values():
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the group (frozen first where a freezer allows)."""
        if self.version == "v2" and _write(self.dirs["memory"] / "cgroup.kill", "1", True):
            self._wait_empty()
            return
        freezer = self.dirs.get("freezer")
        for _ in range(100):
            if freezer:
                _write(freezer / "freezer.state", "FROZEN", missing_ok=True)
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if freezer:
                _write(freezer / "freezer.state", "THAWED", missing_ok=True)
            if not pids:
                return
            time.sleep(0.01)

    def _wait_empty(self) -> None:
        for _ in range(200):
            if not self.pids():
                return
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the folders (idempotent)."""
        self.kill()
        for folder in self.dirs.values():
            for _ in range(50):  # rmdir fails until the killed tasks have fully exited
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process of the run so far, dead or alive (None: unknown)."""
        if self.version == "v2":
            stat = _read(self.dirs["memory"] / "cpu.stat")
            for line in (stat or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
            return None
        if "cpuacct" not in self.dirs:
            return None
        usage = _read(self.dirs["cpuacct"] / "cpuacct.usage")
        return int(usage) / 1e9 if usage else None

    def memory_peak(self) -> int | None:
        """The most memory the run held at once, in bytes."""
        name = "memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"
        value = _read(self.dirs["memory"] / name)
        return int(value) if value and value.strip().isdigit() else None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run for exceeding the memory limit."""
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        return _counts(self.dirs["memory"] / name).get("oom_kill", 0) > 0

    def pids_refused(self) -> bool:
        """Whether a fork was refused because the run reached its process limit."""
        return _counts(self.dirs["pids"] / "pids.events").get("max", 0) > 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _counts(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines) as numbers."""
    pairs = (line.split() for line in (_read(path) or "").splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def _write(path: Path, value: str, missing_ok: bool = False) -> bool:
    """Write a control file; False (or the error, unless missing_ok) when the kernel refuses."""
    try:
        path.write_text(value)
        return True
    except OSError:
        if missing_ok:
            return False
        raise


_WATCHED: dict[int, Watchdog] = {}  # pid -> its watchdog (a forked child needs its own)
_WATCH_LOCK = threading.Lock()


def _watch(support: Support) -> None:
    """One watchdog per process (started on its first run) covers all of its runs' groups."""
    with _WATCH_LOCK:
        if os.getpid() not in _WATCHED:
            _WATCHED[os.getpid()] = Watchdog(_sweep_script(support, os.getpid()))


def _sweep_script(support: Support, pid: int) -> str:
    """Shell commands that kill and remove every group process `pid` made (accord-PID-*)."""
    parents = sorted({shlex.quote(str(p)) for p in support.parents.values()})
    groups = " ".join(f"{parent}/{PREFIX}{pid}-*" for parent in parents)
    freezer = support.parents.get("freezer")
    states = f"{shlex.quote(str(freezer))}/{PREFIX}{pid}-*/freezer.state" if freezer else ""
    freeze = f'for f in {states}; do echo FROZEN > "$f"; done 2>/dev/null; ' if states else ""
    thaw = f'for f in {states}; do echo THAWED > "$f"; done 2>/dev/null; ' if states else ""
    return (
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
        f'{freeze}p=$(for g in {groups}; do cat "$g/cgroup.procs"; done 2>/dev/null); '
        f'[ -n "$p" ] && kill -9 $p 2>/dev/null; {thaw}'
        f'[ -z "$p" ] && break; sleep 0.05; done; rmdir {groups} 2>/dev/null; exit 0'
    )


@contextlib.contextmanager
def run_group(limits: Limits, *, extra_processes: int = 0) -> Iterator[tuple[RunGroup | None, str]]:
    """A group for one run and what bounds it, removed (killed) on every way out.

    Without usable cgroups: (None, what is enforced instead).
    """
    support = detect()
    if support.version is None:
        yield None, f"rlimits per process only (no cgroup: {support.reason})"
        return
    try:
        group = RunGroup(support, limits, extra_processes=extra_processes)
    except OSError as exc:
        yield None, f"rlimits per process only (cgroup setup failed: {exc.strerror})"
        return
    try:
        yield group, group.description
    finally:
        group.remove()
