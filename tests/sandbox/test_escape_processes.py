"""Escape suite, processes and privileges: no survivors, no signals or ptrace out, no privilege."""

from __future__ import annotations

import os
import socket
import stat
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from tests.sandbox.conftest import report, wait_gone

LIBC = "import ctypes, ctypes.util, json, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def test_background_child_does_not_outlive_the_run(run) -> None:
    marker = f"accord-daemon-{uuid.uuid4().hex}"
    code = """
import os, subprocess, sys
if os.fork() == 0:           # double fork + setsid: a classic daemon
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)",
                                  sys.argv[1]])
    os._exit(0)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", sys.argv[1]],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("parent exits")
"""
    result = run(code, marker)
    assert result.exit_code == 0
    assert wait_gone(marker) == []


def test_background_child_killed_on_timeout(run) -> None:
    import dataclasses

    from tests.sandbox.conftest import SMALL

    marker = f"accord-daemon-{uuid.uuid4().hex}"
    code = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)", sys.argv[1]])
time.sleep(30)
"""
    result = run(code, marker, limits=dataclasses.replace(SMALL, wall_seconds=1))
    assert result.timed_out
    assert wait_gone(marker) == []


def test_killing_the_parent_and_host_processes_fails(run, victim: int) -> None:
    code = (
        LIBC
        + """
import signal
out = {}
for name, pid in (("host_test", int(sys.argv[1])), ("victim", int(sys.argv[2])),
                  ("parent", os.getppid())):
    try:
        os.kill(pid, signal.SIGKILL) if pid > 0 else None
        out[name] = "sent" if pid > 0 else "no parent"
    except OSError as exc:
        out[name] = exc.strerror
print(json.dumps(out), flush=True)
os.kill(-1, signal.SIGKILL)   # everything this uid may signal
"""
    )
    result = run(code, str(os.getpid()), str(victim))
    out = report(result)
    assert out["host_test"] != "sent" and out["victim"] != "sent"
    os.kill(victim, 0)  # still alive
    assert Path(f"/proc/{victim}").exists()


def test_ptrace_of_host_processes_fails(run, victim: int) -> None:
    code = (
        LIBC
        + """
PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206
out = {}
for pid in map(int, sys.argv[1:]):
    attached = libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0
    seized = libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0
    try:
        open(f"/proc/{pid}/mem", "rb").read(1)
        mem = True
    except OSError:
        mem = False
    out[str(pid)] = [attached, seized, mem]
print(json.dumps(out))
"""
    )
    out = report(run(code, str(victim), str(os.getpid()), str(os.getppid())))
    assert out == {str(pid): [False, False, False] for pid in (victim, os.getpid(), os.getppid())}
    assert "TracerPid:\t0" in Path(f"/proc/{victim}/status").read_text()


def test_mount_fails(run) -> None:
    code = (
        LIBC
        + """
os.mkdir("m")
CLONE_NEWNS, MS_REMOUNT, MS_BIND = 0x20000, 32, 4096
out = {
    "tmpfs": libc.mount(b"none", b"m", b"tmpfs", 0, None) == 0,
    "remount_usr_rw": libc.mount(None, b"/usr", None, MS_REMOUNT | MS_BIND, None) == 0,
    "umount_usr": libc.umount2(b"/usr", 2) == 0,
    "proc": libc.mount(b"proc", b"m", b"proc", 0, None) == 0,
    "new_mount_ns": libc.unshare(CLONE_NEWNS) == 0,
    "chroot": libc.chroot(b"/tmp") == 0,
}
print(json.dumps(out))
"""
    )
    out = report(run(code))
    assert out == {key: False for key in out}


def test_setuid_binaries_give_no_privilege(run) -> None:
    mount = Path("/usr/bin/mount")
    if not (mount.exists() and mount.stat().st_mode & stat.S_ISUID):
        pytest.skip("no setuid-root mount(8) on this host to try")
    code = """
