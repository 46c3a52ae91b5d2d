"""Peers in the bench: CrewAI and AutoGen (the real packages) on the bench's backend and items.

A scripted backend stands in for the model in the unit tests (it records every request, so the
tokens, prompts and answers the bench stores can be checked against what the frameworks really
sent); one small test runs both peers on the embedded model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from accord.bench.peers import peer_answer
from accord.bench.report import write_report
from accord.bench.runner import BenchConfig, run_bench
from accord.bench.store import BenchStore, SummaryRow
from accord.bench.strategies import parse_strategies
from accord.consensus.records import Task
from accord.errors import ConfigError
from accord.models.base import CompletionRequest
from accord.roles.prompt import user_prompt

pytest.importorskip("crewai", reason="pip install 'accord[crewai]'")
pytest.importorskip("autogen_agentchat", reason="pip install 'accord[autogen]'")

ROOT = Path(__file__).resolve().parents[2]
QUESTION = re.compile(r"What is (\d+) plus 1\?")
WRONG = 3  # the scripted model gets "What is 3 plus 1?" wrong, whoever asks


class Model:
    """A scripted model: answers i + 1 (99 for i = WRONG), in CrewAI's format when asked for it."""

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    def __call__(self, request: CompletionRequest) -> str:
        self.requests.append(request)
        text = "\n".join(m.content for m in request.messages)
        found = QUESTION.findall(text)
        if not found:  # a multiple-choice item
            return "The answer is: b." if "Options:" in text else "I do not know."
        i = int(found[-1])
        answer = 99 if i == WRONG else i + 1
        if "Final Answer" in request.messages[0].content:  # CrewAI's ReAct instructions
            return f"Thought: I now can give a great answer\nFinal Answer: {answer}"
        return f"The answer is {answer}."

    def crewai(self) -> list[CompletionRequest]:
        return [r for r in self.requests if "Final Answer" in r.messages[0].content]


def words(request: CompletionRequest) -> int:
    return sum(len(m.content.split()) for m in request.messages if m.content)


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    examples = [{"input": f"What is {i} plus 1?", "target": str(i + 1)} for i in range(5)]
    path = tmp_path / "plus.json"
    path.write_text(json.dumps({"examples": examples}))
    return path


def config(task_file: Path, model: Model, **extra: object) -> BenchConfig:
    options: dict[str, object] = {
        "tasks": str(task_file),
        "strategies": "single,peer:crewai,peer:autogen",
        "backend": "scripted",
        "backend_options": {"script": model, "latency_s": 0.01},
        "db": task_file.parent / "bench.duckdb",
    }
    return BenchConfig(**{**options, **extra})  # type: ignore[arg-type]


def summary(db: Path, run_id: str) -> dict[str, SummaryRow]:
    return {r.strategy: r for r in BenchStore(db).summary(run_id)}


def test_peers_run_on_the_bench_backend_scored_and_measured_like_accord(task_file: Path) -> None:
    model = Model()
    run_id = run_bench(config(task_file, model))
    db = task_file.parent / "bench.duckdb"
    rows = summary(db, run_id)
    assert list(rows) == ["single", "peer:crewai", "peer:autogen"]
    for name in rows:  # 4 of 5 right for everyone: the same parser and scorer read them
        assert rows[name].accuracy == pytest.approx(0.8), name
        assert rows[name].mode == "live"
    crewai, autogen, single = rows["peer:crewai"], rows["peer:autogen"], rows["single"]
    # tokens are the backend's own counts of what each framework sent
    sent = model.crewai()
    assert len(sent) == 5
    assert crewai.prompt_tokens == pytest.approx(sum(words(r) for r in sent) / 5)
    assert crewai.prompt_tokens > 3 * single.prompt_tokens  # CrewAI wraps the question
    # AutoGen sends accord's system prompt and question as they are
    assert autogen.prompt_tokens == single.prompt_tokens
    assert autogen.completion_tokens == single.completion_tokens
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "SELECT strategy, min(model_ms), min(wall_ms - model_ms), max(n_attempts), "
            "bool_or(cached), min(stop_reason) FROM bench_results WHERE run_id = ? "
            "GROUP BY strategy ORDER BY strategy",
            [run_id],
        ).fetchall()
        ledger = con.execute(
            "SELECT r.policy, count(*), sum(a.prompt_tokens) FROM attempts a "
            "JOIN runs r USING (run_id) WHERE r.policy LIKE 'peer:%' GROUP BY r.policy "
            "ORDER BY r.policy"
        ).fetchall()
    for strategy, model_ms, overhead, calls, cached, stop in found:
        assert model_ms >= 10.0, strategy  # the scripted model's latency, measured per call
        assert overhead >= 0.0 and calls == 1 and not cached, strategy
        if strategy.startswith("peer:"):
            assert stop == f"{strategy[5:]}: 1 LLM call"
    # the peers' calls are in the ledger too, as decisions of their own runs
    assert [(p, n) for p, n, _ in ledger] == [("peer:autogen", 5), ("peer:crewai", 5)]
    assert ledger[1][2] == sum(words(r) for r in sent)


