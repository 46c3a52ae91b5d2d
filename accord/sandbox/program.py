"""What a run executes: the command line and the files placed in its work dir."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from accord.errors import ConfigError
from accord.sandbox.base import Files

MAIN = "main.py"
# -E: ignore PYTHON* variables, -s: no user site-packages, -u: unbuffered, so output written
# before a kill is captured. The script's folder stays on sys.path for the files passed with it.
PYTHON_FLAGS = ("-E", "-s", "-u")


@dataclass(frozen=True)
class Interpreter:
    """The real Python install behind this process (a venv's base), as the sandbox sees it."""

    executable: str
    prefix: str

    @property
    def bin_dir(self) -> str:
        return str(Path(self.executable).parent)


def host_interpreter() -> Interpreter:
    """The base install of the running Python: its binary and the prefix it needs (read-only)."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    if not exe.startswith(prefix + os.sep):
        exe = os.path.join(prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return Interpreter(executable=exe, prefix=prefix)


def normalize_files(files: Files | None) -> dict[str, bytes]:
    """Check file names (relative, no `..`) and encode text; a bad name is a ConfigError."""
    out: dict[str, bytes] = {}
    for name, content in (files or {}).items():
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or str(path) == "." or name.endswith("/"):
            raise ConfigError(
                f"sandbox file name {name!r} must be a relative path inside the work dir",
                hint="use names like 'solution.py' or 'pkg/mod.py'",
            )
        out[str(path)] = content.encode() if isinstance(content, str) else bytes(content)
    return out


def build_command(
    argv: Sequence[str] | None, python_code: str | None, files: Files | None, python: str
) -> tuple[list[str], dict[str, bytes]]:
    """The argv to exec and the work-dir files; `python_code` becomes main.py run by `python`."""
    normalized = normalize_files(files)
    if python_code is not None:
        if MAIN in normalized:
            raise ConfigError(
                f"sandbox file {MAIN!r} clashes with python_code",
                hint="rename the file or pass the code as a file",
            )
        normalized[MAIN] = python_code.encode()
        return [python, *PYTHON_FLAGS, MAIN, *(argv or ())], normalized
    if not argv:
        raise ConfigError("sandbox run needs argv or python_code")
    command = list(argv)
    if command[0] in ("python", "python3"):
        command[0:1] = [python, *PYTHON_FLAGS]
    return command, normalized