import json, os, subprocess
os.mkdir("m")
done = subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "none", "m"], capture_output=True)
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
su = subprocess.run(["/usr/bin/su", "-c", "id -u"], capture_output=True, stdin=subprocess.DEVNULL)
print(json.dumps({"mount_rc": done.returncode, "uid": os.getuid(), "su_out": su.stdout.decode(),
                  "nnp": status["NoNewPrivs"].strip(), "capeff": status["CapEff"].strip()}))
"""
    out = report(run(code))
    assert out["mount_rc"] != 0 and out["su_out"].strip() != "0"
    assert out["nnp"] == "1" and int(out["capeff"], 16) == 0


def test_no_capabilities_and_not_root(run) -> None:
    code = """
import json
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
print(json.dumps({k: status[k].strip() for k in ("Uid", "CapEff", "CapPrm", "CapBnd",
                                                  "NoNewPrivs")}))
"""
    out = report(run(code))
    assert int(out["CapEff"], 16) == int(out["CapPrm"], 16) == int(out["CapBnd"], 16) == 0
    assert out["NoNewPrivs"] == "1"
    if os.geteuid() == 0:  # dropped to an unprivileged host uid, not a namespaced root
        assert "0" not in out["Uid"].split()


def test_hostname_change_fails(run) -> None:
    before = socket.gethostname()
    code = (
        LIBC
        + """
name = b"escaped-" + sys.argv[1].encode()
print(json.dumps({"set": libc.sethostname(name, len(name)) == 0,
                  "inside": __import__("socket").gethostname()}))
"""
    )
    out = report(run(code, uuid.uuid4().hex[:8]))
    assert out == {"set": False, "inside": "sandbox"}
    assert socket.gethostname() == before


def test_shared_library_from_workdir_never_reaches_host(run, tmp_path: Path) -> None:
    name = f"accordevil{uuid.uuid4().hex[:8]}"
    site = sysconfig.get_paths()["purelib"]
    base_site = sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"]
    code = """
import json, os, shutil, sys
name, targets = sys.argv[1], sys.argv[2:]
lib = f"lib{name}.so"
shutil.copy(os.path.realpath(sys.executable), lib)      # some ELF under an evil name
open("sitecustomize.py", "w").write("raise SystemExit('pwned')")
planted = []
for folder in targets:
    for fname in (lib, "sitecustomize.py", name + ".pth"):
        try:
            shutil.copy(lib if fname == lib else "sitecustomize.py", os.path.join(folder, fname))
            planted.append(os.path.join(folder, fname))
        except OSError:
            pass
print(json.dumps({"local": sorted(os.listdir(".")), "planted": planted}))
"""
    targets = [site, base_site, "/usr/lib", "/usr/local/lib", str(tmp_path), os.getcwd()]
    out = report(run(code, name, *targets))
    assert f"lib{name}.so" in out["local"]  # it did write the library, inside
    assert out["planted"] == []
    for folder in targets:
        assert not (Path(folder) / f"lib{name}.so").exists()
        assert not (Path(folder) / f"{name}.pth").exists()
    import ctypes.util

    assert ctypes.util.find_library(name) is None
    with pytest.raises(OSError):
        ctypes.CDLL(f"lib{name}.so")


def test_nested_namespaces_and_kernel_facilities_blocked(run) -> None:
    code = (
        LIBC
        + """
import subprocess
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
nested = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True)
out = {
    "unshare_user": libc.unshare(CLONE_NEWUSER) == 0,
    "unshare_net": libc.unshare(CLONE_NEWNET) == 0,
    "unshare_cmd": nested.returncode == 0 and nested.stdout.strip() == "0",
    "keyctl": libc.syscall(250, 0, 0, 0, 0, 0) >= 0,          # KEYCTL_GET_KEYRING_ID
    "bpf": libc.syscall(321, 0, 0, 0) >= 0,
    "io_uring": libc.syscall(425, 1, ctypes.create_string_buffer(120)) >= 0,
    "setns": libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0) == 0,
}
print(json.dumps(out))
"""
    )
    out = report(run(code))
    assert out == {key: False for key in out}
