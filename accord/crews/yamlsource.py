"""YAML reading that remembers where every value came from, for `path:line:col` errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000

Loc = tuple[str | int | float | None, ...]  # keys of a YAML mapping: any plain scalar


@dataclass
class MarkedDocument:
    """A parsed YAML document plus the (line, col) of every key path in it (1-based)."""

    path: str
    data: Any
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    value_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Loc, *, value: bool = False) -> tuple[int | None, int | None]:
        """The position of `loc` (its key, or its value when `value`), or of an ancestor."""
        for n in range(len(loc), -1, -1):
            if value and loc[:n] in self.value_marks:
                return self.value_marks[loc[:n]]
            if loc[:n] in self.marks:
                return self.marks[loc[:n]]
        return None, None

    def place(self, loc: Loc, *, value: bool = False) -> str:
        """`path:line:col: dotted.loc` for messages that are not errors (a listing)."""
        line, col = self.where(loc, value=value)
        at = f"{self.path}:{line}:{col}" if line is not None else self.path
        return f"{at}: {_dotted(loc)}" if loc else at

    def error(
        self, loc: Loc, message: str, hint: str | None = None, *, value: bool = False
    ) -> ConfigError:
        """A ConfigError placed at `loc` (at its value when `value`)."""
        line, col = self.where(loc, value=value)
        dotted = _dotted(loc)
        text = f"{dotted}: {message}" if dotted else message
        return ConfigError(text, path=self.path, line=line, col=col, hint=hint)


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def _dotted(loc: Loc) -> str:
    """`tasks[0].question`; keys that are not plain words are quoted: `policy['a b']`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(str(part)):
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_text(path: Path) -> str:
    """The file's text, with clear errors for a missing, huge, binary or non-UTF-8 file."""
    if path.is_dir():
        raise ConfigError(
            "is a directory, not a crew file", path=path, hint="pass the YAML file inside it"
        )
    if not path.exists():
        raise ConfigError("no such file", path=path, hint="check the path")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(
            f"file is {size / 1e6:.1f} MB; crew files are limited to "
            f"{MAX_BYTES // 1024 // 1024} MB",
            path=path,
            hint="move data into a source file (`sources:`)",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            path=path,
            line=line,
            col=col,
            hint="save the file as UTF-8",
        ) from None
    if not text.strip():
        raise ConfigError(
            "the file is empty",
            path=path,
            line=1,
            col=1,
            hint="a crew needs at least `name:` and `roles:`",
        )
    return text


def load_marked(path: str | Path) -> MarkedDocument:
    """Parse the YAML file at `path` into plain data with marks."""
    path = Path(path)
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(path, exc) from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        raise ConfigError(
            f"character #x{exc.character:04x} is not allowed in YAML",
            path=path,
            line=line,
            col=col,
            hint="remove it (control characters and NUL bytes cannot appear in a crew file)",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"invalid YAML: {' '.join(str(exc).split())}",
            path=path,
            line=1,
            col=1,
            hint="check the file is a YAML crew file",
        ) from None
    except RecursionError:
        raise _too_deep(path, text) from None
    doc = MarkedDocument(str(path), None)
    if node is None:
        raise ConfigError(
            "the file holds no YAML document",
            path=path,
            line=1,
            col=1,
            hint="a crew needs at least `name:` and `roles:`",
        )
    try:
        doc.data = _Builder(doc).build(node, ())
    except yaml.MarkedYAMLError as exc:  # a tag no safe constructor knows, e.g. `!python/...`
        raise _syntax_error(path, exc) from None
    except RecursionError:
        raise _too_deep(path, text) from None
    return doc


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _too_deep(path: Path, text: str) -> ConfigError:
    """Nesting deep enough to exhaust the parser's stack: placed where brackets pile up."""
    depth, offset = 0, 0
    for offset, char in enumerate(text):  # noqa: B007  (offset is used after the loop)
        depth += (char in "[{") - (char in "]}")
        if depth > 100:
            break
    line, col = _line_col(text, offset if depth > 100 else 0)
    return ConfigError(
        "values are nested too deeply",
        path=path,
        line=line,
        col=col,
        hint="crew files need only a few levels of nesting",
    )


def _syntax_error(path: Path, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    hint = "check indentation and quoting"
    if "\t" in problem or "'\\t'" in problem:
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "constructor for the tag" in problem:
        hint = "remove the `!tag`: crew files hold plain YAML values"
    elif "another document" in problem:
        hint = "a crew file holds one YAML document: remove the extra `---`"
    if exc.context:
        problem = f"{exc.context}, {problem}"
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    return ConfigError(f"YAML syntax error: {problem}", path=path, line=line, col=col, hint=hint)


class _Builder:
    """Turns composed nodes into Python values, counting nodes to stop alias bombs."""

    def __init__(self, doc: MarkedDocument) -> None:
        self.doc = doc
        self.count = 0
        self._scalar = yaml.SafeLoader("")

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.doc.error(
                loc,
                f"more than {MAX_NODES} values (an alias bomb?)",
                "expand fewer aliases; crew files are small",
            )
        position = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.doc.marks.setdefault(loc, position)
        self.doc.value_marks[loc] = position
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self._scalar.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.doc.error(
                    loc, "merge keys (`<<:`) are not supported", "write the keys out"
                )
            key = self._scalar.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise self.doc.error(loc, "keys must be plain scalars")
            key_loc = (*loc, key)
            mark = key_node.start_mark
            if key in out:
                self.doc.marks[key_loc] = (mark.line + 1, mark.column + 1)
                raise self.doc.error(
                    key_loc, f"duplicate key {key!r}", "each key may appear once in a mapping"
                )
            self.doc.marks[key_loc] = (mark.line + 1, mark.column + 1)
            out[key] = self.build(value_node, key_loc)
        return out
