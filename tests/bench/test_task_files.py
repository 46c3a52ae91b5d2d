"""Task files as people write them: numbers as targets, repeats, bad examples, preferences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.bench.tasks import load_bench_items
from accord.crews.datasets import load_items
from accord.crews.scoring import is_correct
from accord.errors import ConfigError


def _task(tmp_path: Path, examples: list[object], **fields: object) -> Path:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": examples, **fields}))
    return path


def test_json_numbers_are_targets_and_zero_is_a_target(tmp_path: Path) -> None:
    path = _task(
        tmp_path,
        [
            {"input": "3 plus 4?", "target": 7},
            {"input": "0 plus 0?", "target": 0},
            {"input": "3 plus 4?", "target": [7, "seven"]},
        ],
    )
    items = load_items(path)
    assert [i.targets for i in items] == [("7",), ("0",), ("7", "seven")]
    assert [i.answer_type for i in items] == ["number", "number", "text"]
    jsonl = tmp_path / "own.jsonl"
    jsonl.write_text('{"input": 5, "target": 5.0}\n{"input": "sure?", "target": true}\n')
    assert [(i.prompt, i.targets) for i in load_items(jsonl)] == [
        ("5", ("5.0",)),
        ("sure?", ("true",)),
    ]


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ([{"target": "a"}], r"examples\[0\]: needs an `input`"),
        (["just text"], r"examples\[0\]: is not a JSON object"),
        ([{"input": "q", "target_scores": {"a": "1"}}], "must map each option to a number"),
    ],
)
def test_a_bad_example_is_named_by_file_and_index(
    tmp_path: Path, examples: list[object], message: str
) -> None:
    path = _task(tmp_path, examples)
    with pytest.raises(ConfigError, match=message) as raised:
        load_items(path)
    assert str(path) in str(raised.value)


def test_a_benchmark_refuses_items_it_cannot_grade_a_crew_may_run_them(tmp_path: Path) -> None:
    path = _task(tmp_path, [{"input": "What next?"}])
    assert load_items(path)[0].targets == ()  # a crew's source may be unlabelled
    with pytest.raises(ConfigError, match="nothing to grade against"):
        load_bench_items([str(path)])
    bad_type = tmp_path / "own.jsonl"
    bad_type.write_text('{"input": "x", "target": "a", "answer_type": "bool"}\n')
    with pytest.raises(ConfigError, match="answer_type 'bool'"):
        load_items(bad_type)


def test_preferred_multiple_choice_grade_uses_the_options(tmp_path: Path) -> None:
    example = {"input": "Is the sky blue?", "target": "Yes, it is", "target_scores": {"yes": 1}}
    graded = load_items(_task(tmp_path, [example], preferred_score="multiple_choice_grade"))
    assert graded[0].answer_type == "choice" and graded[0].targets == ("yes",)
    plain = load_items(_task(tmp_path, [example]))
    assert plain[0].answer_type == "text" and plain[0].targets == ("Yes, it is",)


def test_an_example_listed_twice_is_run_and_counted_twice(tmp_path: Path) -> None:
    twice = {"input": "3 plus 4?", "target": "7"}
    other = {"input": "1 plus 1?", "target": "2"}
    items = load_bench_items([str(_task(tmp_path, [twice, other, twice]))])
    assert len(items) == 3
    assert len({i.key for i in items}) == 3 and len({i.task.id for i in items}) == 3


def test_no_answer_is_never_right_even_against_an_empty_label() -> None:
    assert is_correct("", ["", "a"]) is False
    assert is_correct("a", ["", "a"]) is True
