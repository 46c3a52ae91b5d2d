"""Working memory of one run: goals, intermediate results, task status and facts."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from accord.consensus.records import Decision
from accord.memory.packing import Candidate
from accord.memory.records import MemoryItem, MemoryKind, verification, verifies


class WorkingMemory:
    """What a run knows so far. Roles read and write it; only decisions verify facts.

    A fact is verified only when it is added with the accepted (validated or consensus)
    decision it came from; there is no other way to mark it verified.
    """

    def __init__(self, run_id: str | None = None, *, goals: Iterable[str] = ()) -> None:
        self.run_id = run_id
        self._items: list[MemoryItem] = []
        self._status: dict[str, MemoryItem] = {}
        self._lock = threading.Lock()
        for goal in goals:
            self.add_goal(goal)

    def _add(
        self,
        kind: MemoryKind,
        text: str,
        *,
        verified: bool = False,
        task_id: str | None = None,
        source: str | None = None,
    ) -> MemoryItem:
        with self._lock:
            seq = len(self._items) + len(self._status)
            item = MemoryItem(seq + 1, kind, text.strip(), seq, verified, task_id, source)
            if kind == "status" and task_id is not None:
                self._status[task_id] = item
            else:
                self._items.append(item)
        return item

    def add_goal(self, text: str) -> MemoryItem:
        """Record a goal of the run."""
        return self._add("goal", text)

    def add_result(self, task_id: str, text: str) -> MemoryItem:
        """Record an intermediate result of `task_id` (unverified)."""
        return self._add("result", text, task_id=task_id)

    def add_note(self, text: str, *, task_id: str | None = None) -> MemoryItem:
        """Record a free-form note from a role."""
        return self._add("note", text, task_id=task_id)

    def set_status(self, task_id: str, status: str) -> MemoryItem:
        """Set `task_id`'s status (replacing the earlier one)."""
        return self._add("status", f"task {task_id}: {status}", task_id=task_id)

    def add_fact(self, text: str, *, decision: Decision | None = None) -> MemoryItem:
        """Record a fact; verified only if `decision` is accepted and backs it."""
        if verifies(decision):
            assert decision is not None
            return self._add(
                "fact", text, verified=True, task_id=decision.task_id, source=verification(decision)
            )
        return self._add("fact", text, task_id=decision.task_id if decision else None)

    def items(self, kind: MemoryKind | None = None) -> list[MemoryItem]:
        """Items in the order they were written (latest status per task)."""
        with self._lock:
            items = sorted([*self._items, *self._status.values()], key=lambda i: i.seq)
        return [i for i in items if kind is None or i.kind == kind]

    def facts(self, *, verified: bool | None = None) -> list[MemoryItem]:
        """Facts, optionally only verified (True) or only unverified (False) ones."""
        return [i for i in self.items("fact") if verified is None or i.verified == verified]

    def status(self, task_id: str) -> str | None:
        """The current status of `task_id`, if any."""
        item = self._status.get(task_id)
        return item.text.split(": ", 1)[1] if item else None

    def candidates(self, relevance: list[float]) -> list[Candidate]:
        """Items as packing candidates; `relevance[i]` scores `items()[i]`."""
        items = self.items()
        n = max(1, len(items) - 1)
        return [
            Candidate(
                f"wm:{item.id}",
                item.kind,
                item.text,
                rel,
                rank / n if len(items) > 1 else 1.0,
                item.verified,
                "working",
            )
            for rank, (item, rel) in enumerate(zip(items, relevance, strict=True))
        ]
