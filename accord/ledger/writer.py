"""The Ledger: the only writer to the DuckDB cost ledger; batched and append-only."""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from accord.consensus.records import Attempt, Decision
from accord.errors import ConfigError
from accord.ledger.audit_seal import seal_run
from accord.ledger.locking import IDLE_RELEASE_S, MAX_HOLD_S, HeldConnection
from accord.ledger.schema import migrate
from accord.models.pricing import PriceTable

DEFAULT_PATH = Path(".accord") / "ledger.duckdb"

_DECISION_COLUMNS = (
    "run_id, task_id, policy, path, stop_reason, status, n_attempts, prompt_tokens, "
    "completion_tokens, wall_ms, model_ms, cost_usd, flops, answer, confidence, expected, "
    "correct, decided_at, votes"
)
_ATTEMPT_COLUMNS = (
    "run_id, task_id, attempt_no, role, model, kind, prompt_tokens, completion_tokens, "
    "model_ms, temperature, seed, answer, raw, confidence, option_prob, mean_logprob, "
    "verdict_ok, verdict_reason, cached_prompt_tokens, critic_score, prompt, cost_usd, flops"
)
_FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _prompt_json(a: Attempt) -> str | None:
    """An attempt's messages as the JSON the `prompt` column holds (None when it has none)."""
    if not a.messages:
        return None
    return json.dumps([{"role": r, "content": c} for r, c in a.messages], ensure_ascii=False)


def _votes_json(decision: Decision) -> str | None:
    """A vote's tally as the JSON the `votes` column holds (None without a vote)."""
    if decision.groups:  # the groups the vote saw: what stood for each, share, members
        return json.dumps(
            [
                {"answer": g.answer, "votes": g.votes, "share": round(g.share, 6),
                 "members": list(g.members)}
                for g in decision.groups
            ],
            ensure_ascii=False,
        )  # fmt: skip
    if not decision.votes:
        return None
    tally = [
        {"answer": a, "votes": int(n) if float(n).is_integer() else n} for a, n in decision.votes
    ]
    return json.dumps(tally, ensure_ascii=False)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random suffix."""
    return _now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _insert(
    db: duckdb.DuckDBPyConnection, table: str, columns: str, rows: list[tuple[Any, ...]]
) -> None:
    """Insert `rows` through DuckDB's appender: one statement for the whole batch.

    DuckDB's executemany runs one statement per row (~1 ms each); a scan of registered numpy
    columns was ~25x faster than that, and the appender ~1.5x faster again.
    """
    if not rows:
        return
    appender = db.appender(table, columns=[c.strip() for c in columns.split(",")])
    # NaN (a backend's log-prob, say) is stored as NULL, as a scan of numpy columns stored it:
    # one NaN would otherwise make every sum and mean over the column NaN
    appender.append_rows([tuple(None if v != v else v for v in row) for row in rows])
    appender.flush()


def _unrecorded(
    db: duckdb.DuckDBPyConnection,
    decisions: list[tuple[Any, ...]],
    attempts: list[tuple[Any, ...]],
    known: dict[str, set[str]] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The decision rows (and their attempts) whose (run_id, task_id) is not yet stored.

    `known` maps run ids whose stored task ids are all known here (runs this writer started
    under a new id) to those ids; only the other runs are looked up in the database.
    """
    known = known or {}
    runs = sorted({row[0] for row in decisions} - known.keys())
    seen = {(run, task) for run, tasks in known.items() for task in tasks}
    if runs:
        seen.update(
            db.execute(
                "SELECT run_id, task_id FROM decisions WHERE list_contains(?, run_id)", [runs]
            ).fetchall()
        )
    fresh = []
    for row in decisions:
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            fresh.append(row)
    keys = {(row[0], row[1]) for row in fresh}
    fresh_attempts, taken = [], set()
    for row in attempts:
        if (row[0], row[1]) in keys and row[:3] not in taken:
            taken.add(row[:3])
            fresh_attempts.append(row)
    return fresh, fresh_attempts


