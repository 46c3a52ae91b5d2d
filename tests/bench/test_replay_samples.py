"""Recorded samples and their replay (issue 23): voters distinct from the primary, old
recordings refused, never more draws than samples, and the call path's time charged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from accord.bench.replay import ReplayPool
from accord.bench.runner import BenchConfig, run_bench
from accord.bench.samples import Sample, SamplePool
from accord.bench.store import BenchStore
from accord.consensus.records import Attempt, Task
from accord.errors import ConfigError
from accord.models.base import Completion, CompletionRequest, Usage


def _samples(db: Path) -> list[tuple[str, str, str, float]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT item_key, kind, answer, mean_logprob FROM bench_samples ORDER BY ALL"
        ).fetchall()


def test_no_recorded_voter_repeats_the_primarys_draw(tmp_path: Path) -> None:
    """The simulated backend ignores temperature: a voter drawn at the primary's seed is an
    exact copy of it (same answer, same continuous confidence)."""
    db = tmp_path / "b.duckdb"
    run_bench(
        BenchConfig(
            tasks="simulated:40",
            backend="simulated",
            db=db,
            strategies="vote@5",
            replay=5,
            replay_seeds=2,
        )
    )
    rows = _samples(db)
    primary = {key: (answer, lp) for key, kind, answer, lp in rows if kind == "primary"}
    voters = [(key, (answer, lp)) for key, kind, answer, lp in rows if kind == "voter"]
    assert len(primary) == 40 and len(voters) == 200
    assert not [key for key, draw in voters if draw == primary[key]]
    assert len({(key, draw) for key, draw in voters}) == 200  # the voters differ, too


# the bench_samples table as accord wrote it before issue 23 (voter 0 at the primary's seed)
_OLD_SAMPLES = """CREATE TABLE bench_samples (
    item_key VARCHAR, backend VARCHAR, model VARCHAR, seed BIGINT, kind VARCHAR,
    idx INTEGER, temperature DOUBLE, answer VARCHAR, raw VARCHAR, option_prob DOUBLE,
    mean_logprob DOUBLE, min_logprob DOUBLE, prompt_tokens BIGINT,
    completion_tokens BIGINT, model_ms DOUBLE,
    PRIMARY KEY (item_key, backend, model, seed, kind, idx))"""


def test_an_old_recording_is_refused_until_it_is_recorded_again(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(_OLD_SAMPLES)
        con.execute(
            "INSERT INTO bench_samples VALUES ('k', 'simulated{}', 'sim-agent', 0, 'voter', 0, "
            "0.8, '12', '12', NULL, -0.1, -0.1, 10, 2, 0.0)"
        )
    config = BenchConfig(
        tasks="simulated:10",
        backend="simulated",
        db=db,
        strategies="vote@3",
        replay=3,
        replay_seeds=2,
    )
    with pytest.raises(ConfigError, match="older accord") as refused:
        run_bench(config)
    assert "--rerecord" in str(refused.value)
    assert len(_samples(db)) == 1  # nothing recorded, nothing lost
    config.rerecord = True
    run_id = run_bench(config)
    assert BenchStore(db).summary(run_id)[0].n_items == 10
    assert len(_samples(db)) == 10 * 4


def test_a_vote_larger_than_the_recording_is_refused_before_anything_is_drawn(
    tmp_path: Path,
) -> None:
    db = tmp_path / "b.duckdb"
    config = BenchConfig(
        tasks="simulated:20",
        backend="simulated",
        db=db,
        strategies="single,vote@7,vote@9",
        replay=5,
    )
    with pytest.raises(ConfigError, match=r"vote@7, vote@9 .* --replay 5") as refused:
        run_bench(config)
    assert "--replay 9" in str(refused.value)
    assert _samples(db) == []


def test_the_cli_names_the_replay_a_vote_needs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "bench",
            "--backend",
            "simulated",
            "--tasks",
            "simulated:5",
            "--strategies",
            "vote@7",
            "--replay",
            "5",
            "--db",
            str(tmp_path / "b.duckdb"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "use --replay 7" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _sample(answer: str) -> Sample:
    attempt = Attempt(
        task_id="",
        role="solver",
        model="m",
        answer=answer,
        raw=answer,
        prompt_tokens=1,
        completion_tokens=1,
        model_ms=0.0,
        seed=0,
        temperature=0.8,
        kind="voter",
    )
    return Sample(attempt, 0.0)


def test_a_replayed_decision_draws_each_sample_once_then_refuses() -> None:
    import asyncio

    pool = SamplePool(_sample("p"), tuple(_sample(str(i)) for i in range(5)))
    replay = ReplayPool({"key": pool}, {"t": "key"}, seed=3)
    task = Task("t", "q")

    async def draw(n: int, first_seed: int) -> list[str]:
        replay.begin()
        out = []
        for i in range(n):
            a = await replay.attempt(
                "solver", task, kind="voter", temperature=0.8, seed=first_seed + i
            )
            out.append(a.answer)
        return out

    # seeds as the coordinator gives them: a vote from 0, an escalation after the primary from 1
    assert sorted(asyncio.run(draw(5, 0))) == ["0", "1", "2", "3", "4"]
    assert sorted(asyncio.run(draw(5, 1))) == ["0", "1", "2", "3", "4"]
    assert asyncio.run(draw(3, 1)) == asyncio.run(draw(3, 0))  # one order per replay seed
    with pytest.raises(ConfigError, match="--replay 6"):
        asyncio.run(draw(6, 0))


SLOW_PATH_S = 0.02


def _slow_path(request: CompletionRequest) -> Completion:
    """An answer whose call path (not the model: it reports no model time) takes 20 ms."""
    time.sleep(SLOW_PATH_S)
    return Completion("7", Usage(10, 1, 0.0, "scripted"), (-0.1,))


def test_replayed_time_charges_each_drawn_call_its_recorded_latency(tmp_path: Path) -> None:
    task = tmp_path / "t.json"
    task.write_text(
        json.dumps({"examples": [{"input": f"q{i}?", "target": "7"} for i in range(3)]})
    )
    run_id = run_bench(
        BenchConfig(
            tasks=str(task),
            backend="scripted",
            backend_options={"script": _slow_path},
            db=tmp_path / "b.duckdb",
            strategies="single,vote@3",
            replay=3,
            replay_seeds=2,
        )
    )
    rows = {r.strategy: r for r in BenchStore(tmp_path / "b.duckdb").summary(run_id)}
    assert rows["single"].wall_ms - rows["single"].overhead_ms == 0.0  # no model time
    assert rows["single"].overhead_ms >= 1000 * SLOW_PATH_S
    assert rows["vote@3"].overhead_ms >= 3 * 1000 * SLOW_PATH_S
