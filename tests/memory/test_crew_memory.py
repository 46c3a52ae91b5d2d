"""The crew hook: memory in front of the coordinator, context logged, only verified kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb

from accord.consensus.records import Decision, Task
from accord.ledger.writer import Ledger
from accord.memory import MemorySpec, attach_memory
from tests.memory.conftest import decision


class FakeCoordinator:
    """Returns prepared decisions and keeps the prompts it was asked."""

    def __init__(self, decisions: dict[str, Decision]) -> None:
        self.decisions = decisions
        self.prompts: dict[str, str] = {}

    async def decide(self, task: Task, policy: object = None) -> Decision:
        self.prompts[task.id] = task.prompt
        return self.decisions[task.id]


def test_hook_remembers_verified_and_logs_context(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    spec = MemorySpec(
        embedder="hash", budget_tokens=60, min_similarity=0.2, goals=["count legs of animals"]
    )
    first = attach_memory(spec, ledger, crew="zoo", run_id="r1")
    assert first is not None
    fake = FakeCoordinator(
        {
            "spider": decision("8", task_id="spider"),
            "ant": decision("4", task_id="ant", status="unresolved"),
        }
    )
    coordinator = first.wrap(fake)
    for tid, q in (
        ("spider", "How many legs does a spider have?"),
        ("ant", "How many legs does an ant have?"),
    ):
        asyncio.run(coordinator.decide(Task(id=tid, prompt=q)))
    assert "count legs of animals" in fake.prompts["spider"]
    # the spider fact (verified) is in working memory when the ant question is asked
    assert "spider have? Answer: 8" in fake.prompts["ant"]
    assert [f.text for f in first.working.facts(verified=True)] == [
        "How many legs does a spider have? Answer: 8"
    ]
    assert first.working.status("ant") == "unresolved"
    assert [m.text for m in first.store.list()] == [  # type: ignore[union-attr]
        "How many legs does a spider have? Answer: 8"
    ]

    second = attach_memory(spec, ledger, crew="zoo", run_id="r2")
    assert second is not None
    fake2 = FakeCoordinator({"spider": decision("8", task_id="spider")})
    asyncio.run(
        second.wrap(fake2).decide(Task(id="spider", prompt="How many legs does a spider have?"))
    )
    assert "(verified)] How many legs does a spider have? Answer: 8" in fake2.prompts["spider"]
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(
            "SELECT run_id, task_id, source, action FROM memory_context ORDER BY recorded_at, ref"
        ).fetchall()
    assert ("r2", "spider", "long_term", "included") in rows
    assert {r[3] for r in rows} <= {"included", "summarised", "omitted"}


def test_memory_off_means_no_hook(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.duckdb")
    assert attach_memory(None, ledger, crew="c", run_id="r") is None
    assert attach_memory(MemorySpec(enabled=False), ledger, crew="c", run_id="r") is None


def test_unknown_embedder_is_a_config_error() -> None:
    import pytest

    from accord.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'llama'"):
        MemorySpec(embedder="lama")
