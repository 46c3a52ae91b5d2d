"""`accord memory list|search|forget`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from accord.cli.app import app
from accord.memory import MemoryStore


def test_list_search_forget(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    store = MemoryStore(db, embedder="hash")
    keep = store.remember("spiders have eight legs", crew="zoo")
    gone = store.remember("paris is the capital of france", crew="geo")
    store.graph.add("paris", "capital_of", "france", crew="geo", item_id=gone)
    runner = CliRunner()
    out = runner.invoke(app, ["memory", "list", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "2 memories, 2 embeddings, 1 triples" in out.output
    out = runner.invoke(
        app, ["memory", "search", "spider legs", "--db", str(db), "-k", "1", "--embedder", "hash"]
    )
    assert out.exit_code == 0, out.output
    assert "spiders" in out.output and "paris" not in out.output
    out = runner.invoke(app, ["memory", "forget", "--crew", "geo", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "forgot 1 memories, 1 embeddings, 1 triples" in out.output
    assert [m.id for m in store.list()] == [keep]
