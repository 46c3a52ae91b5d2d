"""The heads file: each run's audit head, written outside the database, append-only.

Next to the ledger (`<ledger>.heads`, or the path in `ACCORD_AUDIT_HEADS`; one file per
ledger), one JSON line per flush of a run's audit chain: the run, the seq and HMAC of its
newest event, the key's id and the time. Each line is keyed (`mac`) and links to the line
before it (`prev`, the sha256 of that line's bytes), so a line cannot be edited, inserted,
dropped or moved without the key; only the file's newest lines can be cut off unseen.

Appends take an exclusive `flock` on the file, so writers in several processes chain their
lines one after another.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from accord.ledger.audit_keys import AuditKey

HEADS_ENV = "ACCORD_AUDIT_HEADS"
_FIELDS = ("n", "run_id", "seq", "head", "key", "at", "prev")


def heads_path(ledger_path: str | Path, override: str | Path | None = None) -> Path | None:
    """The heads file of the ledger at `ledger_path` (None for an in-memory ledger)."""
    if override is not None:
        return Path(override)
    if os.environ.get(HEADS_ENV):
        return Path(os.environ[HEADS_ENV])
    if str(ledger_path) == ":memory:":
        return None
    return Path(f"{ledger_path}.heads")


def _line_hash(raw: bytes) -> str:
    return hashlib.sha256(raw.rstrip(b"\n")).hexdigest()


def _last_line(fd: int) -> bytes | None:
    size = os.fstat(fd).st_size
    if not size:
        return None
    tail = os.pread(fd, min(size, 65536), max(0, size - 65536)).rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1] if tail else None


def _next_number(fd: int, last: bytes | None) -> int:
    if last is None:
        return 1
    try:
        return int(json.loads(last)["n"]) + 1
    except (ValueError, KeyError, TypeError):  # after a damaged line (verify names it): count
        return os.pread(fd, os.fstat(fd).st_size, 0).rstrip(b"\n").count(b"\n") + 2


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def append_head(path: Path, key: AuditKey, run_id: str, seq: int, head: str) -> None:
    """Append one run's new head to the heads file (created if missing), synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path) as fd:
        last = _last_line(fd)
        line = {
            "n": _next_number(fd, last),
            "run_id": run_id,
            "seq": seq,
            "head": head,
            "key": key.id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "prev": _line_hash(last) if last is not None else key.genesis("heads-file"),
        }
        line["mac"] = key.mac(line)
        size = os.fstat(fd).st_size
        torn = size and os.pread(fd, 1, size - 1) != b"\n"  # a crash cut the last line short
        data = ("\n" if torn else "") + json.dumps(line, separators=(",", ":")) + "\n"
        os.write(fd, data.encode())
        os.fsync(fd)


@dataclass(frozen=True, slots=True)
class HeadLine:
    """One verified line of the heads file."""

    lineno: int
    run_id: str
    seq: int
    head: str


@dataclass(frozen=True, slots=True)
class HeadsFile:
    """What the heads file says: its good lines, and what is wrong with the file itself."""

    path: Path
    exists: bool
    lines: tuple[HeadLine, ...]
    problems: tuple[str, ...]

    def of(self, run_id: str) -> list[HeadLine]:
        """The lines of one run, in file order."""
        return [line for line in self.lines if line.run_id == run_id]

    def runs(self) -> list[str]:
        """The runs named in the file, in order of first appearance."""
        return list(dict.fromkeys(line.run_id for line in self.lines))


def read_heads(path: Path, key: AuditKey) -> HeadsFile:
    """Read and check the heads file: every line keyed, linked to the one before, numbered."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return HeadsFile(path, False, (), ())
    good: list[HeadLine] = []
    problems: list[str] = []
    prev = key.genesis("heads-file")
    for lineno, raw in enumerate(data.rstrip(b"\n").split(b"\n") if data else [], start=1):
        where = f"{path}:{lineno}"
        try:
            line = json.loads(raw)
            fields = {k: line[k] for k in _FIELDS}
            head = HeadLine(lineno, str(line["run_id"]), int(line["seq"]), str(line["head"]))
            mac = str(line["mac"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{where}: not a heads-file line (damaged or edited)")
            prev = _line_hash(raw)
            continue
        if fields["key"] != key.id:
            problems.append(
                f"{where}: written with audit key {fields['key']}, not the key at "
                f"{key.path} ({key.id}): pass --key the key that chained these runs"
            )
        elif not hmac.compare_digest(mac, key.mac(fields)):
            problems.append(f"{where}: the line was edited (its mac does not match)")
        elif fields["prev"] != prev:
            problems.append(
                f"{where}: the line before it is missing, moved or altered "
                "(lines of the heads file were deleted or inserted)"
            )
        elif fields["n"] != lineno:
            problems.append(f"{where}: numbered {fields['n']}, expected {lineno}")
        else:
            good.append(head)
        prev = _line_hash(raw)
    return HeadsFile(path, True, tuple(good), tuple(problems))
