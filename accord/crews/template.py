"""Task questions as templates: `{task_id}` is the answer of a dependency, filled in one pass.

An answer is inserted as it is, never read as a template again, so an answer that contains
`{other}` stays literal text. `{{name}}` writes a literal `{name}`. Braces that do not hold a
task id (JSON such as `{"a": 1}`, `{}`) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SLOT = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_.-]*)\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def placeholders(text: str) -> list[str]:
    """The names of the `{name}` slots in `text` (escaped `{{name}}` excluded), in order."""
    return [m.group(2) for m in _SLOT.finditer(text) if m.group(2) is not None]


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `{name}` in `values` replaced by its value, in one pass."""

    def fill(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped is not None:
            return "{" + escaped + "}"
        return values[name] if name in values else match.group(0)

    return _SLOT.sub(fill, text)
