"""Calibration: ECE, the threshold sweep, and `accord calibrate` on a scripted crew's ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord import Crew, Policy, Role, Task
from accord.cli.app import app
from accord.consensus import calibration as cal
from accord.consensus.policy import PolicySpec
from accord.errors import ConfigError
from accord.models.base import CompletionRequest
from accord.testing import Scripted

N = 40


def primary_reply(i: int) -> Scripted:
    """Items 0-19 right and sure, 20-29 right and middling, 30-39 wrong and nearly as sure."""
    if i < 20:
        return Scripted(f"a{i}", 0.9 + i / 400)
    if i < 30:
        return Scripted(f"a{i}", 0.6)
    return Scripted(f"wrong{i}", 0.55)


def script(request: CompletionRequest) -> Scripted:
    i = int(request.messages[-1].content.split("item ")[1].split("?")[0])
    if request.temperature == 0.0:  # the primary; voters sample warm and get it right
        return primary_reply(i)
    return Scripted(f"a{i}", 0.7)


def labelled_crew(policy: Policy) -> Crew:
    return Crew(
        name="calib",
        roles=[Role(name="solver", model="fake")],
        models={"fake": {"backend": "scripted", "options": {"script": script}}},
        tasks=[
            Task(id=f"t{i}", question=f"What is item {i}?", expected=[f"a{i}"]) for i in range(N)
        ],
        policy=policy,
    )


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger where every primary escalated (threshold 1), so both outcomes are known."""
    db = tmp_path_factory.mktemp("calib") / "ledger.duckdb"
    labelled_crew(Policy(kind="adaptive", threshold=1.0, k=3)).run(db=db, pool="local")
    return db


def test_ece_of_a_known_split() -> None:
    rel = cal.reliability("x", [0.95, 0.95, 0.15, 0.15], [True, False, False, False], bins=10)
    assert [(b.n, b.accuracy) for b in rel.bins] == [(2, 0.0), (2, 0.5)]
    assert rel.ece == pytest.approx(0.5 * 0.15 + 0.5 * 0.45)
    assert cal.reliability("x", [1.0], [True], bins=4).ece == 0.0
    with pytest.raises(ConfigError):
        cal.reliability("x", [0.5], [True], bins=0)


def test_choose_by_target_or_by_cap() -> None:
    points = [
        cal.Point("e", 0.2, 0.70, 10.0, 1.0),
        cal.Point("e", 0.5, 0.90, 20.0, 0.5),
        cal.Point("e", 0.8, 0.95, 40.0, 0.2),
        cal.Point("e", 1.0, 0.95, 60.0, 0.0),
    ]
    assert cal.choose(points, target_accuracy=0.9) == (points[1], True)
    assert cal.choose(points, target_accuracy=0.99) == (points[2], False)
    assert cal.choose(points, max_tokens=45) == (points[2], True)
    assert cal.choose(points, max_tokens=5) == (points[0], False)
    with pytest.raises(ConfigError, match="exactly one"):
        cal.choose(points)


def test_history_is_read_from_the_ledger(history_db: Path) -> None:
    items = cal.load_history(history_db)
    assert len(items) == N
    assert sum(i.primary_correct for i in items) == 30
    assert all(i.escalated_correct for i in items)
    assert all(i.escalated_tokens > i.primary_tokens for i in items)  # type: ignore[operator]


def test_the_chosen_threshold_meets_the_target_on_the_history(history_db: Path) -> None:
    items = cal.load_history(history_db)
    result = cal.calibrate(items, ["token_mean", "verbalised"], target_accuracy=0.9)
    assert result.meets_goal and result.chosen.estimator == "token_mean"
    assert 0.55 < result.chosen.threshold <= 0.6 and result.chosen.accuracy >= 0.9
    assert result.chosen.accepted == pytest.approx(30 / N)
    everything = cal.replay(items, cal.confidences(items, "token_mean"), 1.0)
    assert everything.accuracy == 1.0 and everything.tokens_per_item > result.chosen.tokens_per_item
    capped = cal.calibrate(items, ["token_mean"], max_tokens=result.chosen.tokens_per_item - 1)
    assert capped.chosen.accuracy < 0.9


def test_cli_writes_a_policy_that_reaches_the_target_when_run(
    history_db: Path, tmp_path: Path
) -> None:
    out, png = tmp_path / "policy.yaml", tmp_path / "reliability.png"
    result = CliRunner().invoke(
        app,
        [
            "calibrate",
            "--db",
            str(history_db),
            "--target-accuracy",
            "0.9",
            "--out",
            str(out),
            "--plot",
            str(png),
        ],
        terminal_width=140,
    )
    assert result.exit_code == 0, result.output
    assert "chosen: confidence=auto threshold=0.6" in result.output
    assert "ECE" in result.output and png.read_bytes()[:4] == b"\x89PNG"
    policy = cal.load_policy(out)
    assert isinstance(policy, PolicySpec) and policy.threshold == 0.6
    assert policy.k == 3 and policy.confidence == "auto"  # the history's vote, kept
    rerun = labelled_crew(Policy(**policy.model_dump())).run(db=tmp_path / "l.duckdb", pool="local")
    marks = list(rerun.correct.values())
    assert sum(marks) / len(marks) >= 0.9
    assert sum(d.path == "single" for d in rerun.decisions) == 30


def test_cli_on_a_ledger_without_labels(tmp_path: Path) -> None:
    db = tmp_path / "l.duckdb"
    Crew(
        name="nolabel",
        roles=[Role(name="s", model="f")],
        models={"f": {"backend": "scripted", "options": {"script": {"q": "x"}}}},
        tasks=[Task(id="t", question="q?")],
    ).run(db=db, pool="local")
    result = subprocess.run(
        [sys.executable, "-m", "accord.cli", "calibrate", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "no labelled history" in result.stderr
    assert "Traceback" not in result.stderr
