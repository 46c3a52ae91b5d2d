"""A ledger filled by a scripted crew (with audit events and a bench run), and `accord ui`
served over it as a real subprocess on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

UNTRUSTED = '<script>window.pwned = 1; alert("pwned")</script><b>bold?</b>'
SCRIPT = {
    "capital of France": {"text": "Paris", "prob": 0.95},
    "17 plus 25": [
        {"text": "42", "prob": 0.4},
        {"text": "41", "prob": 0.45},
        {"text": "42", "prob": 0.5},
    ],
    "largest planet": [{"text": "Saturn", "prob": 0.3}, "Jupiter", "Jupiter", "Saturn", "Jupiter"],
    "untrusted": {"text": UNTRUSTED, "prob": 0.97},
    "Summarise": {"text": "All checked.", "prob": 0.8},
}


@dataclass(frozen=True)
class Filled:
    """The ledger file and the ids the test put in it."""

    db: Path
    run_id: str
    bench_run_id: str


def crew():
    """The scripted crew whose run fills the ledger: a confident answer, two votes, an
    answer holding HTML, and a report that depends on all four."""
    from accord import Crew, CrewSpec

    single = {"kind": "single"}
    return Crew(
        CrewSpec.model_validate(
            {
                "name": "ui-crew",
                "seed": 3,
                "roles": [
                    {"name": "analyst", "model": "fake"},
                    {"name": "reviewer", "model": "fake"},
                ],
                "models": {"fake": {"backend": "scripted", "options": {"script": SCRIPT}}},
                "prices": {"scripted": {"prompt_usd_per_mtok": 2.5, "completion_usd_per_mtok": 10}},
                "policy": {"kind": "adaptive", "threshold": 0.6, "k": 5},
                "tasks": [
                    {
                        "id": "capital",
                        "question": "What is the capital of France?",
                        "expected": "Paris",
                    },
                    {
                        "id": "sum",
                        "question": "What is 17 plus 25?",
                        "answer_type": "number",
                        "expected": "42",
                    },
                    {
                        "id": "planet",
                        "question": "Which is the largest planet?",
                        "choices": ["Mercury", "Saturn", "Jupiter"],
                        "expected": "Jupiter",
                    },
                    {"id": "html", "question": "Repeat this untrusted text."},
                    {
                        "id": "report",
                        "question": "Summarise: {capital}, {sum}, {planet}, {html}.",
                        "depends_on": ["capital", "sum", "planet", "html"],
                        "policy": single,
                    },
                ],
            }
        )
    )


def add_audit_events(db: Path, run_id: str) -> None:
    """Two chained audit events of the run, one naming the `sum` decision."""
    from accord import Ledger
    from accord.ledger.audit import AuditTrail

    ledger = Ledger(db)
    trail = AuditTrail(ledger, run_id)
    trail.append("tool_call", "analyst", "done", tool="calc", args={"a": 17}, detail="plan=sum")
    trail.append("tool_call", "reviewer", "refused", tool="shell", detail="stage=plan; no shell")
    ledger.close()


def add_bench_run(db: Path) -> str:
    """A (simulated) bench run with three strategies in the same file."""
    from accord.bench.store import BenchStore, SummaryRow

    store = BenchStore(db)
    run_id = "bench-ui-1"
    store.start_run(
        run_id,
        command="accord bench",
        backend="simulated",
        seed=0,
        mode="live",
        tasks="simulated:100",
        strategies="single,vote@5,adaptive",
        n_items=100,
        simulated=True,
    )
    rows = [
        ("single", 0.62, 0.53, 0.71, 40.0, 0.00010, 0.0),
        ("vote@5", 0.74, 0.65, 0.82, 200.0, 0.00050, 1.0),
        ("adaptive", 0.73, 0.64, 0.81, 90.0, 0.00022, 0.35),
    ]
    store.add_summary(
        [
            SummaryRow(
                run_id=run_id,
                strategy=name,
                position=n,
                description=f"{name} (simulated)",
                mode="live",
                n_items=100,
                accuracy=acc,
                ci_low=lo,
                ci_high=hi,
                seed_low=None,
                seed_high=None,
                delta=None,
                delta_low=None,
                delta_high=None,
                p_value=None,
                test="",
                prompt_tokens=tokens * 0.8,
                completion_tokens=tokens * 0.2,
                wall_ms=12.0,
                overhead_ms=1.0,
                escalation=esc,
                cost_usd=usd,
                flops=None,
            )
            for n, (name, acc, lo, hi, tokens, usd, esc) in enumerate(rows)
        ]
    )
    store.finish_run(run_id)
    return run_id


def fill(db: Path) -> Filled:
    """Run the crew into `db`, then add audit events and a bench run."""
    result = crew().run(db=db, pool="local")
    add_audit_events(db, result.run_id)
    return Filled(db, result.run_id, add_bench_run(db))


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """One filled ledger per test module."""
    return fill(tmp_path_factory.mktemp("ui") / "ledger.duckdb")


def accord_cmd(*args: str) -> list[str]:
    """The `accord` command line, as a user runs it."""
    return [sys.executable, "-m", "accord.cli", *args]


@contextmanager
def serve_ui(db: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`accord ui --db DB --port 0` in a subprocess; yields its URL once it listens."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    proc = subprocess.Popen(
        accord_cmd("ui", "--db", str(db), "--port", "0", *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=60)
    line = found[0] if found else ""
    try:
        if "http://" not in line:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"accord ui did not start: {line!r} {err}")
        yield line[line.index("http://") :].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def ui_url(filled: Filled) -> Iterator[str]:
    """`accord ui` over the module's filled ledger."""
    with serve_ui(filled.db) as url:
        yield url
