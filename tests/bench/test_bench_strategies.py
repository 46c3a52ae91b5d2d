"""Strategy names and task specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.bench.strategies import parse_strategies
from accord.bench.tasks import load_bench_items, shipped_tasks
from accord.errors import ConfigError


def test_names_map_to_policies_and_the_sweep_expands() -> None:
    found = parse_strategies("single,vote@3,early-stop,adaptive,adaptive-sweep,cascade,vote@3")
    names = [s.name for s in found]
    assert names[:4] == ["single", "vote@3", "early-stop", "adaptive@0.8"]
    assert len([n for n in names if n.startswith("adaptive@")]) == 6  # 0.8 is in the sweep
    by_name = {s.name: s for s in found}
    assert by_name["vote@3"].policy.k == 3  # type: ignore[union-attr]
    assert by_name["early-stop"].policy.stopping == "window@3"  # type: ignore[union-attr]
    assert by_name["adaptive@0.8"].policy.stopping == "beta@0.95"  # type: ignore[union-attr]
    assert by_name["cascade"].tiers == 2


@pytest.mark.parametrize("bad", ["vote@x", "vote@0", "magic", "peer:nobody", ""])
def test_bad_names_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_strategies(bad)


def test_shipped_tasks_load_by_name_with_limit() -> None:
    assert "hyperbaton" in shipped_tasks()
    items = load_bench_items("hyperbaton,arithmetic__1_digit_addition", limit=3)
    assert [i.source for i in items].count("hyperbaton") == 3
    arithmetic = [i for i in items if i.source != "hyperbaton"]
    assert arithmetic[0].task.answer_type == "number"
    assert items[0].task.choices and items[0].targets
    assert not items[0].task.expected  # the coordinator never sees the labels


def test_any_bigbench_file_by_path_and_jsonl(tmp_path: Path) -> None:
    task = {
        "task_prefix": "Q: ",
        "examples": [
            {"input": "2+2?", "target": ["4", "four"]},
            {"input": "Sky?", "target_scores": {"blue": 1, "green": 0}},
        ],
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(task))
    items = load_bench_items(str(path))
    assert items[0].targets == ("4", "four") and items[0].task.prompt == "Q: 2+2?"
    assert items[1].task.choices == ("blue", "green") and items[1].targets == ("blue",)
    jsonl = tmp_path / "own.jsonl"
    jsonl.write_text('{"input": "3+3?", "target": "6"}\n')
    assert load_bench_items(str(jsonl))[0].task.answer_type == "number"


def test_unknown_task_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="hyperbaton"):
        load_bench_items("no-such-task")
