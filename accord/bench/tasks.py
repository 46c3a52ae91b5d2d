"""Bench items: BIG-bench task files (shipped sample names or paths), JSONL, recorded samples of
real models (recognised by content, see `accord.bench.recorded`), or simulated."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from accord.bench.recorded import RecordedItem, is_recorded, load_recorded
from accord.consensus.records import Task
from accord.crews.datasets import Item, load_items
from accord.errors import ConfigError
from accord.models.items import AnswerType

_NUMBER_TOKENS = 16  # "The answer is 12." and "3 + 4 = 7." fit; later rambling does not
_TEXT_TOKENS = 24


def samples_dir() -> Path | None:
    """The shipped 40-example BIG-bench samples (a source checkout or the working directory)."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        folder = base / "benchmarks" / "data" / "bigbench"
        if folder.is_dir():
            return folder
    return None


def shipped_tasks() -> list[str]:
    """Names of the shipped sample tasks."""
    folder = samples_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder else []


@dataclass(frozen=True, slots=True)
class BenchItem:
    """One labelled item as the bench runs it: its source task, the Task, and the labels."""

    source: str
    item: Item
    task: Task
    key: str
    recorded: RecordedItem | None = None  # the real models' answers, from a recorded file

    @property
    def targets(self) -> tuple[str, ...]:
        """Accepted answers (only the scorer reads them)."""
        return self.item.targets


def _key(item: Item, task: Task) -> str:
    """A content hash, so the cache survives renames and notices edited items."""
    text = "\x1f".join(
        [task.prompt, *task.choices, "\x1e", *item.targets, str(task.max_tokens), task.answer_type]
    )
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def from_recorded(recorded: RecordedItem) -> BenchItem:
    """A recorded item as the bench runs it (a number task when its answers are numbers)."""
    answer_type: AnswerType = "number" if recorded.kind == "number" else "text"
    item = Item(
        f"{recorded.task}-{recorded.id}", recorded.question, answer_type, (), recorded.targets
    )
    return replace(to_bench_item(recorded.task, item), recorded=recorded)


def to_bench_item(source: str, item: Item) -> BenchItem:
    """Wrap a loaded item; the Task carries no labels (the coordinator never sees them)."""
    tokens = _NUMBER_TOKENS if item.answer_type == "number" else _TEXT_TOKENS
    task = Task(
        id=item.id,
        prompt=item.prompt,
        answer_type=item.answer_type,
        choices=item.choices,
        max_tokens=tokens,
    )
    return BenchItem(source, item, task, _key(item, task))


def resolve_task(spec: str) -> Path:
    """A task file path from a shipped sample name or a path."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    folder = samples_dir()
    if folder is not None and (folder / f"{spec}.json").is_file():
        return folder / f"{spec}.json"
    known = ", ".join(shipped_tasks()) or "(no shipped samples found)"
    raise ConfigError(
        f"no task file or shipped task named {spec!r}",
        hint="give a path to a BIG-bench .json or .jsonl file or a recorded-samples "
        f".jsonl(.gz) file, or one of: {known}",
    )


def load_task(spec: str, limit: int | None = None) -> list[BenchItem]:
    """Items of one task spec: a name, a path, or `simulated[:N]`."""
    if spec == "simulated" or spec.startswith("simulated:"):
        from accord.models.simulated import simulated_items

        n = int(spec.split(":", 1)[1]) if ":" in spec else 2000
        items = simulated_items(n if limit is None else min(n, limit))
        return [to_bench_item("simulated", it) for it in items]
    path = resolve_task(spec)
    if is_recorded(path):
        return [from_recorded(r) for r in load_recorded(path, limit)]
    items = load_items(path, require_labels=True)
    if limit is not None:
        items = items[:limit]
    source = path.stem
    return [to_bench_item(source, it) for it in items]


def load_bench_items(specs: str | list[str], limit: int | None = None) -> list[BenchItem]:
    """Items of every task spec (comma-separated or a list), `limit` per task."""
    names = [s.strip() for s in specs.split(",")] if isinstance(specs, str) else list(specs)
    if names == ["all"]:
        names = shipped_tasks()
    out: list[BenchItem] = []
    for name in names:
        if name:
            out.extend(load_task(name, limit))
    if not out:
        raise ConfigError("no items to run", hint="check --tasks and --limit")
    return _distinct(out)


def _distinct(items: list[BenchItem]) -> list[BenchItem]:
    """Items whose content repeats (a task file that lists one example twice) keep a key
    and an id each, so each is run and counted, not merged with its twin."""
    seen: dict[str, int] = {}
    ids: dict[str, int] = {}
    out = []
    for item in items:
        n = seen[item.key] = seen.get(item.key, 0) + 1
        m = ids[item.task.id] = ids.get(item.task.id, 0) + 1
        if n > 1 or m > 1:
            task = replace(item.task, id=item.task.id if m == 1 else f"{item.task.id}~{m}")
            item = replace(item, task=task, key=item.key if n == 1 else f"{item.key}~{n}")
        out.append(item)
    return out
