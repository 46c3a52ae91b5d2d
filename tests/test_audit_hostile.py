"""The attacks of issue 20 item 7, done as an attacker would: a raw DuckDB connection to the
ledger (and a text editor on the heads file), without the audit key. `accord audit verify` must
exit 1 and name what it found; 2 for a run it does not know. The last tests pin down what is
documented as NOT detected."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from accord import Crew
from accord.cli.app import main
from accord.ledger.audit import AuditTrail
from accord.ledger.writer import Ledger
from tests.conftest import ROOT

COLUMNS = (
    "run_id, event_id, ts, kind, actor, tool, args_digest, result_digest, decision, policy, "
    "detail, prev_hash"
)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with an approvals run (tool-call path) and then a scripted crew run."""
    path = tmp_path_factory.mktemp("hostile") / "ledger.duckdb"
    ledger = Ledger(path)
    run_id = ledger.start_run("refunds", run_id="20260101-000000-approv")
    trail = AuditTrail(ledger, run_id)
    trail.append("tool_call", "support", "allowed", tool="lookup_order", args={"order": "A1"})
    trail.append("approval", "finance", "denied", tool="issue_refund", args={"amount": 800})
    trail.append("tool_call", "support", "refused", tool="issue_refund", policy="approvals")
    ledger.finish_run(run_id)
    Crew.from_yaml(ROOT / "configs" / "scripted.yaml").run(db=path, pool="local")
    return path


