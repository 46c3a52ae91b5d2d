"""A seccomp filter (classic BPF, built here; no libseccomp) for the sandboxed program.

Defence in depth on top of the namespaces: the calls that manage namespaces, mounts, kernel
modules, keyrings, tracing and the clock fail with EPERM, and so does creating a user namespace
through clone(2), which the unprivileged uid could otherwise do. clone3(2) reports ENOSYS so the
C library falls back to clone(2), whose flags a classic filter can inspect. Other ABIs (i386,
x32) are refused outright. Built for x86_64; on other machines `build_filter` returns None and
the namespaces, dropped privileges and limits stand alone.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000

# x86_64 numbers (asm/unistd_64.h)
CLONE, CLONE3 = 56, 435
BLOCKED = {
    "ptrace": 101,
    "syslog": 103,
    "vhangup": 153,
    "pivot_root": 155,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
CLONE_NAMESPACES = (
    0x00020000
    | 0x02000000
    | 0x04000000
    | 0x08000000
    | 0x10000000
    | 0x20000000
    | 0x40000000
    | 0x00000080
)

# classic BPF opcodes and seccomp return values
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL_PROCESS, ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0: its low 32 bits)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter() -> bytes | None:
    """The filter program for bwrap --seccomp, or None on machines it is not written for."""
    if platform.machine() != "x86_64":
        return None
    deny = _op(RET, ERRNO | errno.EPERM)
    prog = [
        _op(LD_ABS, ARCH),
        _op(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        _op(RET, KILL_PROCESS),
        _op(LD_ABS, NR),
        _op(JGE, X32_BIT, 0, 1),
        deny,
    ]
    for number in sorted(BLOCKED.values()):
        prog += [_op(JEQ, number, 0, 1), deny]
    prog += [
        _op(JEQ, CLONE3, 0, 1),
        _op(RET, ERRNO | errno.ENOSYS),
        _op(JEQ, CLONE, 0, 3),
        _op(LD_ABS, ARG0),
        _op(JSET, CLONE_NAMESPACES, 0, 1),
        deny,
        _op(RET, ALLOW),
    ]
    return b"".join(prog)
