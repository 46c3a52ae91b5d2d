"""Labelled task files: BIG-bench JSON tasks and a simple JSONL format, read into items."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accord.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled question: the prompt, options (for multiple choice) and accepted answers."""

    id: str
    prompt: str
    answer_type: Literal["text", "number", "choice"]
    choices: tuple[str, ...]
    targets: tuple[str, ...]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bigbench_item(
    task: dict[str, Any], index: int, example: dict[str, Any], stem: str, prefer: str | None
) -> Item:
    prefix = task.get("example_input_prefix", "")
    text = f"{task.get('task_prefix', '')}{prefix}{example['input']}".strip()
    scores: dict[str, float] = example.get("target_scores") or {}
    target = example.get("target")
    targets = (target,) if isinstance(target, str) else tuple(target or ())
    use_choices = bool(scores) and (prefer == "choice" or not targets)
    if use_choices:
        choices = tuple(scores)
        best = max(scores.values())
        correct = tuple(c for c, s in scores.items() if s == best and s > 0)
        return Item(f"{stem}-{index}", text, "choice", choices, correct)
    kind = prefer or ("number" if targets and all(_is_number(t) for t in targets) else "text")
    return Item(f"{stem}-{index}", text, kind, (), targets)  # type: ignore[arg-type]


def load_items(path: str | Path, *, prefer: str | None = None) -> list[Item]:
    """Items from a BIG-bench JSON task file or a JSONL file of {input, target|choices}."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such task file", path=path, hint="check the path")
    stem = path.stem.replace("__", "-").replace(".", "-")
    if path.suffix == ".jsonl":
        return _load_jsonl(path, stem)
    try:
        task = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON task file: {exc}", path=path) from None
    examples = task.get("examples") if isinstance(task, dict) else None
    if not isinstance(examples, list):
        raise ConfigError("a BIG-bench task file needs an `examples` list", path=path)
    return [_bigbench_item(task, i, ex, stem, prefer) for i, ex in enumerate(examples)]


def _load_jsonl(path: Path, stem: str) -> list[Item]:
    items = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt = row["input"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(
                "each line needs a JSON object with `input`",
                path=path,
                line=line_no,
                hint='{"input": "...", "target": "..."}',
            ) from None
        targets = row.get("target", [])
        targets = (targets,) if isinstance(targets, str) else tuple(str(t) for t in targets)
        choices = tuple(row.get("choices", ()))
        kind = row.get("answer_type") or (
            "choice"
            if choices
            else ("number" if targets and all(_is_number(t) for t in targets) else "text")
        )
        items.append(Item(str(row.get("id", f"{stem}-{line_no}")), prompt, kind, choices, targets))
    return items
