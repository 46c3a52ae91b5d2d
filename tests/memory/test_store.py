"""Long-term memory: retrieval by cosine similarity in DuckDB, filters, forgetting, graph."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from accord.errors import ConfigError
from accord.ledger.writer import Ledger
from accord.memory import MemoryStore

FACTS = {
    "spider": "A spider has eight legs.",
    "paris": "Paris is the capital of France.",
    "water": "Water boils at 100 degrees Celsius at sea level.",
    "python": "Guido van Rossum created the Python programming language.",
    "ocean": "The Pacific is the largest ocean on Earth.",
}


def test_retrieval_with_the_embedded_model(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "l.duckdb", embedder="llama")
    ids = {key: store.remember(text, crew="c") for key, text in FACTS.items()}
    queries = {
        "How many legs does a spider have?": "spider",
        "Which city is the French capital?": "paris",
        "Who made Python?": "python",
        "What temperature does water boil at?": "water",
    }
    for query, key in queries.items():
        found = store.search(query, k=2, crew="c")
        assert found[0].id == ids[key], (query, [m.text for m in found])
        assert found[0].score is not None and found[0].score >= found[1].score  # type: ignore[operator]


def test_metadata_filters(hash_store: MemoryStore) -> None:
    old = datetime(2020, 1, 1)
    a = hash_store.remember("spider legs eight", crew="zoo", role="biologist", created_at=old)
    b = hash_store.remember("spider legs eight", crew="zoo", role="poet", kind="note")
    c = hash_store.remember("spider legs eight", crew="other")
    q = "spider legs"
    assert {m.id for m in hash_store.search(q, crew="zoo")} == {a, b}
    assert [m.id for m in hash_store.search(q, crew="zoo", role="poet")] == [b]
    assert [m.id for m in hash_store.search(q, kinds=["note"])] == [b]
    assert {m.id for m in hash_store.search(q, since=old + timedelta(days=1))} == {b, c}
    assert [m.id for m in hash_store.search(q, until=old + timedelta(days=1))] == [a]
    assert hash_store.search("completely unrelated words", min_score=0.5) == []


def test_same_memory_is_stored_once(hash_store: MemoryStore) -> None:
    first = hash_store.remember("a fact", crew="c", verified=True)
    assert hash_store.remember("a fact", crew="c", verified=True) == first
    assert hash_store.counts()["items"] == 1


def test_forget_removes_items_embeddings_and_triples(hash_store: MemoryStore) -> None:
    keep = hash_store.remember("keep me", crew="c")
    gone = hash_store.remember("forget me", crew="c")
    hash_store.graph.add("forget", "means", "remove", crew="c", item_id=gone)
    hash_store.graph.add("keep", "means", "hold", crew="c", item_id=keep)
    report = hash_store.forget([gone])
    assert (report.items, report.embeddings, report.triples) == (1, 1, 1)
    assert [m.id for m in hash_store.list()] == [keep]
    assert hash_store.counts() == {"items": 1, "embeddings": 1, "triples": 1}
    assert hash_store.search("forget me")[0].id == keep
    report = hash_store.forget(crew="c")
    assert hash_store.counts() == {"items": 0, "embeddings": 0, "triples": 0}
    assert report.items == 1
    with pytest.raises(ConfigError):
        hash_store.forget()


def test_retention_keeps_the_newest(hash_store: MemoryStore) -> None:
    base = datetime(2026, 1, 1)
    ids = [
        hash_store.remember(f"fact {i}", crew="c", created_at=base + timedelta(hours=i))
        for i in range(5)
    ]
    other = hash_store.remember("fact x", crew="d", created_at=base)
    report = hash_store.retain("c", max_items=2)
    assert report.items == 3
    assert {m.id for m in hash_store.list()} == {ids[3], ids[4], other}
    assert hash_store.retain("c", max_age_days=1).items == 2
    assert [m.id for m in hash_store.list()] == [other]


def test_knowledge_graph_neighbourhood(hash_store: MemoryStore) -> None:
    g = hash_store.graph
    g.add("spider", "is_a", "arachnid", crew="c", run_id="r1", task_id="t1")
    g.add("arachnid", "has", "eight legs", crew="c")
    g.add("scorpion", "is_a", "arachnid", crew="c")
    g.add("paris", "capital_of", "france", crew="c")
    assert g.add("spider", "is_a", "arachnid", crew="c") == 1
    one = g.neighbours("spider")
    assert [(t.subject, t.object) for t in one] == [("spider", "arachnid")]
    assert one[0].run_id == "r1" and one[0].task_id == "t1"
    two = {(t.subject, t.relation, t.object) for t in g.neighbours("spider", depth=2)}
    assert two == {
        ("spider", "is_a", "arachnid"),
        ("arachnid", "has", "eight legs"),
        ("scorpion", "is_a", "arachnid"),
    }
    assert g.neighbours("spider", crew="other") == []


def test_memory_shares_the_ledger_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    store = MemoryStore.for_ledger(ledger, embedder="hash")
    store.remember("a fact", crew="c")
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute("SELECT table_name FROM information_schema.tables").fetchall()
    tables = {r[0] for r in rows}
    assert {
        "runs",
        "decisions",
        "memory_items",
        "memory_vectors_256",
        "memory_triples",
        "memory_context",
        "memory_migrations",
    } <= tables
    mem = MemoryStore.for_ledger(Ledger(":memory:"), embedder="hash")
    mem.remember("in memory", crew="c")
    assert mem.counts()["items"] == 1


def test_migration_moves_list_vectors_to_fixed_size_tables(tmp_path: Path) -> None:
    from accord.memory import schema

    with duckdb.connect(str(tmp_path / "old.duckdb")) as db:
        db.execute(
            "CREATE TABLE memory_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP DEFAULT current_timestamp)"
        )
        for version, (name, fn) in enumerate(schema.MIGRATIONS[:3], start=1):
            fn(db)
            db.execute(
                "INSERT INTO memory_migrations (version, name) VALUES (?, ?)", [version, name]
            )
        db.execute(
            "INSERT INTO memory_items (crew, kind, text, verified, created_at) "
            "VALUES ('c', 'fact', 'old fact', true, now())"
        )
        db.execute("INSERT INTO memory_embeddings VALUES (1, 'hash256', 3, [1.0, 0.0, 0.0])")
        assert schema.migrate(db) == ["m004_fixed_size_vectors"]
        assert schema.vector_tables(db) == ["memory_vectors_3"]
        row = db.execute("SELECT item_id, embedding FROM memory_vectors_3").fetchone()
    assert row == (1, (1.0, 0.0, 0.0)) or row == (1, [1.0, 0.0, 0.0])


def test_remembering_again_refreshes_and_re_embeds(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    first = MemoryStore(path, embedder="hash").remember("spiders have eight legs", crew="c")
    store = MemoryStore(path, embedder="llama-only")
    assert store.search("spider legs") == []  # nothing embedded with this embedder yet
    assert store.remember("spiders have eight legs", crew="c") == first
    assert [m.id for m in store.search("spider legs")] == [first]
    assert store.counts() == {"items": 1, "triples": 0, "embeddings": 2}
    assert store.remember("spiders have eight legs", crew="c") == first
    assert store.counts()["embeddings"] == 2
