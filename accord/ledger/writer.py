"""The Ledger: the only writer to the DuckDB cost ledger; the run enqueues, one thread writes.

`record` only builds the rows and queues them. A writer thread (started when there is work,
gone when there is none) writes them in batches: when `batch_size` decisions wait, when the
oldest has waited `flush_seconds`, or at once for a run's start and end and for `flush`.
Each batch is one transaction, and inserts are idempotent (primary keys, `ON CONFLICT DO
NOTHING`; a decision already stored keeps its attempts), so a replayed or resumed decision
is stored once. The file is attached only while a batch (or another user) needs it: between
batches other processes can read it, and when `finish_run` returns the file alone holds the
run (no `.wal`). A SIGKILL loses what was not yet written: at most one batch.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from accord.consensus.records import Decision
from accord.ledger.audit_seal import seal_run
from accord.ledger.batch import Batch, LedgerWriteError, Rejected, write_batch
from accord.ledger.database import Database
from accord.ledger.record_rows import attempt_rows, decision_row
from accord.ledger.schema import migrate
from accord.models.pricing import PriceTable

DEFAULT_PATH = Path(".accord") / "ledger.duckdb"
IDLE_S = 0.25  # the writer lets go of the file after this long without work ...
MAX_HOLD_S = 1.0  # ... or after holding it this long: other processes read in the gaps
_LET_GO = -1
_START_RUN = (
    "INSERT INTO runs (run_id, crew, source, backend, policy, seed, status, started_at, config) "
    "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)"
)
_RESTART = " ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL"
_FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random suffix."""
    return _now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class Ledger:
    """Appends runs, decisions and attempts to DuckDB, off the caller's path (see the module).

    `path` is a file, `:memory:`, or a `Database` shared with the run's other stores (memory,
    bench). `keep_open=True` keeps the file attached from the first use to `close()`: a
    process that runs many crews back to back skips an open and a checkpoint per run, but
    other processes cannot read the file meanwhile.
    """

    def __init__(
        self,
        path: str | Path | Database = DEFAULT_PATH,
        *,
        prices: PriceTable | None = None,
        batch_size: int = 256,
        flush_seconds: float = 1.0,
        keep_open: bool = False,
        store_prompts: bool = True,
    ) -> None:
        self.store_prompts = store_prompts  # each attempt's messages, in attempts.prompt
        self._owns = not isinstance(path, Database)
        self.database = path if isinstance(path, Database) else Database(path)
        self.path = self.database.path
        self.prices = prices or PriceTable()
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.keep_open = keep_open
        self._hold: Any = None
        self._migrated = False
        self._cond = threading.Condition()
        self._batch = Batch()
        self._oldest = 0.0  # when the oldest queued decision arrived
        self._asked = 0  # flushes asked for, and written (or failed): flush() waits for its own
        self._done = 0
        self._written = 0  # decisions written by this ledger
        self._running: set[str] = set()  # runs started and not finished
        self._busy = False  # a batch is being written
        self.rejected: list[Rejected] = []  # decisions the database refused (the rest was kept)
        self._error: BaseException | None = None  # the last write's failure, for tickets
        self._failed = 0  # up to this one
        self._thread: threading.Thread | None = None
        if self.database.memory or not Path(self.path).exists():
            with self.connect():  # a new file is created and migrated at once
                pass

    # -- the file ---------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the ledger's database (its schema up to date)."""
        with self.database.cursor() as db:
            self._migrate(db)
            yield db

    def _migrate(self, db: duckdb.DuckDBPyConnection) -> None:
        if not self._migrated:
            migrate(db, path=self.path)
            self._migrated = True
            if self.keep_open and self._hold is None:
                self._hold = self.database.hold()
                self._hold.__enter__()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (after flushing) and return all rows."""
        self.flush()
        with self.connect() as db:
            return db.execute(sql, list(params)).fetchall()

    def release(self) -> None:
        """Let go of a file kept open (`keep_open`); the next use opens it again."""
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.__exit__(None, None, None)
            self._migrated = False

    def close(self) -> None:
        """Write what is queued and let go of the file."""
        try:
            self.flush()
        finally:
            self.release()
            if self._owns:
                self.database.close()

    # -- runs -------------------------------------------------------------------------------

    def start_run(
        self,
        crew: str,
        *,
        source: str | None = None,
        backend: str | None = None,
        policy: str | None = None,
        seed: int = 0,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new run (status `running`, written before this returns); its id.

        An existing `run_id` (a resumed run) is set `running` again.
        """
        sql = _START_RUN if run_id is None else _START_RUN + _RESTART
        run_id = run_id or new_run_id()
        values = [run_id, crew, source, backend, policy, seed, _now()]
        values.append(json.dumps(config or {}, default=str))
        statement = (sql, values)
        with self._cond:
            self._running.add(run_id)
            self._batch.statements.append(statement)
        try:
            self.flush()  # written now: a resume finds the run even after a SIGKILL
        except BaseException:
            with self._cond:  # a run that failed to start is not written later
                self._running.discard(run_id)
                kept = self._batch.statements
                self._batch.statements = [s for s in kept if s is not statement]
            raise
        return run_id

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Write everything queued and mark the run `status` (finished, failed, interrupted).

        If that fails, the end stays queued and is written by this ledger's next write.
        """
        with self._cond:
            self._running.discard(run_id)
            self._batch.statements.append((_FINISH_RUN, [status, _now(), run_id]))
        with self.database.hold():  # one open and one checkpoint for the end and the seal
            self.flush()
            seal_run(self, run_id)  # the audit trail chains the run's decisions, costs, end

    @contextmanager
    def run(self, crew: str, **meta: Any) -> Iterator[RunLog]:
        """A run from start to end: `finished`, `interrupted` (Ctrl-C, a cancelled task) or
        `failed` (any other error), whatever leaves the block; a status set on the log
        (`log.status`) replaces `finished`. Takes `start_run`'s keywords, and `prices` and
        `store_prompts` for the run's rows."""
        prices = meta.pop("prices", None)
        prompts = meta.pop("store_prompts", None)
        log = RunLog(self, self.start_run(crew, **meta), prices or self.prices, prompts)
        status = "failed"
        try:
            yield log
            status = log.status or "finished"
        except BaseException as exc:
            if _is_interrupt(exc):
                status = "interrupted"
            raise
        finally:
            self.finish_run(log.id, status)

    # -- decisions --------------------------------------------------------------------------

    def record(
        self,
        run_id: str,
        decision: Decision,
        *,
        expected: Sequence[str] = (),
        correct: bool | None = None,
        prices: PriceTable | None = None,
        store_prompts: bool | None = None,
    ) -> None:
        """Queue one decision and its attempts (priced with `prices`, or the ledger's).

        `store_prompts` (the ledger's `store_prompts` when None) keeps each attempt's
        messages in the `prompt` column.
        """
        prompts = self.store_prompts if store_prompts is None else store_prompts
        rows = attempt_rows(run_id, decision, prices or self.prices, prompts)
        row = decision_row(run_id, decision, rows, expected, correct, _now())
        with self._cond:
            if self._batch.add(row, rows) == 1:
                self._oldest = time.monotonic()
            if len(self._batch.decisions) >= self.batch_size:
                self._asked += 1
            self._wake()

    def flush(self) -> int:
        """Write what is queued now and wait for it; the number of new decisions written.

        Raises what stopped the write (the rows stay queued for the next one).
        """
        with self._cond:
            if self._batch.empty() and self._done == self._asked and not self._busy:
                return 0  # nothing queued, nothing under way
            self._asked += 1
            ticket = self._asked
            written = self._written
            self._wake()
            while self._done < ticket:
                self._cond.wait()
            if self._error is not None and ticket <= self._failed:
                raise self._error
            return self._written - written

    # -- the writer thread ------------------------------------------------------------------

    def _wake(self) -> None:
        """Start the writer if it is not running, or tell it there is news (lock held)."""
        if self._thread is None:
            # not a daemon: at exit the interpreter waits for it to write what is queued
            self._thread = threading.Thread(target=self._drain, name="accord-ledger-writer")
            self._thread.start()
        else:
            self._cond.notify_all()

    def _drain(self) -> None:
        """The writer thread: write batches as they fall due, keeping the file attached while
        runs go on and batches follow each other; let it go (a checkpoint) when the last run
        ends, after `IDLE_S` without work, or after `MAX_HOLD_S` of holding it."""
        held: AbstractContextManager[None] | None = None
        since = 0.0
        try:
            while True:
                with self._cond:
                    ticket = self._wait_for_work(held is not None)
                    if ticket is None:
                        break
                    if ticket == _LET_GO:
                        if held is not None:
                            held.__exit__(None, None, None)
                        held = None
                        continue
                    batch, self._batch = self._batch, Batch()
                    self._busy = True
                try:
                    if held is None:
                        held, since = self.database.hold(), time.monotonic()
                        held.__enter__()
                    written, error = self._write(batch), None
                except BaseException as exc:  # handed to whoever flushes next
                    written, error = 0, exc
                if held is not None and (
                    error is not None or not self._running or time.monotonic() - since > MAX_HOLD_S
                ):
                    held.__exit__(None, None, None)
                    held = None
                with self._cond:
                    self._wrote(ticket, batch, written, error)
                    if error is not None:
                        break
        finally:
            if held is not None:
                held.__exit__(None, None, None)
            with self._cond:
                self._thread = None
                self._cond.notify_all()
                if self._asked > self._done or (not self._batch.empty() and self._error is None):
                    self._wake()  # asked for while this thread was ending

    def _wrote(self, ticket: int, batch: Batch, written: int, error: BaseException | None) -> None:
        """Tell the waiters how the batch went (lock held)."""
        if error is not None:
            self._batch = batch.merged(self._batch)  # kept, ahead of what came since
            self._error = error
            ticket = self._failed = self._asked  # every waiter hears of it
        else:
            self._error = None
        self._written += written
        self._busy = False
        self._done = max(self._done, ticket)
        self._cond.notify_all()

    def _wait_for_work(self, holding: bool) -> int | None:
        """The flush ticket a batch is due for; None when there is nothing to write (after
        `IDLE_S` of waiting for some, when the file is held); `_LET_GO` when the file is held
        and the next batch is not due for a while (lock held)."""
        idle_until = time.monotonic() + (IDLE_S if holding else 0.0)
        while True:
            if self._asked > self._done:
                return self._asked
            now = time.monotonic()
            if self._batch.empty():
                if now >= idle_until or not threading.main_thread().is_alive():
                    return None
                wait = idle_until - now
            else:
                wait = self._oldest + self.flush_seconds - now
                if wait <= 0 or not threading.main_thread().is_alive():
                    return self._asked
                if holding and wait > IDLE_S:
                    return _LET_GO  # other processes read until it is due
            self._cond.wait(min(wait, 0.1))  # short waits: notice the program ending

    def _write(self, batch: Batch) -> int:
        if batch.empty():
            return 0
        try:
            with self.connect() as db:
                written, rejected = write_batch(db, batch)
        except (duckdb.IOException, duckdb.TransactionException, OSError) as exc:
            raise LedgerWriteError(self.path, exc) from exc
        self.rejected.extend(rejected)
        return written


class RunLog:
    """One run being recorded: its id, and `record` for its decisions (see `Ledger.run`)."""

    def __init__(
        self, ledger: Ledger, run_id: str, prices: PriceTable, store_prompts: bool | None = None
    ) -> None:
        self.ledger = ledger
        self.id = run_id
        self.prices = prices
        self.store_prompts = store_prompts
        self.status: str | None = None  # how the run ends when its block ends without error

    def record(
        self, decision: Decision, *, expected: Sequence[str] = (), correct: bool | None = None
    ) -> None:
        """Queue one decision of this run."""
        self.ledger.record(
            self.id,
            decision,
            expected=expected,
            correct=correct,
            prices=self.prices,
            store_prompts=self.store_prompts,
        )


def _is_interrupt(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
