"""Showing untrusted text on a terminal: control characters become visible escapes.

Program output and model answers can carry terminal escape sequences that forge output lines,
retitle the window or write the clipboard (OSC 52). `visible` keeps newline and tab and turns
every other control character (C0, DEL, C1), the bidirectional overrides that reorder what is
shown, and the Unicode line separators into `\\x1b`-style escapes, so what is printed is what
was sent, one character for one escape.
"""

from __future__ import annotations

import re

BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI}\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` safe to print on a terminal: control characters other than \\n and \\t escaped.

    A Windows line end (\\r\\n) is shown as a plain newline; any other \\r is escaped.
    """
    return _CONTROL.sub(_escape, text.replace("\r\n", "\n"))


def visible_bytes(data: bytes) -> str:
    """`visible` of bytes decoded as UTF-8 (invalid bytes shown as U+FFFD)."""
    return visible(data.decode("utf-8", "replace"))
