"""How the UI writes numbers, money, rates, times and durations."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def short_number(value: float | None) -> str:
    """A compact figure: 1.2k, 3M, 0.004."""
    if value is None:
        return "-"
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:.3g}G"
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:,.0f}" if a >= 100 or float(value).is_integer() else f"{value:.3g}"


def usd(value: float | None) -> str:
    """Money with enough digits for fractions of a cent."""
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    if abs(value) < 1e-6:
        return f"${value:.2e}"
    if abs(value) < 0.01:  # three significant digits: $0.00125, $0.000045
        digits = 2 - math.floor(math.log10(abs(value)))
        return "$" + f"{value:.{digits}f}".rstrip("0")
    return f"${value:,.2f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A rate as a percentage."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def integer(value: Any) -> str:
    """A count with thousands separators."""
    return "-" if value is None else f"{int(value):,}"


def number(value: float | None, digits: int = 2) -> str:
    """A measurement such as a confidence or probability."""
    return "-" if value is None else f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    """Wall time: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def when(value: datetime | str | None) -> str:
    """A ledger timestamp (UTC) to the second."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value.replace("T", " ")[:19]
    return value.strftime("%Y-%m-%d %H:%M:%S")


def clip(text: Any, limit: int = 80) -> str:
    """One line of at most `limit` characters."""
    if text is None:
        return ""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tail(text: Any, limit: int = 48) -> str:
    """The end of a long path: what tells files apart."""
    text = str(text)
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


FILTERS = {
    "tail": tail,
    "short": short_number,
    "usd": usd,
    "pct": pct,
    "int": integer,
    "num": number,
    "duration": duration,
    "when": when,
    "clip": clip,
}
