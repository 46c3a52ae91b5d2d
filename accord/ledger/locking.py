"""Opening a ledger file that another process may hold for a moment, and holding it briefly.

DuckDB lets one process write a file, or several read it, never both at once. A run holds
one read-write connection while it is busy (`HeldConnection`) and lets go of it when it
finishes, after a short idle spell, or after holding it for a while: other processes wait for
such a gap (`connect` retries with growing pauses, up to `timeout_s`) and then read between
the run's writes.

Files are opened through this process's one DuckDB instance (`accord.ledger.files`): ~1 ms to
attach and ~3 ms to detach, against ~12 ms to create an instance and ~9 ms to checkpoint and
close one. Every opener in this process shares the attachment, so a reader sees what a writer
here has committed. A file that a raw `duckdb.connect` in this process holds is opened the
raw way too, sharing that connection's instance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from accord.ledger.files import FileHandle, attach, instance_ready

LOCK_TIMEOUT_S = 30.0
IDLE_RELEASE_S = 0.25
MAX_HOLD_S = 1.0


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB refusing a file another process has open."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _held_in_this_process(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.ConnectionException) and "different configuration" in str(exc)


def _connect_raw(path: str | Path, read_only: bool) -> FileHandle:
    """A connection of its own, for a file that a raw `duckdb.connect` in this process holds:
    DuckDB shares that connection's database instance with it."""
    try:
        return FileHandle(duckdb.connect(str(path), read_only=read_only))
    except duckdb.ConnectionException as exc:
        if not (read_only and _held_in_this_process(exc)):
            raise
        # the holder writes: read through its (shared) instance, inside a read-only
        # transaction so that this connection still cannot write
        shared = duckdb.connect(str(path))
        shared.execute("BEGIN TRANSACTION READ ONLY")
        return FileHandle(shared)


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    timeout_s: float = LOCK_TIMEOUT_S,
    give_up: threading.Event | None = None,
) -> FileHandle:
    """Open the database file at `path` (see `accord.ledger.files`), retried while another
    process holds a conflicting lock.

    Setting `give_up` stops the retries: the lock conflict is raised at the next one.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            try:
                return attach(path, read_only=read_only)
            except duckdb.ResourceInUseException:
                return _connect_raw(path, read_only)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc) or time.monotonic() + pause > deadline:
                raise
            if give_up is not None and (give_up.is_set() or not threading.main_thread().is_alive()):
                raise  # abandoned, or the program is ending: do not hold up its exit
        time.sleep(pause)
        pause = min(pause * 2, 0.025)


@contextmanager
def opened(
    path: str | Path, *, read_only: bool = False, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the database file at `path` for the `with` block (see `connect`)."""
    handle = connect(path, read_only=read_only, timeout_s=timeout_s)
    try:
        yield handle.conn
    finally:
        handle.close()


