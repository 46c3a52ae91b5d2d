"""The ledger keeps the messages each attempt sent (attempts.prompt), unless told not to."""

from __future__ import annotations

import json

import duckdb

from accord import Crew
from accord.crews.spec import CrewSpec
from accord.ledger.writer import Ledger


def _crew(store_prompts: bool | None = None) -> Crew:
    data: dict = {
        "name": "prompts",
        "models": {
            "fake": {
                "backend": "scripted",
                "options": {"script": {"capital": "Paris", "planet": "Jupiter"}},
            }
        },
        "roles": [{"name": "analyst", "goal": "answer precisely", "model": "fake"}],
        "tasks": [
            {"id": "capital", "question": "What is the capital of France?"},
            {"id": "planet", "question": "Largest planet?", "choices": ["Mars", "Jupiter"]},
        ],
        "policy": {"kind": "single"},
    }
    if store_prompts is not None:
        data["ledger"] = {"store_prompts": store_prompts}
    return Crew(CrewSpec.model_validate(data))


def _prompts(db) -> dict[str, object]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT task_id, prompt FROM attempts ORDER BY task_id").fetchall()
    finally:
        con.close()
    return {task: None if p is None else json.loads(p) for task, p in rows}


def test_every_attempt_stores_the_messages_it_sent(ledger_path) -> None:
    _crew().run(db=ledger_path, pool="local")
    prompts = _prompts(ledger_path)
    capital = prompts["capital"]
    assert [m["role"] for m in capital] == ["system", "user"]
    assert capital[0]["content"] == "You are the analyst. Your goal: answer precisely"
    assert capital[1]["content"].startswith("What is the capital of France?")
    # an option-scored question records the messages it was scored on, options included
    assert "Options: Mars; Jupiter" in prompts["planet"][1]["content"]


def test_store_prompts_false_in_the_crew_or_the_ledger_keeps_none(tmp_path) -> None:
    _crew(store_prompts=False).run(db=tmp_path / "a.duckdb", pool="local")
    assert _prompts(tmp_path / "a.duckdb") == {"capital": None, "planet": None}
    ledger = Ledger(tmp_path / "b.duckdb", store_prompts=False)
    _crew().run(ledger=ledger, pool="local")
    ledger.close()
    assert _prompts(tmp_path / "b.duckdb") == {"capital": None, "planet": None}


def test_a_vote_stores_its_tally_leader_first(ledger_path) -> None:
    from tests.conftest import ROOT

    Crew.from_yaml(ROOT / "configs" / "scripted.yaml").run(db=ledger_path, pool="local")
    con = duckdb.connect(str(ledger_path), read_only=True)
    try:
        votes = dict(con.execute("SELECT task_id, votes FROM decisions").fetchall())
    finally:
        con.close()
    assert votes["capital"] is None  # accepted on the single path: no vote
    tally = json.loads(votes["sum"])
    assert tally[0]["answer"] == "42" and tally[0]["votes"] >= 2
    assert all(isinstance(row["votes"], int) for row in tally)
