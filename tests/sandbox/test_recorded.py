"""Every --unsafe-local run is on record in the ledger's audit trail."""

from __future__ import annotations

import itertools
import subprocess
import sys

from accord.ledger import Ledger, list_runs
from accord.ledger.audit import timeline
from accord.ledger.audit_verify import verify
from accord.ledger.recorded_sandbox import RecordedSandbox
from accord.sandbox import open_sandbox
from tests.conftest import ROOT


def test_recorded_sandbox_appends_one_chained_event_per_run(ledger_path) -> None:
    sandbox = RecordedSandbox(open_sandbox(unsafe_local=True), Ledger(ledger_path))
    first = sandbox.run(python_code="print('a')")
    sandbox.run(python_code="raise SystemExit(3)")
    sandbox.close()
    events = [e for e in timeline(ledger_path, sandbox.run_id) if e.kind == "sandbox"]
    assert first.stdout.strip() == b"a"
    assert [e.decision for e in events] == ["unsafe-local", "unsafe-local"]
    assert events[0].policy == f"explicit opt-in; limits: {first.enforcement}"
    assert "cgroup" in (events[0].policy or "") or "rlimits" in (events[0].policy or "")
    chain = timeline(ledger_path, sandbox.run_id)  # each run: unsafe_local start, end, sandbox
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert [e.tool for e in chain[:3]] == ["unsafe_local.start", "unsafe_local.end", "sandbox.run"]
    assert all(report.ok for report in verify(ledger_path))


def test_cli_unsafe_local_run_is_audited(tmp_path) -> None:
    db = tmp_path / "ledger.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "sandbox",
            "run",
            "--unsafe-local",
            "--db",
            str(db),
            str(ROOT / "examples" / "hello.py"),
            "Ada",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "recorded in" in done.stderr
    run = list_runs(db)[0]
    assert run["crew"] == "sandbox" and run["status"] == "finished"
    (event,) = [e for e in timeline(db, run["run_id"]) if e.kind == "sandbox"]
    assert event.decision == "unsafe-local" and "hello.py Ada" in (event.detail or "")


def test_recorded_sandbox_ends_only_the_run_it_started(ledger_path) -> None:
    ledger = Ledger(ledger_path)
    with ledger.run("crew") as log:
        inside = RecordedSandbox(open_sandbox(unsafe_local=True), ledger, run_id=log.id)
        inside.run(python_code="print('a')")
        inside.close()
        assert {r["run_id"]: r["status"] for r in list_runs(ledger_path)} == {log.id: "running"}
    own = RecordedSandbox(open_sandbox(unsafe_local=True), ledger)
    own.close("failed")
    statuses = {r["run_id"]: r["status"] for r in list_runs(ledger_path)}
    assert statuses == {log.id: "finished", own.run_id: "failed"}
    assert all(report.ok for report in verify(ledger_path))