class Ledger:
    """Appends runs, decisions and attempts to DuckDB in batches.

    With a file path, one connection serves a run from `start_run` to `finish_run`; it is
    also closed after `idle_s` without a write and after `max_hold_s` of being open, so other
    processes read the file in those gaps (their open waits for one). Closing checkpoints:
    when `finish_run` returns, the file alone holds the whole run, with no WAL beside it, and
    is free for other processes and for a raw `duckdb.connect`. Outside a run the file is
    opened only while it is used, and migrations are checked on the first use (a new file is
    created and migrated at once). Files are opened through one DuckDB instance per process
    (`accord.ledger.files`): ~1 ms to open and ~3-8 ms to checkpoint and close. In this
    process, read through `ledger.query` or `accord.ledger.open_readonly` while a run writes:
    a raw `duckdb.connect(path)` is refused while the file is open here. `:memory:` keeps one
    connection for the ledger's life.

    `open_in_background` (called by `Crew.run`) opens the file in a thread while agents start
    and the first tasks run, when the open is slow: the first in a process (~12 ms to create
    its DuckDB instance), or one that waits for another process to let go of the file.

    `keep_open=True` keeps the file between runs too (still let go after `idle_s` or
    `max_hold_s`, and by `close`): for a process that runs many crews back to back on one
    Ledger, each run then skips the open and the checkpoint.
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_PATH,
        *,
        prices: PriceTable | None = None,
        batch_size: int = 256,
        flush_seconds: float = 1.0,
        idle_s: float = IDLE_RELEASE_S,
        max_hold_s: float = MAX_HOLD_S,
        keep_open: bool = False,
        store_prompts: bool = True,
    ) -> None:
        self.path = str(path)
        self.store_prompts = store_prompts  # each attempt's messages, in attempts.prompt
        self.prices = prices or PriceTable()
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._decisions: list[tuple[Any, ...]] = []
        self._attempts: list[tuple[Any, ...]] = []
        # runs started here under a new id -> the task ids written for them: their replays
        # are caught without a lookup (other runs, e.g. resumed ones, are checked in the DB)
        self._written: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._memory = self.path == ":memory:"
        self._db: duckdb.DuckDBPyConnection | None = None
        self._held: HeldConnection | None = None
        self._running: set[str] = set()  # runs started and not finished: the file is held
        self._migrated = False
        # statements (sql, parameters) for the runs table that wait for the file: a run
        # started while it opens in the background, a run end whose write failed. Written
        # first thing, in order, by the next use of the connection.
        self._pending: list[tuple[str, list[Any]]] = []
        self.keep_open = keep_open
        if not self._memory:
            path_ = Path(self.path)
            path_.parent.mkdir(parents=True, exist_ok=True)
            self._held = HeldConnection(self.path, idle_s=idle_s, max_hold_s=max_hold_s)
            # a dropped Ledger lets go of the file (the idle timer refers to the holder only)
            weakref.finalize(self, self._held.release_without_waiting)
            if path_.exists():
                return  # migrated on first use, by the connection the run then keeps
        with self.connect():
            pass

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The ledger's read-write connection (see the class note on when it is open).

        For a file it is a cursor on this process's DuckDB instance with the file as its
        default database: filter catalog listings on `current_database()`, and run `USE` on a
        `.cursor()` taken from it.
        """
        if self._held is None:
            if self._db is None:
                self._db = duckdb.connect(":memory:")
                migrate(self._db)
            if self._pending:
                self._write_pending(self._db)
            yield self._db
            return
        with self._held.use(self._open_failed) as db:
            self._migrate(db)
            if self._pending:
                self._write_pending(db)
            yield db
        self.release_unless_running()  # outside a run the file is not kept

    def _migrate(self, db: duckdb.DuckDBPyConnection) -> None:
        """Bring the schema up to date, once per ledger."""
        if not self._migrated:
            migrate(db)
            self._migrated = True

    def _write_pending(self, db: duckdb.DuckDBPyConnection) -> None:
        """Execute the queued statements in order, each dropped from the queue once done."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                statement = self._pending[0]
            db.execute(*statement)  # on an error it stays queued for the next use
            with self._lock:
                if self._pending and self._pending[0] is statement:
                    self._pending.pop(0)

    def open_in_background(self) -> None:
        """Open the ledger file now if that takes no waiting, or else in a background thread.

        Until it is open, `start_run` does not wait for it: the run's row is written first
        thing once the file is open, and decisions are buffered as usual. `Crew.run` calls
        this before starting its agents, so a slow open overlaps the start-up and the first
        tasks. If the open fails, the next `record`, `flush` or `finish_run` raises.

        Only a slow open goes to the background: the first in a process, which creates its
        DuckDB instance (~12 ms), or one that waits for another process's lock. A normal
        open takes ~1 ms, and in a thread it would take longer: DuckDB takes the GIL back
        several times per statement, each time waiting up to a switch interval (5 ms) behind a
        busy main thread, so the open finished after the run's tasks (measured: ~13 ms late
        on 100 scripted tasks).
        """
        if self._held is not None:
            self._held.prefetch(self._migrate, ready=self._write_pending)

    def _raise_open_error(self) -> None:
        """Raise the failure of a background open now, rather than at the next flush."""
        if self._held is None:
            return
        error = self._held.open_error()
        if error is not None:
            with self.connect():  # adopts the failed open: raises it as `connect` would
                pass

    def _open_failed(self, exc: duckdb.Error) -> ConfigError:
        return ConfigError(
            f"cannot open the ledger: {exc}",
            path=self.path,
            hint="pass another --db path or close the other writer",
        )

    def stop_opening(self) -> None:
        """Abandon a background open (`open_in_background`) that is still under way."""
        if self._held is not None:
            self._held.stop_opening()

    def release_unless_running(self) -> None:
        """Let go of the file unless a run holds it or `keep_open` asks to keep it."""
        if not self._running and not self.keep_open:
            self.release()

    def release(self) -> None:
        """Let go of the file now (buffered rows stay buffered; `close` flushes them)."""
        if self._held is not None:
            self._held.release()

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
        """Record a new run (status `running`) and return its id."""
        values = [
            crew,
            source,
            backend,
            policy,
            seed,
            _now(),
            json.dumps(config or {}, default=str),
        ]
        insert = (
            "INSERT INTO runs (run_id, crew, source, backend, policy, seed, status, started_at, "
            "config) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)"
        )
        fresh = run_id is None
        run_id = run_id or new_run_id()
        if not fresh:
            insert += " ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL"
        statement = (insert, [run_id, *values])
        self._running.add(run_id)  # the file is held from here to finish_run
        try:
            self._raise_open_error()
            with self._lock:
                self._pending.append(statement)
            if self._held is None or not self._held.opening:
                with self.connect():  # writes the run now; while the file is opening in
                    pass  # the background, once it is open
        except BaseException:
            with self._lock:  # a run that failed to start is not written later
                self._pending = [p for p in self._pending if p is not statement]
            self._running.discard(run_id)
            self.release_unless_running()
            raise
        if fresh:
            self._written[run_id] = set()
        return run_id

    def record(
        self,
        run_id: str,
        decision: Decision,
        *,
        expected: Sequence[str] = (),
        correct: bool | None = None,
        store_prompts: bool | None = None,
    ) -> None:
        """Buffer one decision and its attempts; flush when the batch is full or old.

        `store_prompts` (the ledger's `store_prompts` when None) keeps each attempt's
        messages in the `prompt` column.
        """
        prompts = self.store_prompts if store_prompts is None else store_prompts
        rows = [
            self._attempt_row(run_id, decision.task_id, i, a, prompts)
            for i, a in enumerate(decision.attempts)
        ]
        usd = sum(r[-2] for r in rows)
        flops = [r[-1] for r in rows if r[-1] is not None]
        row = (
            run_id,
            decision.task_id,
            decision.policy,
            decision.path,
            decision.stop_reason,
            decision.status,
            len(decision.attempts),
            decision.prompt_tokens,
            decision.completion_tokens,
            decision.wall_ms,
            decision.model_ms,
            usd,
            sum(flops) if flops else None,
            decision.answer,
            decision.confidence,
            " | ".join(expected) if expected else None,
            correct,
            _now(),
            _votes_json(decision),
        )
        with self._lock:
            self._decisions.append(row)
            self._attempts.extend(rows)
            due = (
                len(self._decisions) >= self.batch_size
                or time.monotonic() - self._last_flush >= self.flush_seconds
            )
        self._raise_open_error()  # the decision stays buffered for a later flush
        if due:
            self.flush()

    def _attempt_row(
        self, run_id: str, task_id: str, index: int, a: Attempt, prompts: bool
    ) -> tuple[Any, ...]:
        return (
            run_id,
            task_id,
            index,
            a.role,
            a.model,
            a.kind,
            a.prompt_tokens,
            a.completion_tokens,
            a.model_ms,
            a.temperature,
            a.seed,
            a.answer,
            a.raw,
            a.confidence,
            a.option_prob,
            a.mean_logprob,
            a.verdict.ok,
            a.verdict.reason,
            a.cached_prompt_tokens,
            a.critic_score,
            _prompt_json(a) if prompts else None,
            # money as billed (every prompt token sent); FLOPs as computed (cached prompt
            # tokens were not evaluated again)
            self.prices.usd(a.model, a.prompt_tokens, a.completion_tokens, a.cached_prompt_tokens),
            self.prices.flops(a.model, a.evaluated_tokens),
        )

    def flush(self) -> int:
        """Write buffered rows in one transaction; return the number of decisions written."""
        return self._flush()

    def _flush(self, finish: tuple[str, str] | None = None) -> int:
        """`flush`; with `finish` (run id, status) the run is marked in the same transaction."""
        with self._lock:
            decisions, attempts = self._decisions, self._attempts
            self._decisions, self._attempts = [], []
            self._last_flush = time.monotonic()
        if not decisions and finish is None and not self._pending:
            return 0
        try:
            with self.connect() as db:
                try:
                    return self._write(db, decisions, attempts, finish, trust_known=True)
                except duckdb.ConstraintException:
                    # a run started here was also written by someone else: look its keys up
                    for run in {row[0] for row in decisions}:
                        self._written.pop(run, None)
                    return self._write(db, decisions, attempts, finish, trust_known=False)
        except (ConfigError, OSError, duckdb.IOException, duckdb.TransactionException):
            # the file could not be opened or written (a lock held too long, a full disk, a
            # commit that failed): nothing was written, so the rows go back ahead of what
            # arrived meanwhile for the next flush. Rows the database rejects (constraints)
            # are not kept.
            with self._lock:
                self._decisions[:0] = decisions
                self._attempts[:0] = attempts
            raise

    def _write(
        self,
        db: duckdb.DuckDBPyConnection,
        decisions: list[tuple[Any, ...]],
        attempts: list[tuple[Any, ...]],
        finish: tuple[str, str] | None,
        *,
        trust_known: bool,
    ) -> int:
        known = self._written if trust_known else None
        db.execute("BEGIN TRANSACTION")
        try:
            # Replays (a resumed run, a retried flush) add nothing: keys already written
            # are skipped with their attempts, so each decision is recorded exactly once.
            decisions, attempts = _unrecorded(db, decisions, attempts, known)
            _insert(db, "decisions", _DECISION_COLUMNS, decisions)
            _insert(db, "attempts", _ATTEMPT_COLUMNS, attempts)
            if finish is not None:
                db.execute(
                    _FINISH_RUN,
                    [finish[1], _now(), finish[0]],
                )
            db.execute("COMMIT")
        except BaseException:
            # a COMMIT that failed (a full disk) has ended the transaction already: the
            # ROLLBACK's own error must not replace the one that says what went wrong
            with suppress(duckdb.TransactionException):
                db.execute("ROLLBACK")
            raise
        for row in decisions:
            if row[0] in self._written:
                self._written[row[0]].add(row[1])
        return len(decisions)

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Flush, mark the run `status` (finished, failed, interrupted) and let go of the file."""
        try:
            self._flush(finish=(run_id, status))
        except BaseException:
            # the end is written by this ledger's next use, after the run's own row if that
            # is still queued: a reused ledger never leaves the run `running`
            with self._lock:
                self._pending.append((_FINISH_RUN, [status, _now(), run_id]))
            raise
        else:  # the audit trail chains the run's decisions, costs and end (audit_seal.py)
            seal_run(self, run_id)
        finally:
            self._written.pop(run_id, None)
            self._running.discard(run_id)
            self.release_unless_running()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (after flushing) and return all rows."""
        self.flush()
        with self.connect() as db:
            return db.execute(sql, list(params)).fetchall()

    def close(self) -> None:
        """Flush what is buffered and close any open connection."""
        try:
            self.flush()
        finally:
            self.release()
        if self._db is not None:
            self._db.close()
            self._db = None
