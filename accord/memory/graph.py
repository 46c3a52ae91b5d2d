"""A small knowledge graph: (subject, relation, object) triples tied to the decision behind them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import duckdb

from accord.memory.records import Triple, now


class _Database(Protocol):
    """What the graph needs of the memory store: a connection to its database."""

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


_COLUMNS = "id, subject, relation, object, crew, run_id, task_id, item_id"


def _triple(row: Sequence[Any]) -> Triple:
    return Triple(*row)


class KnowledgeGraph:
    """Triples in the memory store's database, with neighbourhood lookup."""

    def __init__(self, store: _Database) -> None:
        self.store = store

    def add(
        self,
        subject: str,
        relation: str,
        obj: str,
        *,
        crew: str,
        run_id: str | None = None,
        task_id: str | None = None,
        item_id: int | None = None,
    ) -> int:
        """Add one edge (its source decision is `run_id`/`task_id`); return its id.

        An edge the crew already has is kept once (the first decision behind it stays).
        """
        with self.store.connect() as db:
            same = db.execute(
                "SELECT id FROM memory_triples WHERE crew = ? AND subject = ? AND "
                "relation = ? AND object = ? LIMIT 1",
                [crew, subject, relation, obj],
            ).fetchone()
            if same is not None:
                return int(same[0])
            inserted = db.execute(
                "INSERT INTO memory_triples (crew, subject, relation, object, item_id, run_id, "
                "task_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [crew, subject, relation, obj, item_id, run_id, task_id, now()],
            ).fetchone()
        assert inserted is not None  # INSERT ... RETURNING gives one row
        return int(inserted[0])

    def neighbours(
        self, entity: str, *, depth: int = 1, crew: str | None = None, limit: int = 200
    ) -> list[Triple]:
        """Edges within `depth` hops of `entity` (either direction), nearest first."""
        seen_ids: set[int] = set()
        out: list[Triple] = []
        frontier = {entity}
        visited = {entity}
        crew_clause = " AND crew = ?" if crew else ""
        with self.store.connect() as db:
            for _ in range(max(1, depth)):
                if not frontier or len(out) >= limit:
                    break
                names = sorted(frontier)
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM memory_triples WHERE (list_contains(?, subject) "
                    f"OR list_contains(?, object)){crew_clause} ORDER BY id",
                    [names, names, *([crew] if crew else [])],
                ).fetchall()
                frontier = set()
                for row in rows:
                    triple = _triple(row)
                    if triple.id in seen_ids:
                        continue
                    seen_ids.add(triple.id)
                    out.append(triple)
                    for name in (triple.subject, triple.object):
                        if name not in visited:
                            visited.add(name)
                            frontier.add(name)
        return out[:limit]