class HeldConnection:
    """One read-write connection to a database file, kept open while it is in use.

    `use()` opens it if needed and yields it; a nested `use()` (same thread, still inside)
    gets its own cursor, so its transaction is separate as it was with separate connections.
    The connection is closed by `release()`, when it has been idle for `idle_s` (a timer
    thread), or on giving it back after `max_hold_s` of being open: a busy writer leaves gaps
    in which other processes can open the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        idle_s: float = IDLE_RELEASE_S,
        max_hold_s: float = MAX_HOLD_S,
        timeout_s: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = str(path)
        self.idle_s = idle_s
        self.max_hold_s = max_hold_s
        self.timeout_s = timeout_s
        self.opens = 0  # how many times the file was opened (for tests and diagnostics)
        self._db: FileHandle | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._opened_at = 0.0
        self._last_use = 0.0
        self._timer: threading.Timer | None = None
        self._release_pending = False
        self._opening: Future[FileHandle] | None = None
        self._abandoned: set[Future[FileHandle]] = set()
        self._give_up = threading.Event()  # set: the open under way stops waiting for a lock

    def prefetch(
        self,
        setup: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
        ready: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
    ) -> None:
        """Open the file now if that takes no waiting, or else start opening it in a thread.

        With this process's DuckDB instance in place and no other process holding the file,
        opening costs ~1 ms and is done at once (in a thread it would take longer, see
        `Ledger.open_in_background`). Otherwise the open (~15 ms to create the instance, or
        a wait for the other process) runs in a background thread while work that does not
        need the file yet (starting agents, the first tasks) goes on. `setup` prepares the
        new connection (in that thread, its error goes to the next `use()`); `ready` then
        runs holding the connection, as in a `use()` (best effort: its error is left for the
        caller's next use to meet). The next `use()` waits for the open and raises its
        error, if any; `open_error` tells without waiting.
        """
        with self._lock:
            if self._db is not None or self._opening is not None:
                return
            if instance_ready() and self._open_at_once(setup):
                return
            future: Future[FileHandle] = Future()
            self._opening = future
            self._give_up = threading.Event()
        # not a daemon: a thread killed at interpreter exit inside DuckDB's C++ aborts the
        # process; an abandoned open stops retrying (`_drop_opening`), so exit waits briefly
        threading.Thread(
            target=self._open_into,
            args=(future, setup, ready, self._give_up),
            name="accord-ledger-open",
        ).start()

    def _open_at_once(self, setup: Callable[[duckdb.DuckDBPyConnection], object] | None) -> bool:
        """Open and hold the file if it opens on the first try; False leaves it closed (held
        by another process, or failing: the background open then retries or reports)."""
        try:
            handle = connect(self.path, timeout_s=0)
        except duckdb.Error:
            return False
        try:
            if setup is not None:
                setup(handle.conn)
        except Exception:
            handle.close()
            return False
        self._hold(handle)
        self._given_back()
        return True

    def _open_into(
        self,
        future: Future[FileHandle],
        setup: Callable[[duckdb.DuckDBPyConnection], object] | None,
        ready: Callable[[duckdb.DuckDBPyConnection], object] | None,
        give_up: threading.Event,
    ) -> None:
        db = None
        try:
            db = connect(self.path, timeout_s=self.timeout_s, give_up=give_up)
            if setup is not None:
                setup(db.conn)
        except BaseException as exc:  # handed to whoever uses the connection next
            if db is not None:
                db.close()
            future.set_exception(exc)
            with self._lock:
                self._abandoned.discard(future)
            return
        future.set_result(db)
        with self._lock:
            if future in self._abandoned:  # released while it was opening: nobody wants it
                self._abandoned.discard(future)
                db.close()
            elif self._opening is future:  # not taken yet: take it, so the idle timer works
                self._adopt()
                try:
                    if ready is not None:
                        with suppress(Exception):
                            ready(db.conn)
                finally:
                    self._given_back()

    @property
    def opening(self) -> bool:
        """Whether a background open is under way or done but not yet taken."""
        return self._opening is not None

    def open_error(self) -> BaseException | None:
        """The error of a background open that failed (without waiting for one under way)."""
        future = self._opening
        if future is None or not future.done():
            return None
        return future.exception()

    def _adopt(self) -> None:
        """Take the background open's connection (waiting for it); its error is raised."""
        future, self._opening = self._opening, None
        if future is not None:
            self._hold(future.result())

    def _hold(self, db: FileHandle) -> None:
        """Keep `db` as the held connection, counted as an open."""
        self._db = db
        self.opens += 1
        self._opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        """Whether the file is held right now."""
        return self._db is not None

    @contextmanager
    def use(
        self, on_open_error: Callable[[duckdb.Error], Exception] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The held connection (opened if needed); given back, not closed, on exit.

        `on_open_error` turns a failure to open the file into the exception to raise.
        """
        with self._lock:
            if self._db is None:
                try:
                    if self._opening is not None:
                        self._adopt()
                    else:
                        self._hold(connect(self.path, timeout_s=self.timeout_s))
                except duckdb.Error as exc:
                    if on_open_error is None:
                        raise
                    raise on_open_error(exc) from None
            db = self._db
            nested = self._depth > 0
            conn = db.cursor() if nested else db.conn
            self._depth += 1
            try:
                yield conn
            except duckdb.FatalException:
                self._release_pending = True  # DuckDB invalidated the database: reopen
                raise
            finally:
                self._depth -= 1
                if nested:
                    conn.close()
                self._given_back()

    def _given_back(self) -> None:
        self._last_use = time.monotonic()
        if self._depth:
            return
        if self._release_pending or self._last_use - self._opened_at >= self.max_hold_s:
            self._close()
        else:
            self._arm(self.idle_s)

    def _arm(self, delay: float) -> None:
        if self._timer is None:
            timer = threading.Timer(delay, self._on_idle)
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _on_idle(self) -> None:
        with self._lock:
            self._timer = None
            if self._db is None or self._depth:
                return
            wait = self._last_use + self.idle_s - time.monotonic()
            if wait > 0:
                self._arm(wait)
            else:
                self._close()

    def _close(self) -> None:
        db, self._db = self._db, None
        self._release_pending = False
        if db is not None:
            db.close()

    def release(self) -> None:
        """Close the connection now (it reopens on the next `use()`)."""
        with self._lock:
            if self._depth:
                self._release_pending = True  # still in use up this thread's stack
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._drop_opening()
            self._close()

    def release_without_waiting(self) -> None:
        """`release`, for a garbage collector's finalizer: it never waits for a lock.

        A collection runs on whichever thread allocates, which may hold the file registry's
        lock (`accord.ledger.files`) while this connection's idle timer holds ours and waits
        for that one; waiting here would deadlock both. When our lock is taken, a short
        thread does the release instead.
        """
        if self._lock.acquire(blocking=False):
            try:
                self.release()
            finally:
                self._lock.release()
        else:  # not a daemon: one killed inside DuckDB's C++ at exit would abort the process
            threading.Thread(target=self.release, name="accord-ledger-release").start()

    def stop_opening(self) -> None:
        """Abandon a background open under way (what it opens is closed); keep an open file."""
        with self._lock:
            self._drop_opening()

    def _drop_opening(self) -> None:
        """Forget a background open without waiting for it: what it opens is closed."""
        future, self._opening = self._opening, None
        if future is None:
            return
        if not future.done():
            self._abandoned.add(future)  # `_open_into` closes it when it gets there
            self._give_up.set()
        elif future.exception() is None:
            future.result().close()
