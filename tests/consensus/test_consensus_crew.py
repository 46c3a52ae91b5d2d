"""Consensus modes from a crew file, end to end: the vote's groups reach the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml

from accord import Crew
from accord.consensus.grouping import default_embedder

ROOT = Path(__file__).resolve().parents[2]
RCA = ROOT / "configs" / "rca.yaml"

pytestmark = pytest.mark.skipif(
    default_embedder() != "minilm", reason="the minilm model wheel is not installed"
)


def _run(path: Path, db: Path):
    return Crew.from_yaml(path).run(db=db, pool="local")["rca"]


def _with_consensus(tmp_path: Path, consensus: str) -> Path:
    data = yaml.safe_load(RCA.read_text())
    data["tasks"][0]["consensus"] = consensus
    path = tmp_path / f"rca-{consensus}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_paraphrases_settle_and_the_ledger_shows_the_group(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    semantic = _run(RCA, db)
    exact = _run(_with_consensus(tmp_path, "exact"), tmp_path / "exact.duckdb")
    assert semantic.stop_reason == "settled" and "payments" in semantic.answer.lower()
    assert exact.stop_reason == "k_max"
    assert semantic.tokens < exact.tokens
    with duckdb.connect(str(db), read_only=True) as con:
        (votes,) = con.execute("SELECT votes FROM decisions WHERE task_id = 'rca'").fetchone()
    groups = json.loads(votes)
    leader = groups[0]
    assert leader["answer"] == semantic.answer and leader["share"] > 0.5
    assert len(leader["members"]) == leader["votes"] >= 2
    assert all("payments" in m.lower() for m in leader["members"])
    assert sum(g["votes"] for g in groups) == sum(
        1 for a in semantic.attempts if a.kind in ("primary", "voter")
    )


def test_exact_consensus_on_free_text_is_flagged_at_load_time(tmp_path: Path) -> None:
    assert Crew.from_yaml(RCA).warnings == ()
    (warning,) = Crew.from_yaml(_with_consensus(tmp_path, "exact")).warnings
    assert "rarely match word for word" in warning and "'rca'" in warning


def test_a_judge_that_is_not_a_role_is_refused_at_load_time(tmp_path: Path) -> None:
    from accord.errors import ConfigError

    data = yaml.safe_load(RCA.read_text())
    data["tasks"][0]["consensus"] = {"mode": "judge", "judge": "nobody"}
    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="judge role"):
        Crew.from_yaml(path)