def test_prompts_are_stored_and_the_report_labels_and_plots_the_peers(task_file: Path) -> None:
    model = Model()
    run_id = run_bench(config(task_file, model))
    db = task_file.parent / "bench.duckdb"
    prompts = BenchStore(db).prompts(run_id)
    assert set(prompts) == {"accord", "peer:crewai", "peer:autogen"}
    accord = json.loads(prompts["accord"][0].messages)
    autogen = json.loads(prompts["peer:autogen"][0].messages)
    crewai = json.loads(prompts["peer:crewai"][0].messages)
    assert autogen == accord
    question = user_prompt(Task("plus-0", "What is 0 plus 1?", "number"))
    assert accord[1]["content"] == question
    assert question in crewai[-1]["content"] and "Final Answer" in crewai[0]["content"]
    assert prompts["peer:crewai"][0].reply == "1"  # CrewAI took the Final Answer out
    md, (png,) = write_report(db, run_id, task_file.parent / "out")
    text = md.read_text()
    assert "| peer:crewai | live peer | 5 | 80.0" in text
    assert "## Peers: CrewAI and AutoGen" in text and "[user] What is 0 plus 1?" in text
    assert "Current Task: What is 0 plus 1?" in text
    assert png.stat().st_size > 10_000


def test_peers_resume_from_the_cache_per_item_strategy_backend_and_seed(task_file: Path) -> None:
    model = Model()
    run_bench(config(task_file, model, limit=3))
    before = len(model.crewai())
    second = run_bench(config(task_file, model))
    assert len(model.crewai()) == before + 2  # only the two new items ran
    db = task_file.parent / "bench.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        cached = con.execute(
            "SELECT strategy, sum(cached::INT) FROM bench_results WHERE run_id = ? "
            "GROUP BY strategy ORDER BY strategy",
            [second],
        ).fetchall()
    assert cached == [("peer:autogen", 3), ("peer:crewai", 3), ("single", 3)]
    assert summary(db, second)["peer:crewai"].accuracy == pytest.approx(0.8)
    third = run_bench(config(task_file, model, seed=1))  # another seed is another key
    assert len(model.crewai()) == before + 2 + 5
    assert summary(db, third)["peer:autogen"].n_items == 5
    run_bench(config(task_file, model, seed=1, fresh=True))  # --fresh measures again
    assert len(model.crewai()) == before + 2 + 5 + 5


def test_a_replay_run_runs_the_peers_live_and_says_so(task_file: Path) -> None:
    model = Model()
    run_id = run_bench(
        config(task_file, model, strategies="single,vote@3,peers", replay=3, replay_seeds=4)
    )
    db = task_file.parent / "bench.duckdb"
    rows = summary(db, run_id)
    assert rows["vote@3"].mode == "replay" and rows["peer:crewai"].mode == "live"
    assert rows["peer:autogen"].seed_low is None
    md, _ = write_report(db, run_id, task_file.parent / "out")
    text = md.read_text()
    assert "| peer:crewai | live peer (peers cannot be replayed: they run live) |" in text
    assert "| vote@3 | replayed from 3 recorded samples (4 seeds) |" in text


