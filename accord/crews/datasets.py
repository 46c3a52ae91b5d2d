"""Labelled task files: BIG-bench JSON tasks and a simple JSONL format, read into items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from accord.errors import ConfigError
from accord.models.items import ANSWER_TYPES, AnswerType, is_answer_type
from accord.models.items import Item as Item  # re-exported: its home before the layers


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _strings(value: Any) -> tuple[str, ...]:
    """Accepted answers as strings: one value (`7`, `"seven"`) or a list of them; none for
    None. JSON numbers are targets too (`7` is "7", `0` is "0", not "no target")."""
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def _bigbench_item(
    task: dict[str, Any],
    index: int,
    example: Any,
    stem: str,
    prefer: AnswerType | None,
    path: Path,
    require_labels: bool,
) -> Item:
    def bad(problem: str) -> ConfigError:
        return ConfigError(
            f"examples[{index}]: {problem}",
            path=path,
            hint='each example is {"input": "...", "target": "..."} or with "target_scores"',
        )

    if not isinstance(example, dict):
        raise bad("is not a JSON object")
    if not isinstance(example.get("input"), (str, int, float)):
        raise bad("needs an `input` text")
    prefix = task.get("example_input_prefix") or ""
    text = f"{task.get('task_prefix') or ''}{prefix}{example['input']}".strip()
    scores = example.get("target_scores") or {}
    if not isinstance(scores, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values()
    ):
        raise bad("`target_scores` must map each option to a number")
    targets = _strings(example.get("target"))
    use_choices = bool(scores) and (prefer == "choice" or not targets)
    if use_choices:
        choices = tuple(str(c) for c in scores)
        best = max(scores.values())
        correct = tuple(str(c) for c, s in scores.items() if s == best and s > 0)
        if not correct and require_labels:
            raise bad("no option of `target_scores` scores above 0: nothing to grade against")
        return Item(f"{stem}-{index}", text, "choice", choices, correct)
    if not targets and require_labels:
        raise bad("has no `target` and no `target_scores`: nothing to grade against")
    kind = prefer or ("number" if targets and all(_is_number(t) for t in targets) else "text")
    return Item(f"{stem}-{index}", text, kind, (), targets)


MAX_JSON_BYTES = 64 * 1024 * 1024  # a BIG-bench file is parsed whole; JSONL is streamed
MAX_LINE_BYTES = 1024 * 1024


def load_items(
    path: str | Path, *, prefer: AnswerType | None = None, require_labels: bool = False
) -> list[Item]:
    """Items from a BIG-bench JSON task file or a JSONL file of {input, target|choices}.

    A BIG-bench file whose `preferred_score` is `multiple_choice_grade` is graded on its
    options (`target_scores`) even where examples also carry a `target` text.
    `require_labels` (a benchmark) refuses an item with nothing to grade it against.
    """
    return list(iter_items(path, prefer=prefer, require_labels=require_labels))


def iter_items(
    path: str | Path, *, prefer: AnswerType | None = None, require_labels: bool = False
) -> Iterator[Item]:
    """The items of `load_items`, one at a time: a JSONL file is read line by line, so taking
    the first N items of a huge file reads only those lines."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such task file", path=path, hint="check the path")
    stem = path.stem.replace("__", "-").replace(".", "-")
    if path.suffix == ".jsonl":
        yield from _iter_jsonl(path, stem)
        return
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ConfigError(
            f"task file is {size / 1e6:.0f} MB; a JSON task file is read whole and is limited "
            f"to {MAX_JSON_BYTES // 1024 // 1024} MB",
            path=path,
            hint="convert it to JSONL (one example per line), which is read line by line",
        )
    try:
        task = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON task file: {exc}", path=path) from None
    examples = task.get("examples") if isinstance(task, dict) else None
    if not isinstance(examples, list):
        raise ConfigError("a BIG-bench task file needs an `examples` list", path=path)
    if prefer is None and task.get("preferred_score") == "multiple_choice_grade":
        prefer = "choice"
    for i, ex in enumerate(examples):
        yield _bigbench_item(task, i, ex, stem, prefer, path, require_labels)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, reading at most MAX_LINE_BYTES of any one line."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        line_no = 0
        while True:
            try:
                line = handle.readline(MAX_LINE_BYTES + 1)
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"not valid UTF-8 after line {line_no}: {exc.reason}", path=path
                ) from None
            if not line:
                return
            line_no += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith("\n"):
                raise ConfigError(
                    f"line is longer than {MAX_LINE_BYTES // 1024 // 1024} MB",
                    path=path,
                    line=line_no,
                    hint="one example per line, each a short JSON object",
                )
            yield line_no, line


def _iter_jsonl(path: Path, stem: str) -> Iterator[Item]:
    for line_no, line in _lines(path):
        if not line.strip():
            continue

        def bad(problem: str, line_no: int = line_no) -> ConfigError:
            return ConfigError(
                problem,
                path=path,
                line=line_no,
                hint='{"input": "...", "target": "..."} or with "choices"',
            )

        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise bad("not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("input"), (str, int, float)):
            raise bad("each line needs a JSON object with an `input` text")
        targets = _strings(row.get("target"))
        choices = _strings(row.get("choices"))
        if not targets:
            raise bad("no `target`: nothing to grade against")
        kind = row.get("answer_type") or (
            "choice" if choices else ("number" if all(_is_number(t) for t in targets) else "text")
        )
        if not is_answer_type(kind):
            raise bad(f"answer_type {kind!r} is not one of {', '.join(ANSWER_TYPES)}")
        item_id = str(row.get("id", f"{stem}-{line_no}"))
        yield Item(item_id, str(row["input"]), kind, choices, targets)
