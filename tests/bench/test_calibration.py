"""Calibration: ECE, the threshold sweep, and `accord calibrate` on a scripted crew's ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord import Crew, Policy, Role, Task
from accord.bench import calibration as cal
from accord.cli.app import app
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


# From a review of `accord calibrate`: each failed before the fix.


def _ledger_with(tmp_path: Path, decisions: list[object], policy: str = "adaptive") -> Path:
    from accord.ledger import Ledger

    db = tmp_path / "h.duckdb"
    ledger = Ledger(db)
    run = ledger.start_run("c", config={"policy": {"kind": policy}})
    for decision in decisions:
        ledger.record(run, decision, expected=["a"], correct=decision.answer == "a")  # type: ignore[attr-defined]
    ledger.finish_run(run)
    ledger.close()
    return db


def _attempt(kind: str, answer: str, ok: bool = True, critic: float | None = None) -> object:
    from accord.consensus.records import Attempt, Verdict

    return Attempt(
        task_id="t", role="solver", model="m", answer=answer, raw=answer, prompt_tokens=10,
        completion_tokens=0, model_ms=1.0, seed=0, temperature=0.0, kind=kind,  # type: ignore[arg-type]
        verdict=Verdict(ok, "" if ok else "rejected"), critic_score=critic,
    )  # fmt: skip


def _decision(task: str, answer: str, path: str, attempts: list[object]) -> object:
    from dataclasses import replace

    from accord.consensus.records import Decision

    return Decision(
        task_id=task, answer=answer, confidence=0.9, path=path, stop_reason="x",
        status="accepted", policy="adaptive", wall_ms=1.0,
        attempts=tuple(replace(a, task_id=task) for a in attempts),  # type: ignore[type-var]
    )  # fmt: skip


def test_a_cascade_decision_counts_once_and_a_retried_one_as_followed_up(tmp_path: Path) -> None:
    two_tiers = _decision("t1", "a", "single", [_attempt("primary", "b"), _attempt("primary", "a")])
    retried = _decision(
        "t2", "a", "single", [_attempt("primary", "", False), _attempt("retry", "a")]
    )
    items = cal.load_history(_ledger_with(tmp_path, [two_tiers, retried]))
    assert len(items) == 2  # one per decision, not one per tier's primary
    assert [i.escalated_correct for i in items] == [True, True]  # the outcome after follow-up
    assert [i.escalated_tokens for i in items] == [20, 20]


def test_the_critic_estimator_reads_the_stored_score(tmp_path: Path) -> None:
    judged = _decision("t1", "a", "single", [_attempt("primary", "a", critic=0.8999999999999999)])
    items = cal.load_history(_ledger_with(tmp_path, [judged]))
    assert cal.confidences(items, "critic") == [pytest.approx(0.9)]
    assert cal.replay(items, [0.8999999999999999], 0.9).accepted == 1.0
    with pytest.raises(ConfigError, match="token_min"):
        cal.confidences(items, "min:option_prob,token_min")


def test_history_of_different_policies_keeps_the_default_policy(tmp_path: Path) -> None:
    from accord.ledger import Ledger

    db = _ledger_with(tmp_path, [_decision("t1", "a", "single", [_attempt("primary", "a")])])
    assert cal.history_policy(db) == PolicySpec(kind="adaptive")
    ledger = Ledger(db)
    run = ledger.start_run("other", config={"policy": {"kind": "adaptive", "k": 3}})
    decision = _decision("t2", "a", "single", [_attempt("primary", "a")])
    ledger.record(run, decision, expected=["a"], correct=True)  # type: ignore[arg-type]
    ledger.finish_run(run)
    ledger.close()
    assert cal.history_policy(db) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-accuracy", "1.5"], "is not an accuracy"),
        (["--max-tokens-per-item", "-5"], "is not a token count"),
        (["--estimator", "combined"], "needs its parts"),
        (["--out", "{tmp}/no/such/dir/p.yaml"], "cannot write the policy"),
        (["--plot", "{tmp}/p.xyz"], "cannot write the diagram"),
    ],
)
def test_calibrate_mistakes_exit_2_with_one_line(
    history_db: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", "calibrate", "--db", str(history_db), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_primary_in_words_is_right_against_a_number_label(tmp_path: Path) -> None:
    """The primary said "seven", the vote settled on "7" (the label): the primary was right,
    though the ledger does not store that the task asked for a number."""
    from accord.ledger import Ledger

    voted = _decision(
        "t1",
        "7",
        "escalated",
        [_attempt("primary", "seven"), _attempt("voter", "7"), _attempt("voter", "7")],
    )
    wrong = _decision("t2", "7", "escalated", [_attempt("primary", "six"), _attempt("voter", "7")])
    db = tmp_path / "h.duckdb"
    ledger = Ledger(db)
    run = ledger.start_run("c", config={"policy": {"kind": "adaptive"}})
    for decision in (voted, wrong):
        ledger.record(run, decision, expected=["7"], correct=True)  # type: ignore[arg-type]
    ledger.finish_run(run)
    ledger.close()
    assert [item.primary_correct for item in cal.load_history(db)] == [True, False]


def test_an_accepted_primary_costs_its_critics_tokens_too(tmp_path: Path) -> None:
    judged = _decision(
        "t1",
        "a",
        "escalated",
        [
            _attempt("primary", "a", critic=0.4),
            _attempt("critic", "no"),  # judged the primary: 10 tokens
            _attempt("voter", "a"),
            _attempt("critic", "yes"),  # judged a voter: not the primary's cost
        ],
    )
    alone = _decision("t2", "a", "single", [_attempt("primary", "a")])
    items = cal.load_history(_ledger_with(tmp_path, [judged, alone]))
    assert [i.primary_tokens for i in items] == [20, 10]
    assert [i.escalated_tokens for i in items] == [40, None]
