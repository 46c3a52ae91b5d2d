"""Model code run on the host (`code_tests` with `unsafe_local: true`) is on the crew run's
audit chain: one event before it starts, one with its result; the chain still verifies."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from accord import Crew, Policy, Role, Task
from accord.consensus.code_tests import extract_code
from accord.ledger import list_runs
from accord.ledger.audit import timeline
from accord.ledger.audit_verify import verify
from accord.sandbox import open_sandbox

CODE = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\n"


def crew(unsafe: bool) -> Crew:
    return Crew(
        name="coder",
        roles=[Role(name="coder", model="fake")],
        models={"fake": {"backend": "scripted", "options": {"default": {"text": CODE}}}},
        tasks=[
            Task(
                id="add",
                question="Write add(a, b).",
                answer_type="free",
                validators=[{"code_tests": {"tests": TESTS, "unsafe_local": unsafe}}],
            )
        ],
        policy=Policy(kind="single"),
    )


def test_unsafe_local_code_tests_are_audited_in_the_crew_run(ledger_path: Path) -> None:
    result = crew(unsafe=True).run(db=ledger_path, pool="local")
    assert result.decisions[0].attempts[0].verdict.ok
    events = timeline(ledger_path, result.run_id)
    unsafe = [e for e in events if e.decision == "unsafe-local"]
    assert [e.tool for e in unsafe] == ["unsafe_local.start", "unsafe_local.end"]
    code = extract_code(result.decisions[0].attempts[0].answer)  # the code that ran
    solution = hashlib.sha256(code.encode()).hexdigest()[:12]
    assert f"solution.py#{solution}" in (unsafe[0].detail or "")
    assert "exit_code=0" in (unsafe[1].detail or "")
    assert [e.kind for e in events][-2:] == ["decision", "run_end"]
    (report,) = verify(ledger_path, [result.run_id])
    assert report.ok, report.findings


def test_isolated_code_tests_write_no_unsafe_event(ledger_path: Path) -> None:
    result = crew(unsafe=False).run(db=ledger_path, pool="local")
    events = timeline(ledger_path, result.run_id)
    assert not [e for e in events if e.decision == "unsafe-local"]


def test_the_start_is_witnessed_before_the_program_runs(tmp_path: Path) -> None:
    from accord.sandbox.witness import observing

    marker = tmp_path / "ran"
    seen: list[tuple[str, bool]] = []

    def observe(request):  # type: ignore[no-untyped-def]
        seen.append(("start", marker.exists()))
        return lambda result: seen.append(("end", marker.exists()))

    with observing(observe):
        open_sandbox(unsafe_local=True).run(python_code=f"open({str(marker)!r}, 'w').write('x')")
    open_sandbox(unsafe_local=True).run(python_code="pass")  # no observer any more
    assert seen == [("start", False), ("end", True)]


KILLER = """\
import os, signal
pid = os.getpid()
while pid > 1:  # up the process tree to the accord that started us, and kill it
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if b"accord.cli" in f.read():
            os.kill(pid, signal.SIGKILL)
"""


def test_cli_unsafe_run_is_on_record_even_when_it_kills_accord(tmp_path: Path) -> None:
    program = tmp_path / "killer.py"
    program.write_text(KILLER)
    db = tmp_path / "ledger.duckdb"
    command = ["sandbox", "run", "--unsafe-local", "--db", str(db), str(program)]
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == -9, done.stderr  # accord itself was killed by the program
    (run,) = list_runs(db)
    assert run["crew"] == "sandbox" and run["status"] == "running"
    events = timeline(db, run["run_id"])
    heads = Path(f"{db}.heads")
    assert [e.tool for e in events] == ["unsafe_local.start"], (
        heads.read_text() if heads.exists() else "no heads file",
        sorted(p.name for p in tmp_path.iterdir()),
    )
    assert "python killer.py" in (events[0].detail or "")