@pytest.fixture
def ledger(original: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the ledger and its heads file, for one attack."""
    copy = tmp_path / "ledger.duckdb"
    shutil.copy(original, copy)
    if Path(f"{original}.heads").exists():
        shutil.copy(f"{original}.heads", f"{copy}.heads")
    yield copy


def sql(path: Path, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on a raw connection, as anyone who can write the file can."""
    rows: list[tuple[object, ...]] = []
    with duckdb.connect(str(path)) as db:
        for statement in statements:
            rows = db.execute(statement).fetchall()
    return rows


def latest(path: Path) -> str:
    return str(sql(path, "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")[0][0])


def approvals_run(path: Path) -> str:
    return str(sql(path, "SELECT run_id FROM runs WHERE crew = 'refunds'")[0][0])


def verify(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, str]:
    """`accord audit verify ARGS --db PATH` through the CLI's entry point: (exit code, output)."""
    argv = ["accord", "audit", "verify", *args, "--db", str(path)]
    with mock.patch.object(sys, "argv", argv):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


def rechain_without_key(path: Path, run_id: str) -> None:
    """Recompute every event's hash and link, and the head, the way the unkeyed chain did."""
    with duckdb.connect(str(path)) as db:
        names = [c.strip() for c in COLUMNS.split(",")]
        rows = db.execute(
            f"SELECT seq, {COLUMNS} FROM audit_events WHERE run_id = ? ORDER BY seq", [run_id]
        ).fetchall()
        prev = hashlib.sha256(f"accord-audit:{run_id}".encode()).hexdigest()
        for seq, *values in rows:
            fields = dict(zip(names, values, strict=True))
            fields["prev_hash"] = prev
            text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
            prev = hashlib.sha256(text.encode()).hexdigest()
            db.execute(
                "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
                [fields["prev_hash"], prev, run_id, seq],
            )
        db.execute("UPDATE audit_heads SET hash = ? WHERE run_id = ?", [prev, run_id])


def test_the_untouched_ledger_verifies(capsys, ledger: Path) -> None:
    code, out = verify(capsys, ledger, "--all")
    assert code == 0, out
    assert out.count("chain intact") == 2 and "4 sealed decision(s)" in out


def test_denied_edited_to_approved_with_every_hash_recomputed(capsys, ledger: Path) -> None:
    run_id = approvals_run(ledger)
    sql(ledger, "UPDATE audit_events SET decision = 'approved' WHERE decision = 'denied'")
    rechain_without_key(ledger, run_id)
    code, out = verify(capsys, ledger, run_id)
    assert code == 1
    assert "TAMPERED" in out and "key: none of the run's 4 event(s) matches its HMAC" in out
    # the heads file still names the real events
    assert "is missing" in out


def test_one_event_edited_without_rechaining_is_named(capsys, ledger: Path) -> None:
    run_id = approvals_run(ledger)
    sql(ledger, "UPDATE audit_events SET decision = 'approved' WHERE decision = 'denied'")
    code, out = verify(capsys, ledger, run_id)
    assert code == 1
    assert "modified: seq 2 (event" in out and "approval issue_refund by finance, approved" in out


def test_last_events_deleted_with_the_head(capsys, ledger: Path) -> None:
    run_id = approvals_run(ledger)
    sql(  # the refusal and the run's end go; the head now names the approval
        ledger,
        f"DELETE FROM audit_events WHERE run_id = '{run_id}' AND seq >= 3",
        f"UPDATE audit_heads SET seq = 2, hash = (SELECT hash FROM audit_events WHERE "
        f"run_id = '{run_id}' AND seq = 2) WHERE run_id = '{run_id}'",
    )
    code, out = verify(capsys, ledger, run_id)
    assert code == 1
    assert "deleted: the heads file records seq 4" in out and "the chain ends at seq 2" in out
    assert "its end was never sealed" in out


def test_audit_tables_emptied(capsys, ledger: Path) -> None:
    sql(ledger, "DELETE FROM audit_events", "DELETE FROM audit_heads")
    code, out = verify(capsys, ledger, "--all")
    assert code == 1
    assert out.count("the run has no audit chain") == 2
    assert "unchained: 4 decision(s) not in the audit chain" in out


def test_audit_tables_dropped(capsys, ledger: Path) -> None:
    sql(ledger, "DROP TABLE audit_events", "DROP TABLE audit_heads")
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "the audit_events table is missing" in out and "no audit chain" in out


def test_decision_cost_edited(capsys, ledger: Path) -> None:
    sql(ledger, "UPDATE decisions SET cost_usd = cost_usd + 1 WHERE task_id = 'sum'")
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "modified: decision of task 'sum'" in out and "cost_usd sealed 0.0, stored 1.0" in out


def test_decision_answer_and_tokens_edited(capsys, ledger: Path) -> None:
    sql(
        ledger,
        "UPDATE decisions SET answer = '41', prompt_tokens = 1 WHERE task_id = 'sum'",
    )
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "prompt_tokens sealed" in out and "answer_sha256 sealed" in out


def test_attempt_tokens_edited(capsys, ledger: Path) -> None:
    sql(
        ledger,
        "UPDATE attempts SET completion_tokens = completion_tokens + 7 "
        "WHERE task_id = 'planet' AND attempt_no = 2",
    )
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "modified: attempts of the decision of task 'planet'" in out
    assert "attempt(s) 2 changed" in out


def test_decision_deleted_and_one_inserted(capsys, ledger: Path) -> None:
    run_id = latest(ledger)
    sql(
        ledger,
        "DELETE FROM decisions WHERE task_id = 'capital'",
        "INSERT INTO decisions SELECT * REPLACE ('forged' AS task_id) FROM decisions "
        "WHERE task_id = 'sum'",
    )
    code, out = verify(capsys, ledger, run_id)
    assert code == 1
    assert "deleted: the decision of task 'capital'" in out
    assert "unchained: 1 decision(s) not in the audit chain ('forged')" in out


def test_run_status_edited(capsys, ledger: Path) -> None:
    sql(ledger, "UPDATE runs SET status = 'failed' WHERE crew = 'scripted-demo'")
    code, out = verify(capsys, ledger)
    assert code == 1
    assert "the run's row in `runs` differs from its seal" in out
    assert "status sealed 'finished', stored 'failed'" in out


def test_a_run_with_no_chain(capsys, ledger: Path) -> None:
    sql(
        ledger,
        "INSERT INTO runs SELECT * REPLACE ('20990101-000000-forged' AS run_id, "
        "TIMESTAMP '2099-01-01' AS started_at) FROM runs WHERE crew = 'scripted-demo'",
    )
    code, out = verify(capsys, ledger)  # `latest` is the forged run
    assert code == 1
    assert "run 20990101-000000-forged" in out and "the run has no audit chain" in out


def test_a_whole_run_deleted_but_the_heads_file_remembers(capsys, ledger: Path) -> None:
    run_id = approvals_run(ledger)
    for table in ("runs", "decisions", "attempts", "audit_events", "audit_heads"):
        sql(ledger, f"DELETE FROM {table} WHERE run_id = '{run_id}'")
    code, out = verify(capsys, ledger, "--all")
    assert code == 1
    assert f"run {run_id!r} has no row in the runs table" in out
    assert "deleted: the heads file records seq 4" in out


def test_everything_emptied_but_the_heads_file_remembers(capsys, ledger: Path) -> None:
    for table in ("runs", "decisions", "attempts", "audit_events", "audit_heads"):
        sql(ledger, f"DELETE FROM {table}")
    code, out = verify(capsys, ledger)  # `latest` finds no run: every run the file knows
    assert code == 1
    assert out.count("has no row in the runs table") == 2


def test_heads_file_deleted(capsys, ledger: Path) -> None:
    Path(f"{ledger}.heads").unlink()
    code, out = verify(capsys, ledger)
    assert code == 1 and f"the heads file {ledger}.heads is missing" in out


def test_heads_file_line_edited_or_dropped(capsys, ledger: Path) -> None:
    heads = Path(f"{ledger}.heads")
    lines = heads.read_text().splitlines()
    first = json.loads(lines[0])
    first["seq"] = 1
    lines[0] = json.dumps(first, separators=(",", ":")).replace('"seq":1', '"seq":2')
    heads.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    code, out = verify(capsys, ledger)
    assert code == 1
    assert f"{heads}:1: the line was edited" in out
    assert f"{heads}:2: the line before it is missing, moved or altered" in out


def test_unknown_run_is_bad_input(capsys, ledger: Path) -> None:
    code, out = verify(capsys, ledger, "no-such-run")
    assert code == 2 and "no run 'no-such-run' in the ledger or its heads file" in out


def test_an_empty_ledger_has_nothing_to_verify(capsys, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    Ledger(empty).close()
    assert verify(capsys, empty)[0] == 2  # `latest`: no run at all
    code, out = verify(capsys, empty, "--all")
    assert code == 1 and "nothing verified" in out


def test_the_wrong_key(capsys, ledger: Path, tmp_path: Path) -> None:
    from accord.ledger.audit_keys import load_key

    other = tmp_path / "other.key"
    load_key(other)  # a fresh key
    code, out = verify(capsys, ledger, "--key", str(other))
    assert code == 1 and "written with audit key" in out and "pass --key" in out
    code, out = verify(capsys, ledger, "--key", str(tmp_path / "none.key"))
    assert code == 2 and "no audit key here" in out


def test_cli_exit_codes_in_a_subprocess(ledger: Path) -> None:
    sql(ledger, "UPDATE decisions SET cost_usd = 0.5 WHERE task_id = 'capital'")
    for args, code, text in (
        ([], 1, "cost_usd sealed 0.0, stored 0.5"),
        (["no-such-run"], 2, "no run 'no-such-run'"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "accord.cli", "audit", "verify", *args, "--db", str(ledger)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stdout + done.stderr
        assert text in " ".join((done.stdout + done.stderr).split())


# What is NOT detected (documented in the README's audit section)


def test_not_detected_a_forger_holding_the_key(capsys, ledger: Path) -> None:
    """With the key, a rewritten chain and heads file are indistinguishable from the truth."""
    from accord.ledger.audit_keys import load_key

    key = load_key()
    run_id = approvals_run(ledger)
    sql(ledger, "UPDATE audit_events SET decision = 'approved' WHERE decision = 'denied'")
    with duckdb.connect(str(ledger)) as db:
        names = [c.strip() for c in COLUMNS.split(",")]
        rows = db.execute(
            f"SELECT seq, {COLUMNS} FROM audit_events WHERE run_id = ? ORDER BY seq", [run_id]
        ).fetchall()
        prev = key.genesis(run_id)
        for seq, *values in rows:
            fields = dict(zip(names, values, strict=True)) | {"prev_hash": prev}
            prev = key.mac(fields)
            db.execute(
                "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
                [fields["prev_hash"], prev, run_id, seq],
            )
        heads = {
            seq: h
            for seq, h in db.execute(
                "SELECT seq, hash FROM audit_events WHERE run_id = ?", [run_id]
            ).fetchall()
        }
        db.execute("UPDATE audit_heads SET hash = ? WHERE run_id = ?", [prev, run_id])
    path = Path(f"{ledger}.heads")
    lines, out_lines, before = path.read_text().splitlines(), [], key.genesis("heads-file")
    for raw in lines:
        line = json.loads(raw)
        if line["run_id"] == run_id:
            line["head"] = heads[line["seq"]]
        line["prev"] = before
        line.pop("mac")
        line["mac"] = key.mac(line)
        text = json.dumps(line, separators=(",", ":"))
        before = hashlib.sha256(text.encode()).hexdigest()
        out_lines.append(text)
    path.write_text("\n".join(out_lines) + "\n")
    assert verify(capsys, ledger, run_id)[0] == 0


def test_not_detected_the_newest_run_removed_with_its_heads_lines(capsys, ledger: Path) -> None:
    """Without the key: the newest run(s), cut from the tables and the heads file's tail."""
    run_id = latest(ledger)
    for table in ("runs", "decisions", "attempts", "audit_events", "audit_heads"):
        sql(ledger, f"DELETE FROM {table} WHERE run_id = '{run_id}'")
    path = Path(f"{ledger}.heads")
    kept = [raw for raw in path.read_text().splitlines() if run_id not in raw]
    path.write_text("\n".join(kept) + "\n")
    assert verify(capsys, ledger, "--all")[0] == 0
