"""Every decision of every run is sealed in the audit chain when the run ends, with its costs;
a crashed run says so, and resuming it seals what it left; the audit key's file."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from accord import Crew
from accord.consensus.records import Attempt, Decision
from accord.errors import ConfigError
from accord.ledger.audit import timeline
from accord.ledger.audit_keys import KEY_ENV, load_key
from accord.ledger.audit_verify import verify
from accord.ledger.writer import Ledger
from tests.conftest import ROOT


def decision(task_id: str, tokens: int = 10) -> Decision:
    attempt = Attempt(
        task_id=task_id,
        role="solver",
        model="m",
        answer="42",
        raw="42",
        prompt_tokens=tokens,
        completion_tokens=2,
        model_ms=1.0,
        seed=0,
        temperature=0.0,
    )
    return Decision(
        task_id, "42", 0.9, "single", "confident", "accepted", "adaptive", (attempt,), 1.0
    )


def findings(path: Path, run_id: str) -> list[str]:
    (report,) = verify(path, [run_id])
    return [f.message for f in report.findings]


def test_a_crew_run_seals_every_decision_with_its_costs(ledger_path: Path) -> None:
    result = Crew.from_yaml(ROOT / "configs" / "scripted.yaml").run(db=ledger_path, pool="local")
    events = timeline(ledger_path, result.run_id)
    sealed = {e.tool: e for e in events if e.kind == "decision"}
    assert set(sealed) == {"capital", "sum", "planet", "report"}
    assert '"path":"escalated"' in (sealed["planet"].detail or "")
    assert '"prompt_tokens":' in (sealed["planet"].detail or "")
    assert events[-1].kind == "run_end" and events[-1].decision == "finished"
    (report,) = verify(ledger_path, [result.run_id])
    assert report.ok and report.decisions == 4


def test_a_crashed_run_is_unsealed_until_it_is_resumed(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path)
    run_id = ledger.start_run("crashy")
    ledger.record(run_id, decision("a"))
    ledger.flush()  # written, and then the process dies: no finish_run
    ledger.release()
    found = findings(ledger_path, run_id)
    assert any("has not finished" in m for m in found), found
    resumed = Ledger(ledger_path)
    resumed.start_run("crashy", run_id=run_id)
    resumed.record(run_id, decision("b"))
    resumed.finish_run(run_id)
    (report,) = verify(ledger_path, [run_id])
    assert report.ok and report.decisions == 2


def test_a_sealed_run_resumed_and_not_finished_says_so(ledger_path: Path) -> None:
    ledger = Ledger(ledger_path)
    run_id = ledger.start_run("twice")
    ledger.record(run_id, decision("a"))
    ledger.finish_run(run_id)
    again = Ledger(ledger_path)
    again.start_run("twice", run_id=run_id)
    again.release()
    assert findings(ledger_path, run_id) == [
        "unsealed: the run was resumed and has not finished (status running): still running, "
        "or it crashed (resume it again to seal it)"
    ]


def test_the_key_is_created_private_and_never_by_a_reader(tmp_path: Path) -> None:
    where = tmp_path / "cfg" / "audit.key"
    with pytest.raises(ConfigError, match="no audit key here"):
        load_key(where, create=False)
    key = load_key(where)
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert stat.S_IMODE(where.parent.stat().st_mode) == 0o700
    assert load_key(where).secret == key.secret and len(key.secret) == 32
    where.chmod(0o644)
    with pytest.raises(ConfigError, match="open to other users"):
        load_key(where)


def _create(path: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(load_key(path).secret)


def test_processes_creating_the_key_at_once_agree_on_one(tmp_path: Path) -> None:
    where = str(tmp_path / "k" / "audit.key")
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_create, args=(where, out)) for _ in range(4)]
    for p in procs:
        p.start()
    secrets = {out.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(60)
    assert len(secrets) == 1 and os.listdir(tmp_path / "k") == ["audit.key"]


def test_the_key_location_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.key"))
    assert load_key().path == tmp_path / "env.key"
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert load_key().path == tmp_path / "xdg" / "accord" / "audit.key"
