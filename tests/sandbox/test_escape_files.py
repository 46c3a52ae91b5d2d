"""Escape suite, files: no host secrets, no project, no home, no writes outside the work dir."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

import accord
from accord.errors import ConfigError
from tests.sandbox.conftest import report

PROJECT = Path(accord.__file__).resolve().parent.parent

PROBE = """
import json, sys
out = {}
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            out[path] = f.read(200).decode("latin-1")
    except OSError as exc:
        out[path] = None
print(json.dumps(out))
"""


def unreadable(result) -> None:
    out = report(result)
    leaked = {path: text for path, text in out.items() if text is not None}
    assert not leaked, f"read from inside the sandbox: {sorted(leaked)}"


def test_etc_shadow_unreadable(run) -> None:
    assert Path("/etc/shadow").exists()  # on the host it is there
    unreadable(run(PROBE, "/etc/shadow", "/etc/gshadow", "/etc/passwd", "/etc/sudoers"))


def test_project_tree_invisible(run) -> None:
    files = [
        __file__,
        accord.__file__,
        str(PROJECT / "pyproject.toml"),
        str(PROJECT / ".venv" / "pyvenv.cfg"),
        str(PROJECT / ".git" / "HEAD"),
    ]
    assert Path(files[2]).exists()
    unreadable(run(PROBE, *files))
    listing = "import json, os, sys; print(json.dumps(os.path.exists(sys.argv[1])))"
    assert report(run(listing, str(PROJECT))) is False


def test_ledger_invisible(run, tmp_path: Path) -> None:
    ledger = tmp_path / ".accord" / "ledger.duckdb"
    ledger.parent.mkdir()
    ledger.write_bytes(b"LEDGER-" + uuid.uuid4().hex.encode())
    unreadable(run(PROBE, str(ledger), str(PROJECT / ".accord" / "ledger.duckdb")))


def test_home_and_ssh_invisible(run) -> None:
    home = Path.home()
    canary = home / f".accord-escape-canary-{uuid.uuid4().hex}"
    canary.write_text("secret")
    try:
        unreadable(
            run(
                PROBE,
                str(canary),
                str(home / ".ssh" / "id_rsa"),
                str(home / ".ssh" / "id_ed25519"),
                str(home / ".bash_history"),
            )
        )
        code = "import json, os, sys; print(json.dumps(sorted(os.listdir(sys.argv[1]))))"
        inside = report(run(code, str(home)))
        # At most the path down to the Python install is visible, never the home's contents.
        assert set(inside) <= {
            Path(sys.base_prefix).relative_to(home).parts[0]
            if Path(sys.base_prefix).is_relative_to(home)
            else ""
        }
    finally:
        canary.unlink()


def test_proc1_environ_and_parent_env_hidden(run, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("ACCORD_ESCAPE_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    code = """
import glob, json, os
seen = [repr(dict(os.environ))]
for path in ["/proc/1/environ", "/proc/self/environ"] + glob.glob("/proc/[0-9]*/environ"):
    try:
        seen.append(open(path, "rb").read().decode("latin-1"))
    except OSError:
        pass
print(json.dumps({"env": sorted(os.environ), "seen": seen}))
"""
    result = run(code)
    assert secret.encode() not in result.stdout
    assert set(report(result)["env"]) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONUNBUFFERED",
        "PWD",
    }


def test_writes_outside_workdir_fail(run) -> None:
    name = f"accord-escape-{uuid.uuid4().hex}"
    targets = ["/usr", "/etc", "/", "/root", sys.base_prefix, str(PROJECT), "/proc/sys/kernel"]
    code = """
import json, os, sys
name, targets = sys.argv[1], sys.argv[2:]
wrote = []
for folder in targets:
    try:
        with open(os.path.join(folder, name), "w") as f:
            f.write("x")
        wrote.append(folder)
    except OSError:
        pass
with open("/tmp/" + name, "w") as f:  # the sandbox's own /tmp: allowed, and private
    f.write("x")
with open(name, "w") as f:
    f.write("x")
print(json.dumps(wrote))
"""
    out = report(run(code, name, *targets))
    assert out == []
    for folder in [*targets, "/tmp"]:
        assert not (Path(folder) / name).exists()


def test_symlinks_out_of_workdir(run, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret")
    code = """
import json, os, sys
out = {}
for i, target in enumerate(sys.argv[1:]):
    os.symlink(target, f"link{i}")
    try:
        out[target] = open(f"link{i}").read(100)
    except OSError:
        out[target] = None
os.symlink("/", "root")
out["listing"] = os.path.exists("root" + sys.argv[2])
print(json.dumps(out))
"""
    out = report(
        run(
            code,
            str(secret),
            str(PROJECT / "pyproject.toml"),
            "/etc/shadow",
            "/proc/1/root/etc/shadow",
        )
    )
    assert out.pop("listing") is False
    assert out == {key: None for key in out}


def test_dotdot_out_of_workdir(run) -> None:
    rel = "../" * 12
    paths = [
        rel + "etc/shadow",
        "/work/../etc/shadow",
        rel + str(PROJECT).lstrip("/") + "/pyproject.toml",
        "/proc/self/cwd/" + rel + "etc/shadow",
        "/proc/self/root/../../etc/shadow",
    ]
    unreadable(run(PROBE, *paths))


@pytest.mark.parametrize(
    "name", ["../escape.py", "/etc/cron.d/evil", "a/../../b", "", ".", "./", "sub/"]
)
def test_file_names_cannot_leave_workdir(sandbox, name: str) -> None:
    with pytest.raises(ConfigError):
        sandbox.run(["true"], files={name: b"x"})


def test_kernel_interfaces_hidden(run) -> None:
    code = """
import json, os
print(json.dumps({"sys": os.path.exists("/sys/kernel"), "dev": sorted(os.listdir("/dev")),
                  "kcore": os.access("/proc/kcore", os.R_OK),
                  "sysrq": os.access("/proc/sysrq-trigger", os.W_OK)}))
"""
    out = report(run(code))
    assert out["sys"] is False and out["kcore"] is False and out["sysrq"] is False
    assert not [d for d in out["dev"] if d.startswith(("sd", "nvme", "vd", "mem", "kmsg"))]
    assert os.path.exists("/sys/kernel")  # the host has it
