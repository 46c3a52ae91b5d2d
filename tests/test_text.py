"""accord.text: untrusted text shown on a terminal cannot drive it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.text import visible, visible_bytes


def test_controls_become_visible_escapes_and_text_stays() -> None:
    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible("line\r\n") == "line\n"
    assert visible("\x1b]52;c;aGk=\x07") == "\\x1b]52;c;aGk=\\x07"
    assert visible("x\ry\x7f\x9b\u202e\u2028") == "x\\x0dy\\x7f\\x9b\\u202e\\u2028"
    assert visible("héllo — ✓") == "héllo — ✓"
    assert visible_bytes(b"\xff\x1b[2J") == "\ufffd\\x1b[2J"


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    shown = visible(text)
    assert all(c in "\n\t" or (c >= " " and not "\x7f" <= c <= "\x9f") for c in shown)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
