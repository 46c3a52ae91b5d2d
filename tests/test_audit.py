"""The audit trail: HMAC-chained events; verify names modified, deleted, inserted and
reordered rows, checks them against the heads file; the CLI exits non-zero on tampering.

The attacks without the key, through a raw DuckDB connection, are in test_audit_hostile.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import duckdb
import pytest

from accord.ledger.audit import AuditEvent, AuditTrail
from accord.ledger.audit_keys import load_key
from accord.ledger.audit_verify import verify
from accord.ledger.writer import Ledger
from tests.conftest import ROOT


def make_ledger(path: Path, events: int = 6, runs: int = 1) -> list[str]:
    ledger = Ledger(path)
    run_ids = []
    for r in range(runs):
        run_id = ledger.start_run("audit-test", run_id=f"run-{r}")
        trail = AuditTrail(ledger, run_id)
        for i in range(events):
            trail.append(
                "tool_call",
                "support",
                "allowed" if i % 3 else "refused",
                tool=f"tool{i}",
                args={"i": i},
                result={"r": i},
                policy="p",
                detail=f"event {i}",
            )
        ledger.finish_run(run_id)
        run_ids.append(run_id)
    return run_ids


def tampered(src: Path, tmp_path: Path, *sql: str) -> Path:
    copy = tmp_path / f"t{len(list(tmp_path.iterdir()))}.duckdb"
    shutil.copy(src, copy)
    shutil.copy(f"{src}.heads", f"{copy}.heads")
    with duckdb.connect(str(copy)) as db:
        for statement in sql:
            db.execute(statement)
    return copy


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.duckdb"
    make_ledger(path)
    return path


def findings(path: Path) -> list[tuple[str, int | None]]:
    (report,) = verify(path)
    return [(f.problem, f.seq) for f in report.findings]


def test_intact_chain_verifies(ledger_file: Path) -> None:
    (report,) = verify(ledger_file)
    assert report.ok and report.events == 7  # six events and the run's sealed end


def test_events_are_chained(ledger_file: Path) -> None:
    with duckdb.connect(str(ledger_file)) as db:
        rows = db.execute("SELECT prev_hash, hash FROM audit_events ORDER BY seq").fetchall()
    assert all(rows[i][0] == rows[i - 1][1] for i in range(1, len(rows)))


def test_trail_resumes_the_chain_of_an_existing_run(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    (run_id,) = make_ledger(path, events=2)
    AuditTrail(Ledger(path), run_id).append("note", "ops", "ok")
    (report,) = verify(path)
    assert report.ok and report.events == 4


@pytest.mark.parametrize("column", ["detail", "decision", "actor", "args_digest"])
def test_modified_row_is_named(ledger_file: Path, tmp_path: Path, column: str) -> None:
    bad = tampered(
        ledger_file, tmp_path, f"UPDATE audit_events SET {column} = 'forged' WHERE seq = 3"
    )
    assert findings(bad) == [("modified", 3)]


def test_deleted_row_in_the_middle_is_named(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, "DELETE FROM audit_events WHERE seq = 3")
    assert findings(bad) == [("deleted", 4), ("deleted", 3)]  # the chain, the heads file


def test_deleted_first_row(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, "DELETE FROM audit_events WHERE seq = 1")
    assert findings(bad) == [("deleted", 2), ("deleted", 1)]


def test_deleted_last_rows_are_caught_by_the_head(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, "DELETE FROM audit_events WHERE seq >= 5")
    (report,) = verify(bad)
    assert [(f.problem, f.seq) for f in report.findings] == [
        ("deleted", None),  # the database's head
        ("deleted", None),  # the heads file
        ("unsealed", None),  # the run's sealed end went with them
    ]
    assert "after seq 4" in report.findings[0].message
    assert "the newest 3 event(s) were deleted" in report.findings[1].message


def test_deleted_run_is_caught(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, "DELETE FROM audit_events")
    assert findings(bad) == [("deleted", None), ("missing", None), ("deleted", None)]


def _forged_insert(src: Path, after_seq: int) -> list[str]:
    """SQL that shifts later rows and inserts an event chained to `after_seq`, correctly keyed
    (as if by someone holding the key who did not relink the later events)."""
    with duckdb.connect(str(src), read_only=True) as db:
        row = db.execute("SELECT * FROM audit_events WHERE seq = ?", [after_seq]).fetchone()
        cols = [d[0] for d in db.description]
    prev = AuditEvent(**dict(zip(cols, row, strict=True)))
    draft = replace(
        prev,
        seq=after_seq + 1,
        event_id="forged000001",
        detail="forged refund",
        decision="allowed",
        prev_hash=prev.hash,
        hash="",
    )
    forged = replace(draft, hash=draft.expected_hash(load_key()))
    values = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in asdict(forged).values())
    return [
        f"UPDATE audit_events SET seq = seq + 1 WHERE seq > {after_seq}",
        f"INSERT INTO audit_events VALUES ({values})",
    ]


def test_inserted_row_with_a_valid_hash_is_named(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, *_forged_insert(ledger_file, 2))
    found = findings(bad)
    assert found[0] == ("inserted", 3)
    # and the heads file recorded each later event one seq lower
    assert found[1:] == [("reordered", seq) for seq in range(4, 9)]


def test_row_appended_after_the_head_is_named(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, *_forged_insert(ledger_file, 6))
    assert findings(bad) == [("inserted", 7), ("reordered", 8)]


def test_naively_inserted_row_is_caught(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(
        ledger_file,
        tmp_path,
        "INSERT INTO audit_events SELECT run_id, 99, 'x', ts, kind, actor, tool, "
        "args_digest, result_digest, decision, policy, 'fake', prev_hash, hash "
        "FROM audit_events WHERE seq = 2",
    )
    problems = findings(bad)
    assert problems and all(seq == 99 for _, seq in problems)


def test_swapped_rows_are_reported_as_reordered(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(
        ledger_file,
        tmp_path,
        "UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 ELSE seq END",
    )
    # by the chain, then by the heads file (which recorded each at the other's seq)
    assert findings(bad) == [("reordered", 2), ("reordered", 3), ("reordered", 3), ("reordered", 2)]


def test_moved_row_is_reordered_not_modified(ledger_file: Path, tmp_path: Path) -> None:
    bad = tampered(ledger_file, tmp_path, "UPDATE audit_events SET seq = 10 WHERE seq = 1")
    assert {p for p, _ in findings(bad)} == {"reordered"}


def test_verify_all_runs_names_only_the_tampered_one(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    make_ledger(path, events=3, runs=3)
    bad = tampered(
        path, tmp_path, "UPDATE audit_events SET detail = 'x' WHERE run_id = 'run-1' AND seq = 2"
    )
    reports = {r.run_id: r for r in verify(bad)}
    assert set(reports) == {"run-0", "run-1", "run-2"}
    assert [r for r in reports if not reports[r].ok] == ["run-1"]
    assert verify(bad, ["run-0"])[0].ok


def _accord(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_verify_and_show(ledger_file: Path, tmp_path: Path) -> None:
    ok = _accord("audit", "verify", "--db", str(ledger_file))
    assert ok.returncode == 0 and "chain intact" in ok.stdout
    bad = tampered(ledger_file, tmp_path, "DELETE FROM audit_events WHERE seq = 3")
    broken = _accord("audit", "verify", "run-0", "--db", str(bad))
    assert broken.returncode == 1
    assert "TAMPERED" in broken.stdout and "deleted: seq 4" in broken.stdout
    shown = _accord("audit", "show", "run-0", "--db", str(ledger_file))
    assert shown.returncode == 0 and "tool5" in shown.stdout and "refused" in shown.stdout
    missing = _accord("audit", "verify", "--db", str(tmp_path / "nope.duckdb"))
    assert missing.returncode == 2
