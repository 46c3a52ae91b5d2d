"""Failing models: faults are injected, retried with backoff, and a run always goes on."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import pytest

from accord import Crew, Policy, Role, Task
from accord.errors import BackendError, ConfigError
from accord.models.base import CompletionRequest, Message, create_backend
from accord.models.faulty import FaultyBackend
from accord.models.retry import RetryingBackend, unusable_text
from accord.models.scripted import ScriptedBackend


def _request(text: str, seed: int = 0) -> CompletionRequest:
    return CompletionRequest(messages=(Message("user", text),), seed=seed)


def _faulty(**options: Any) -> FaultyBackend:
    return FaultyBackend(ScriptedBackend(default="42"), **options)


def test_faults_are_drawn_at_their_rates_and_reproducibly() -> None:
    rates = {"timeout": 0.1, "error": 0.1, "empty": 0.1, "unparseable": 0.1, "garbage": 0.1}
    first, second = _faulty(rates=rates, hang_s=0), _faulty(rates=rates, hang_s=0)
    draws = [first.draw(f"q{i}") for i in range(2000)]
    assert draws == [second.draw(f"q{i}") for i in range(2000)]
    for fault in rates:
        assert 140 < draws.count(fault) < 260, fault  # 200 expected
    assert 900 < draws.count(None) < 1100


@pytest.mark.parametrize(("fault", "raises"), [("error", BackendError), ("timeout", TimeoutError)])
def test_call_faults_raise(fault: str, raises: type[Exception]) -> None:
    with pytest.raises(raises):
        _faulty(fail_first=1, fault=fault, hang_s=0).complete(_request("q"))


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("empty", lambda text: text == ""),
        ("garbage", lambda text: unusable_text(text) == "garbage output"),
        ("unparseable", lambda text: text and not any(c.isdigit() for c in text)),
    ],
)
def test_output_faults_spoil_the_text(fault: str, check: Any) -> None:
    backend = _faulty(fail_first=1, fault=fault)
    assert check(backend.complete(_request("q")).text)
    assert backend.complete(_request("q")).text == "42"  # the second call of it is clean


def test_bad_fault_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        _faulty(rates={"eror": 0.5})
    with pytest.raises(ConfigError):
        _faulty(rates={"error": 0.7, "empty": 0.6})


def test_retry_recovers_with_exponential_jittered_backoff() -> None:
    waits: list[float] = []
    inner = _faulty(fail_first=3, fault="timeout", hang_s=0)
    backend = RetryingBackend(
        inner, attempts=5, base_delay_s=0.1, max_delay_s=0.3, jitter=0.5, seed=1, sleep=waits.append
    )
    assert backend.complete(_request("q")).text == "42"
    assert len(waits) == 3 and backend.retries == 3
    for wait, ceiling in zip(waits, (0.1, 0.2, 0.3), strict=True):
        assert ceiling * 0.5 <= wait <= ceiling  # capped at max_delay_s, jitter takes off <= 50%
    assert len(set(waits)) == 3


@pytest.mark.parametrize("fault", ["error", "timeout", "empty", "garbage"])
def test_retry_gives_up_with_one_backend_error_naming_the_reason(fault: str) -> None:
    backend = RetryingBackend(
        _faulty(fail_first=99, fault=fault, hang_s=0), attempts=3, sleep=lambda s: None
    )
    with pytest.raises(BackendError, match="gave up after 3 attempts") as raised:
        backend.complete(_request("q"))
    assert backend.retries == 2
    expected = {
        "error": "injected failure",
        "timeout": "TimeoutError",
        "empty": "empty output",
        "garbage": "garbage output",
    }[fault]
    assert expected in str(raised.value)


def test_retry_does_not_retry_the_users_mistakes() -> None:
    calls = []

    def script(request: CompletionRequest) -> str:
        calls.append(1)
        raise ConfigError("bad option")

    backend = RetryingBackend(ScriptedBackend(script=script), sleep=lambda s: None)
    with pytest.raises(ConfigError):
        backend.complete(_request("q"))
    assert len(calls) == 1


def test_retry_rejects_nan_and_missing_option_scores() -> None:
    messages = (Message("user", "pick"),)
    for fault in ("garbage", "empty"):
        inner = FaultyBackend(ScriptedBackend(default="b"), fail_first=1, fault=fault)
        scores = RetryingBackend(inner, sleep=lambda s: None).score(messages, ("a", "b"))
        assert len(scores.logprobs) == 2 and all(math.isfinite(x) for x in scores.logprobs)


def test_registered_by_name_with_options_passed_through() -> None:
    backend = create_backend(
        "retry",
        inner="faulty",
        attempts=6,
        seed=3,
        default="7",
        base_delay_s=0.0,
        inner_options={"inner": "scripted", "rates": {"error": 0.5}},
    )
    assert isinstance(backend, RetryingBackend) and isinstance(backend.inner, FaultyBackend)
    assert [backend.complete(_request(f"q{i}")).text for i in range(20)] == ["7"] * 20
    assert backend.inner.injected["error"] > 0


def _crew(options: dict[str, Any], backend: str, n: int = 12) -> Crew:
    return Crew(
        name="flaky",
        roles=[Role(name="solver", model="m"), Role(name="checker", model="m")],
        models={"m": {"backend": backend, "options": options}},
        tasks=[
            Task(id=f"t{i}", question=f"What is {i} plus {i}?", answer_type="number")
            for i in range(n)
        ],
        policy=Policy(kind="adaptive", threshold=0.5, k=3),
    )


def _script(request: CompletionRequest) -> str:
    words = request.messages[-1].content.split()
    return str(2 * int(words[2]))


def test_a_flaky_model_behind_retries_still_decides_every_task(ledger_path: Path) -> None:
    rates = {"timeout": 0.1, "error": 0.1, "empty": 0.1, "garbage": 0.1, "unparseable": 0.1}
    options = {
        "inner": "faulty",
        "base_delay_s": 0.0,
        "attempts": 6,
        "script": _script,
        "inner_options": {"inner": "scripted", "rates": rates, "hang_s": 0.001},
    }
    result = _crew(options, "retry").run(db=ledger_path, pool="local")
    assert len(result.decisions) == 12
    # Unparseable replies get past retries (they are fluent text) and are escalated instead.
    assert all(d.status == "accepted" for d in result.decisions), [
        (d.task_id, d.stop_reason) for d in result.decisions
    ]
    assert result.answers == {f"t{i}": str(2 * i) for i in range(12)}


def test_a_dead_model_leaves_decisions_unresolved_with_the_reason(ledger_path: Path) -> None:
    options = {
        "inner": "faulty",
        "base_delay_s": 0.0,
        "attempts": 2,
        "inner_options": {"inner": "scripted", "rates": {"error": 1.0}},
    }
    result = _crew(options, "retry", n=5).run(db=ledger_path, pool="local")
    assert len(result.decisions) == 5
    for decision in result.decisions:
        assert decision.status == "unresolved"
        assert decision.stop_reason.startswith("attempt failed: BackendError")
        assert "gave up after 2 attempts" in decision.stop_reason
        assert len(decision.attempts) == 3  # the primary and voters, k=3 in all
    db = duckdb.connect(str(ledger_path), read_only=True)
    rows = db.execute(
        "SELECT count(*), count(DISTINCT task_id), bool_and(NOT verdict_ok) "
        "FROM attempts WHERE run_id = ?",
        [result.run_id],
    ).fetchone()
    status = db.execute("SELECT status FROM runs").fetchone()
    db.close()
    assert rows == (15, 5, True)
    assert status == ("finished",)


@pytest.mark.usefixtures("ray_cluster")
def test_failures_inside_ray_actors_are_recorded_not_raised(ledger_path: Path) -> None:
    # A table, not a function: Ray actors cannot import this test module to unpickle one.
    script = {f"is {i} plus {i}?": str(2 * i) for i in range(8)}
    options = {"inner": "scripted", "rates": {"error": 0.5}, "script": script}
    result = _crew(options, "faulty", n=8).run(db=ledger_path, pool="ray")
    assert len(result.decisions) == 8
    failed = [a for d in result.decisions for a in d.attempts if not a.verdict.ok]
    assert failed and all("injected failure" in a.verdict.reason for a in failed)
    accepted = [d for d in result.decisions if d.status == "accepted"]
    assert accepted and all(d.answer == str(2 * int(d.task_id[1:])) for d in accepted)


def test_accord_errors_survive_pickling_as_ray_sends_them() -> None:
    import pickle

    from accord.errors import UnknownNameError

    for error in (
        BackendError("b", "boom"),
        ConfigError("bad", path="c.yaml", line=2, hint="h"),
        UnknownNameError("backend", "lama", ["llama"]),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


def test_the_flaky_example_config_runs(ledger_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = Crew.from_yaml(root / "configs" / "flaky.yaml").run(db=ledger_path, pool="local")
    assert result.answers["capital"] == "Paris" and result.answers["sum"] == "42"
    assert len(result.decisions) == 3
