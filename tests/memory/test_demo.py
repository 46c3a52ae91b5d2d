"""configs/memory_demo.yaml: the second run is cheaper because of the first, per the ledger."""

from __future__ import annotations

from pathlib import Path

import duckdb

from accord.crews.crew import Crew
from accord.memory import WorkingMemory
from tests.conftest import ROOT

DEMO = ROOT / "configs" / "memory_demo.yaml"


def _per_run(path: Path) -> list[tuple[str, int, int, int]]:
    """(run_id, attempts, tokens, escalated) of each run, oldest first, from the ledger."""
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(
            "SELECT run_id, attempts, tokens, escalated FROM run_summary "
            "ORDER BY started_at, run_id"
        ).fetchall()


def test_second_run_is_cheaper_with_memory(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    crew = Crew.from_yaml(DEMO)
    first = crew.run(db=db, pool="local")
    second = crew.run(db=db, pool="local")
    (run1, att1, tok1, esc1), (run2, att2, tok2, esc2) = _per_run(db)
    assert (run1, run2) == (first.run_id, second.run_id)
    assert esc1 > 0 and att2 < att1 and tok2 < tok1 and esc2 < esc1
    assert second.accuracy == first.accuracy == 1.0
    with duckdb.connect(str(db), read_only=True) as con:
        used = con.execute(
            "SELECT DISTINCT task_id FROM memory_context WHERE run_id = ? AND "
            "source = 'long_term' AND action = 'included'",
            [run2],
        ).fetchall()
        facts = con.execute("SELECT count(*) FROM memory_items WHERE verified").fetchone()
    assert {r[0] for r in used} >= {"add", "capital", "spider"}
    assert facts == (len(first.decisions),)


def test_without_memory_the_second_run_costs_the_same(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    loaded = Crew.from_yaml(DEMO)
    off = loaded.spec.model_copy(
        update={
            "memory": loaded.spec.memory.model_copy(  # type: ignore[union-attr]
                update={"enabled": False}
            )
        }
    )
    crew = Crew(off, base_dir=DEMO.parent)
    crew.run(db=db, pool="local")
    crew.run(db=db, pool="local")
    (_, att1, tok1, _), (_, att2, tok2, _) = _per_run(db)
    assert (att1, tok1) == (att2, tok2)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert "memory_items" not in tables


def test_working_memory_is_writable_during_a_run(tmp_path: Path) -> None:
    working = WorkingMemory()

    def on_start(run_id: str, tasks: list[object]) -> None:
        working.add_goal("double-check arithmetic")

    result = Crew.from_yaml(DEMO).run(
        db=tmp_path / "l.duckdb", pool="local", on_start=on_start, working=working
    )
    assert working.run_id == result.run_id
    assert working.status("add") == "accepted"
    assert len(working.facts(verified=True)) == len(result.decisions)
    with duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True) as con:
        goals = con.execute(
            "SELECT count(DISTINCT task_id) FROM memory_context WHERE "
            "kind = 'goal' AND action = 'included'"
        ).fetchone()
    assert goals == (len(result.decisions),)
