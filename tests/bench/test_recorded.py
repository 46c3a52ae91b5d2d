"""Recorded samples as a task source (issue 19 item 1): recognised by content, answers read,
bad lines named by file:line."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from accord.bench.recorded import is_recorded, load_recorded
from accord.bench.runner import BenchConfig, run_bench
from accord.bench.store import BenchStore
from accord.bench.tasks import load_bench_items
from accord.errors import ConfigError

LINES = [
    {
        "task": "sums",
        "id": 0,
        "question": "What is 2 + 3?",
        "gold": "5",
        "samples": [
            {
                "source": "big/COT",
                "model": "big",
                "answer": "$5",
                "text": "2 + 3 = 5. The answer is 5.",
            },
            {"source": "small/COT", "answer": None, "text": "2 + 3 = 6. The answer is 6."},
            {"source": "small/noNL", "answer": "[invalid]", "text": "def f(): ..."},
        ],
    },
    {
        "task": "sums",
        "id": "1",
        "question": "What is 4 + 4?",
        "gold": 8,
        "samples": [
            {"source": "big/COT", "answer": 8},
            {"source": "small/COT", "text": "I am not sure."},
        ],
    },
]


def _write(path: Path, lines: list[object], *, gz: bool = False) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_a_recorded_file_is_recognised_by_content_and_its_answers_read(
    tmp_path: Path, gz: bool
) -> None:
    path = _write(tmp_path / ("r.jsonl.gz" if gz else "r.data"), LINES, gz=gz)  # any name
    assert is_recorded(path)
    first, second = load_recorded(path)
    assert first.kind == "number" and first.targets == ("5",)
    assert [s.answer for s in first.samples] == ["5", "6", None]  # released, read from text, unread
    assert first.samples[0].model == "big" and first.samples[1].model == "small/COT"
    assert [s.answer for s in second.samples] == ["8", None] and second.unread == 1
    items = load_bench_items(str(path))
    assert [i.source for i in items] == ["sums", "sums"] and items[0].task.answer_type == "number"
    assert items[0].task.prompt == "What is 2 + 3?" and items[0].recorded == first
    assert load_recorded(path, limit=1) == [first]


def test_a_bigbench_jsonl_file_is_not_taken_for_a_recorded_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.jsonl", [{"input": "What is 1 + 1?", "target": "2"}])
    assert not is_recorded(path)
    assert load_bench_items(str(path))[0].recorded is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "r.jsonl:2:2: not JSON"),
        ({"id": 1, "question": "q", "gold": "1", "samples": []}, "r.jsonl:2: samples: List should"),
        (
            {"id": 1, "question": "q", "gold": "1", "samples": [{"answer": "1"}]},
            "r.jsonl:2: samples[0].source: Field required",
        ),
        (
            {"id": 1, "question": "q", "gold": "1", "samples": [{"source": "s", "anwser": "1"}]},
            "samples[0].anwser: Extra inputs",
        ),
    ],
)
def test_a_bad_line_is_one_error_naming_the_file_and_line(
    tmp_path: Path, bad: object, message: str
) -> None:
    path = _write(tmp_path / "r.jsonl", [LINES[0], bad])
    with pytest.raises(ConfigError) as error:
        load_recorded(path)
    assert message in str(error.value), str(error.value)
    assert "docs/RECORDED.md" in str(error.value)


def test_the_cli_reports_a_bad_recorded_line_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [LINES[0], LINES[1], "[1, 2"])
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", "bench", "--backend", "scripted", "--tasks", str(path),
         "--db", str(tmp_path / "b.duckdb"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"{path}:3:" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_bench_runs_on_a_recorded_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", LINES)
    script = {"2 + 3": "5", "4 + 4": "9"}
    config = BenchConfig(
        tasks=str(path), strategies="single", backend="scripted", db=tmp_path / "b.duckdb"
    )
    config.backend_options = {"script": script}
    run_id = run_bench(config)
    (row,) = BenchStore(tmp_path / "b.duckdb").summary(run_id)
    assert row.n_items == 2 and row.accuracy == 0.5


def test_the_shipped_recorded_sample_replays_a_role_ensemble(tmp_path: Path) -> None:
    sample = Path(__file__).parents[2] / "benchmarks/data/recorded/faithful_cot_gsm8k_100.jsonl.gz"
    items = load_recorded(sample)
    assert len(items) == 100 and {s.model for i in items for s in i.samples} == {
        "gpt-3.5-turbo",
        "gpt-4",
    }
    methods = ",".join(f"gpt-3.5-turbo/{m}" for m in ("COT", "LtM", "standard", "noNL", "NL+SL"))
    config = BenchConfig(
        tasks=str(sample),
        strategies="single,vote@5",
        sources=methods,
        replay_seeds=2,
        db=tmp_path / "b.duckdb",
    )
    rows = {r.strategy: r for r in BenchStore(tmp_path / "b.duckdb").summary(run_bench(config))}
    assert rows["single"].n_items == rows["vote@5"].n_items == 100
    assert 0.5 < rows["single"].accuracy <= 1.0 and 0.5 < rows["vote@5"].accuracy <= 1.0
