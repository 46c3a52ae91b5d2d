"""The default sandbox: bubblewrap with every namespace unshared and a tmpfs work dir.

Layout inside: read-only /usr (plus the /bin, /lib, ... symlinks), the dynamic loader cache, the
real install of the running Python (read-only, at its own path; not the venv, not the project),
fresh /proc and /dev, size-capped private tmpfs for /tmp, /dev/shm and /work, /work holding only
the caller's files. Nothing else of the host is visible: not the project, not the home directory,
not the ledger. The environment is rebuilt from scratch. Network, pid, ipc, uts and cgroup
namespaces are always new.

Identity: as root, no user namespace is needed: the program is dropped (setpriv) to a fresh
unprivileged host uid per run with no capabilities, so RLIMIT_NPROC binds per run and no root
process is reachable; as a normal user, a user namespace is unshared and nested ones disabled.
Either way a seccomp filter (seccomp.py) blocks namespace, mount, module and tracing calls.
Limits are set with prlimit right before the program starts, so they bind everything it spawns,
and where the machine allows, a cgroup per run (cgroup.py) bounds the memory, processes and CPU
time of the whole run together.

Death: the sandbox dies with its caller on every path. pid 1 of the namespace gets SIGKILL when
bwrap dies (bwrap dies with the caller: --die-with-parent), and the kernel then kills every
process in the namespace; a watchdog kills the run's cgroup if the caller dies; Ctrl-C, errors
and limits kill the namespace, the session and the cgroup from `supervise`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from accord.errors import SandboxRefused
from accord.sandbox.base import Files, Limits, SandboxResult, sandboxes
from accord.sandbox.cgroup import run_group
from accord.sandbox.process import classify, supervise
from accord.sandbox.program import Interpreter, build_command, host_interpreter
from accord.sandbox.seccomp import build_filter

WORK = "/work"
# As root, each run gets its own unprivileged host uid from a range no account uses, so the
# process limit (counted per uid) is per run and concurrent runs cannot see or signal each other.
RUN_UIDS = range(0x7F000000, 0x7FFF0000)
NAMESPACES = (
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
)
SESSION = ("--die-with-parent", "--new-session", "--as-pid-1", "--hostname", "sandbox")
SYSTEM = (
    *("--ro-bind", "/usr", "/usr"),
    # /bin, /lib, ... as on the host: symlinks into /usr (merged /usr) or read-only binds
    *(
        item
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
        for item in (
            ("--symlink", os.readlink(top), top)
            if os.path.islink(top)
            else ("--ro-bind-try", top, top)
        )
    ),
    *("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"),
    *("--ro-bind-try", "/etc/alternatives", "/etc/alternatives"),
    *("--proc", "/proc", "--dev", "/dev"),
)
HELPERS = ("/usr/bin/prlimit", "/usr/bin/setpriv")
# pid 1 of the sandbox: a shell that waits for the program, so the program is not a namespace
# init (whose default signal actions the kernel ignores) and its CPU time reaches our wait4.
# It runs before the uid drop, as bwrap's own uid: bwrap's parent-death signal (set by
# --die-with-parent) needs the right to signal it, and when it dies the kernel kills every
# process of the namespace. (As the dropped uid it would not receive that signal: bwrap has
# given up CAP_KILL, and the whole sandbox outlived a killed caller.)
INIT = ("/bin/sh", "-c", '"$@"; exit $?', "sh")
# bubblewrap's own processes in the run's cgroup, next to the program's max_processes
BWRAP_PROCESSES = 3
SECCOMP = build_filter()
FIX = "install it with `make system-deps` (or `apt-get install bubblewrap`)"
FIX_SETUP = "check the file names passed to the sandbox, and that bwrap works on this machine"


@sandboxes.register("bubblewrap")
class BubblewrapSandbox:
    """Runs programs under bubblewrap; refuses (SandboxRefused) when bubblewrap is unusable."""

    name = "bubblewrap"

    def __init__(self, *, bwrap: str | None = None, uid: int | None = None) -> None:
        self.bwrap = (shutil.which("bwrap") or "") if bwrap is None else bwrap
        self.uid = uid
        self.interpreter = host_interpreter()

    def check(self) -> None:
        """Raise SandboxRefused unless bubblewrap can start a sandbox on this machine."""
        if not self.bwrap:
            raise SandboxRefused("bubblewrap", "bwrap is not installed", hint=FIX)
        missing = [h for h in HELPERS if not os.access(h, os.X_OK)]
        if missing:
            raise SandboxRefused(
                "bubblewrap", f"missing {', '.join(missing)}", hint="install util-linux"
            )
        problem = _probe(self.bwrap, os.geteuid() == 0)
        if problem:
            raise SandboxRefused(
                "bubblewrap",
                f"bwrap cannot create a sandbox here: {problem}",
                hint="enable unprivileged user namespaces, or run with "
                "--unsafe-local to accept running without isolation",
            )

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python_code: str | None = None,
        files: Files | None = None,
        limits: Limits | None = None,
        stdin: bytes | None = None,
    ) -> SandboxResult:
        """Run `argv` (or `python_code` as main.py) in a fresh sandbox; see the module docs."""
        limits = limits or Limits()
        command, content = build_command(argv, python_code, files, self.interpreter.executable)
        self.check()
        fds = [_memfd(name, data) for name, data in content.items()]
        info_r, info_w = os.pipe()
        os.set_blocking(info_r, False)
        extra = [info_w]
        options = ["--info-fd", str(info_w)]
        if SECCOMP is not None:
            extra.append(_memfd("seccomp", SECCOMP))
            options += ["--seccomp", str(extra[-1])]
        try:
            outer = [
                self.bwrap,
                *options,
                *self._layout(limits, content, fds),
                "--",
                *INIT,
                *self._identity(),
                *_prlimit(limits),
                *command,
            ]
            with run_group(limits, extra_processes=BWRAP_PROCESSES) as (group, enforcement):
                outcome = supervise(
                    outer,
                    limits=limits,
                    env={"PATH": "/usr/bin:/bin"},
                    pass_fds=[*fds, *extra],
                    stdin=stdin,
                    on_kill=lambda: _kill_namespace(info_r),
                    group=group,
                )
        finally:
            for fd in [*fds, *extra, info_r]:
                os.close(fd)
        if outcome.returncode == 1 and outcome.stderr.startswith(b"bwrap: "):
            # bwrap itself failed to build the sandbox: the program never ran
            reason = outcome.stderr.decode(errors="replace").splitlines()[0]
            raise SandboxRefused("bubblewrap", reason, hint=FIX_SETUP)
        sig = _signal_of(outcome.returncode)
        return SandboxResult(
            exit_code=-sig if sig else outcome.returncode,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            stdout_truncated=outcome.stdout_truncated,
            stderr_truncated=outcome.stderr_truncated,
            timed_out=outcome.timed_out,
            limit_hit=classify(outcome, sig, limits),
            signal=sig,
            cpu_seconds=outcome.cpu_seconds,
            wall_seconds=outcome.wall_seconds,
            isolation="bubblewrap",
            argv=tuple(command),
            memory_peak_bytes=outcome.memory_peak_bytes,
            enforcement=enforcement,
        )

    def _layout(self, limits: Limits, content: dict[str, bytes], fds: list[int]) -> list[str]:
        """bwrap options: namespaces, read-only system, interpreter, tmpfs dirs, files, env."""
        args = [*NAMESPACES, *SESSION, *_userns(), *SYSTEM, *_interpreter_binds(self.interpreter)]
        for folder in ("/tmp", "/dev/shm", WORK):  # each a private tmpfs of workdir_bytes
            args += ["--perms", "1777", "--size", str(limits.workdir_bytes), "--tmpfs", folder]
        for folder in _folders(content):
            args += ["--perms", "0777", "--dir", f"{WORK}/{folder}"]
        for (name, _), fd in zip(content.items(), fds, strict=True):
            args += ["--perms", "0777", "--file", str(fd), f"{WORK}/{name}"]
        args += ["--chdir", WORK, "--clearenv", *_env(self.interpreter)]
        return args

    def _identity(self) -> list[str]:
        """As root: drop to an unprivileged host uid with no capabilities before the program."""
        if os.geteuid() != 0:
            return []
        uid = self.uid if self.uid is not None else RUN_UIDS[secrets.randbelow(len(RUN_UIDS))]
        return [
            "/usr/bin/setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            # the program dies with pid 1 (which the kernel's namespace kill also ensures)
            "--pdeathsig=SIGKILL",
            "--",
        ]


def _userns() -> list[str]:
    if os.geteuid() == 0:
        # CAP_SETUID/SETGID only reach setpriv, which gives them up before exec'ing the program.
        return ["--cap-add", "CAP_SETUID,CAP_SETGID"]
    return ["--unshare-user", "--disable-userns"]


def _interpreter_binds(interp: Interpreter) -> list[str]:
    """Read-only bind of the Python install; parent dirs made traversable (not the host's)."""
    prefix = PurePosixPath(interp.prefix)
    if prefix == PurePosixPath("/usr") or PurePosixPath("/usr") in prefix.parents:
        return []
    args: list[str] = []
    for parent in reversed(prefix.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return [*args, "--ro-bind", str(prefix), str(prefix)]


def _env(interp: Interpreter) -> list[str]:
    values = {
        "PATH": f"{interp.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": WORK,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    return [item for key, value in values.items() for item in ("--setenv", key, value)]


def _prlimit(limits: Limits) -> list[str]:
    return [
        "/usr/bin/prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.max_processes}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _folders(content: dict[str, bytes]) -> list[str]:
    """Sub-folders the files need, parents first."""
    found = {str(p) for name in content for p in PurePosixPath(name).parents if str(p) != "."}
    return sorted(found, key=lambda f: (f.count("/"), f))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(Path(name).name or "file")
    _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _kill_namespace(info_fd: int) -> None:
    """SIGKILL the sandbox's pid 1 (named by bwrap's --info-fd): the kernel then kills every
    process in its pid namespace. Needed because the program runs in its own session, and its
    parent-death signal does not reliably fire for a namespace's init."""
    try:
        info = os.read(info_fd, 65536).decode(errors="replace")
    except BlockingIOError:
        return
    match = re.search(r'"child-pid"\s*:\s*(\d+)', info)
    if match:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(match.group(1)), signal.SIGKILL)


def _signal_of(returncode: int) -> int | None:
    """bwrap reports a program killed by signal N as 128+N; bwrap itself killed shows as -N."""
    if returncode < 0:
        return -returncode
    if 128 < returncode < 128 + 65:
        return returncode - 128
    return None


@functools.cache
def _probe(bwrap: str, as_root: bool) -> str | None:
    """None when bwrap can start a sandbox, else its complaint (checked once per process)."""
    args = [
        bwrap,
        *NAMESPACES,
        *SESSION,
        *(["--unshare-user"] if not as_root else []),
        *SYSTEM,
        "--",
        "/usr/bin/true",
    ]
    try:
        done = subprocess.run(
            args, capture_output=True, timeout=10, env={"PATH": "/usr/bin"}, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
    return None
