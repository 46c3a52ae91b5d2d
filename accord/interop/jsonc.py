"""JSON with comments (`//`, `/* */`) and trailing commas, as CrewAI's `*.jsonc` files use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from accord.errors import ConfigError

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def strip_comments(text: str) -> str:
    """`text` without comments; a comment marker inside a string is left alone."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            # keep line numbers right for error messages: one newline per one removed
            out.append("\n" * text.count("\n", i, n if end < 0 else end))
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _strip_trailing_commas(text: str) -> str:
    """Drop commas before `}` or `]` outside strings."""
    parts = re.split(r'("(?:[^"\\]|\\.)*")', text)
    return "".join(p if i % 2 else _TRAILING_COMMA.sub(r"\1", p) for i, p in enumerate(parts))


def loads(text: str, *, path: str | Path = "<jsonc>") -> Any:
    """Parse JSONC text; a syntax error becomes a ConfigError at `path:line:col`."""
    try:
        return json.loads(_strip_trailing_commas(strip_comments(text)))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON: {exc.msg}",
            path=path,
            line=exc.lineno,
            col=exc.colno,
            hint="check commas, quotes and brackets",
        ) from None


def load(path: str | Path) -> Any:
    """Parse the JSONC file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=path) from None
    return loads(text, path=path)
