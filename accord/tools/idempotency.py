"""Idempotency: a write with the same key as an earlier successful one returns its result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from accord.ledger.database import Database
from accord.tools.base import canonical
from accord.tools.calls import Caller, CallOutcome, CallRequest


class KeyStore(Protocol):
    """Remembers the result of each completed write by its idempotency key."""

    def get(self, key: str) -> Any | None:
        """The stored result for `key` (None when unseen)."""
        ...

    def put(self, key: str, result: Any) -> None:
        """Remember `result` under `key`."""
        ...


class MemoryKeys:
    """Keys in a dict: they last as long as the executor."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        """The stored result for `key`."""
        return self._items.get(key)

    def put(self, key: str, result: Any) -> None:
        """Remember `result` under `key`."""
        self._items[key] = result


class DuckDBKeys:
    """Keys in a DuckDB table, so a duplicate is caught across runs too."""

    def __init__(
        self,
        path: str | Path,
        table: str = "idempotency_keys",
        *,
        before: Callable[[], object] | None = None,
    ) -> None:
        self.path = str(path)
        self.table = table
        # run once before the first use: the file's owner opens it (and, returning its
        # Database, shares it: one owner per file)
        self._before = before
        self._database: Database | None = None

    def _open(self) -> Any:
        if self._database is None:
            owner = self._before() if self._before is not None else None
            database = owner if isinstance(owner, Database) else Database(self.path)
            with database.cursor() as db:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} (key VARCHAR PRIMARY KEY, "
                    "result JSON, created_at TIMESTAMP DEFAULT current_timestamp)"
                )
            self._database = database
        return self._database.cursor()

    def get(self, key: str) -> Any | None:
        """The stored result for `key`."""
        with self._open() as db:
            row = db.execute(f"SELECT result FROM {self.table} WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, result: Any) -> None:
        """Remember `result` under `key` (the first result wins)."""
        with self._open() as db:
            db.execute(
                f"INSERT INTO {self.table} (key, result) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [key, canonical(result)],
            )


class Idempotent:
    """Wraps a caller: a repeated write is answered from the store, not run again."""

    def __init__(self, inner: Caller, store: KeyStore | None = None) -> None:
        self.inner = inner
        self.store = store or MemoryKeys()

    def __call__(self, request: CallRequest) -> CallOutcome:
        """Return the earlier result for a seen key; run and remember a new write."""
        key = request.tool.idempotency_key(request.args)
        if key is None:
            return self.inner(request)
        earlier = self.store.get(key)
        if earlier is not None:
            return CallOutcome(
                request,
                "deduplicated",
                "idempotency",
                f"same write as an earlier call (key {key})",
                earlier,
                key,
            )
        outcome = self.inner(request)
        if outcome.decision == "allowed":
            self.store.put(key, outcome.result if outcome.result is not None else True)
        return CallOutcome(
            outcome.request,
            outcome.decision,
            outcome.policy,
            outcome.reason,
            outcome.result,
            key,
            outcome.notes,
        )