def test_peer_rows_are_paired_with_a_replayed_baseline_by_permutation(task_file: Path) -> None:
    model = Model()
    run_id = run_bench(config(task_file, model, strategies="vote@5,peer:autogen", replay=5))
    row = summary(task_file.parent / "bench.duckdb", run_id)["peer:autogen"]
    assert row.test == "paired sign-flip" and row.delta is not None


def test_strategy_names() -> None:
    assert [s.name for s in parse_strategies("peers")] == ["peer:crewai", "peer:autogen"]
    found = parse_strategies("single,peer:autogen,crewai,peers")
    assert [s.name for s in found] == ["single", "peer:autogen", "peer:crewai"]
    assert all(s.is_peer for s in found[1:]) and not found[0].is_peer
    with pytest.raises(ConfigError, match="crewai"):
        parse_strategies("peer:langchain")


@pytest.mark.parametrize(
    ("raw", "choices", "answer"),
    [
        ("The answer is: b.", ("a", "b"), "b"),  # accord's reader sees "a" inside "answer"
        ('Order: "a " b "\n\nThe answer is: b', ("a", "b"), "b"),
        ("Final Answer: implausible", ("plausible", "implausible"), "implausible"),
        ("It is plausible or implausible.", ("plausible", "implausible"), ""),
        ("(B)", ("a", "b"), "b"),
        ("I'm ready to help! What's your task?", ("a", "b"), ""),
    ],
)
def test_peer_choice_answers_are_read_from_text(
    raw: str, choices: tuple[str, ...], answer: str
) -> None:
    assert peer_answer(raw, Task("t", "q", "choice", choices)) == answer


def test_peer_number_answers_use_accords_reader() -> None:
    task = Task("t", "What is 3 plus 4?", "number")
    assert peer_answer("The answer is 7.", task) == "7"
    assert peer_answer("3 + 4 = 7.0", task) == "7"
    assert peer_answer("I'm ready to help!", task) == ""


def test_a_missing_framework_is_one_line_naming_the_extra_and_exit_2(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['crewai'] = None; "
        "sys.argv = ['accord', 'bench', '--backend', 'simulated', '--tasks', 'simulated:5', "
        f"'--strategies', 'single,peer:crewai', '--db', {str(tmp_path / 'b.duckdb')!r}, "
        f"'--out', {str(tmp_path / 'out')!r}]; "
        "from accord.cli.app import main; main()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 2, out.stderr
    assert "pip install 'accord[crewai]'" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_the_core_does_not_import_the_frameworks_until_a_peer_runs() -> None:
    code = (
        "import sys; from accord.bench.strategies import parse_strategies; "
        "import accord.bench.runner, accord.bench.report, accord.cli.bench; "
        "parse_strategies('peers'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('crewai', 'autogen_core', 'autogen_agentchat')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.model
def test_peers_on_the_embedded_model(tmp_path: Path) -> None:
    """Both peers answer real items on SmolLM2 through the adapters; every cost is measured."""
    db = tmp_path / "bench.duckdb"
    run_id = run_bench(
        BenchConfig(
            tasks="arithmetic__1_digit_addition,hyperbaton",
            limit=1,
            strategies="single,peers",
            db=db,
        )
    )
    rows = summary(db, run_id)
    assert set(rows) == {"single", "peer:crewai", "peer:autogen"}
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "SELECT strategy, item_id, prompt_tokens, completion_tokens, model_ms, wall_ms, flops "
            "FROM bench_results WHERE run_id = ? AND strategy LIKE 'peer:%'",
            [run_id],
        ).fetchall()
    assert len(found) == 4
    for strategy, item, prompt, completion, model_ms, wall_ms, flops in found:
        assert prompt > 10 and completion >= 1, (strategy, item)
        assert 0 < model_ms <= wall_ms, (strategy, item)
        assert flops and flops > 0, (strategy, item)  # the model's FLOPs: the real model ran
    assert rows["peer:crewai"].prompt_tokens > 2 * rows["peer:autogen"].prompt_tokens
