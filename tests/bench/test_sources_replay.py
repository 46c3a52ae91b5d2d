"""Recorded sources replayed as roles through the real coordinator (issue 19 item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.bench.runner import BenchConfig, run_bench
from accord.bench.store import BenchStore
from accord.errors import ConfigError

# five differently-instructed roles of one model answer three items (A is the primary role)
ANSWERS = {
    "0": ("1", {"A": "1", "B": "1", "C": "1", "D": "2", "E": "2"}),
    "1": ("2", {"A": "3", "B": "2", "C": "2", "D": "2", "E": "3"}),
    "2": ("5", {"A": None, "B": "5", "C": "5", "D": "5", "E": "4"}),  # A's text states nothing
}
SOURCES = "m/A,m/B,m/C,m/D,m/E"


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "roles.jsonl"
    lines = []
    for id_, (gold, by_role) in ANSWERS.items():
        samples = [
            {"source": f"m/{role}", "model": "m", "answer": answer, "text": "I am not sure."}
            for role, answer in by_role.items()
        ]
        lines.append(
            {"task": "t", "id": id_, "question": f"q{id_}?", "gold": gold, "samples": samples}
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _run(tmp_path: Path, strategies: str, sources: str = SOURCES) -> dict[str, object]:
    config = BenchConfig(
        tasks=str(_recording(tmp_path)),
        strategies=strategies,
        sources=sources,
        replay_seeds=12,
        db=tmp_path / "b.duckdb",
    )
    run_id = run_bench(config)
    store = BenchStore(tmp_path / "b.duckdb")
    assert store.run(run_id)["backend"] == "recorded"  # type: ignore[index]
    return {r.strategy: r for r in store.summary(run_id)}


def test_sources_vote_as_roles_and_the_primary_is_not_counted_twice(tmp_path: Path) -> None:
    rows = _run(tmp_path, "single,validated,vote@5,adaptive")
    single, validated, vote, adaptive = (
        rows[n] for n in ("single", "validated", "vote@5", "adaptive@0.8")
    )
    assert single.accuracy == pytest.approx(1 / 3) and single.escalation == 0.0  # type: ignore[attr-defined]
    assert validated.accuracy == pytest.approx(2 / 3)  # type: ignore[attr-defined]  # A's unread answer escalates
    assert vote.accuracy == 1.0  # type: ignore[attr-defined]
    # no log-probs, so no confidence: adaptive always asks the other roles; were the primary's
    # answer drawn again as a voter, "3" would beat "2" on item 1 in some replay orders
    assert adaptive.escalation == 1.0 and adaptive.seed_low == 1.0  # type: ignore[attr-defined]


def test_the_report_counts_the_answers_that_could_not_be_read(tmp_path: Path) -> None:
    from accord.bench.report import write_report

    _run(tmp_path, "single")
    md, _ = write_report(tmp_path / "b.duckdb", "latest", tmp_path / "out")
    text = md.read_text()
    assert "recorded answers: 15 samples of the sources replayed, 1 of them unreadable" in text
    assert "replayed from the recorded answers of m/A,m/B" in text


def test_a_vote_larger_than_the_sources_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the sources give as few as 3 per item"):
        _run(tmp_path, "vote@5", sources="m/A,m/B,m/C")


def test_unknown_sources_and_cascades_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no recorded source named 'm/Z'") as error:
        _run(tmp_path, "single", sources="m/A,m/Z")
    assert "m/A, m/B" in str(error.value)
    with pytest.raises(ConfigError, match="cascades over recorded sources are not supported yet"):
        _run(tmp_path, "cascade", sources="m/A,m/B,m/C,m/D,m/E;m/B")
    with pytest.raises(ConfigError, match="needs 2 source groups"):
        _run(tmp_path, "cascade")
