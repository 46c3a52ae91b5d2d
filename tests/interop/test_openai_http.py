"""The OpenAI-compatible backend against a real llama.cpp server and a real flaky server."""

from __future__ import annotations

import http.server
import json
import math
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

from accord.errors import BackendError
from accord.models.base import CompletionRequest, Message, create_backend
from tests.interop.conftest import free_port as _free_port

httpx = pytest.importorskip("httpx")
pytest.importorskip("llama_cpp.server", reason="pip install 'accord[server]'")


MESSAGES = (
    Message("system", "You are a helpful assistant."),
    Message("user", "What is the capital of France? Answer in one word."),
)


@pytest.mark.model
def test_completion_reports_usage_and_logprobs(llama_server: str) -> None:
    backend = create_backend("openai", base_url=llama_server, model="smollm2", api_key="x")
    out = backend.complete(CompletionRequest(messages=MESSAGES, max_tokens=8))
    assert out.text
    assert out.usage.prompt_tokens > 10
    assert 0 < out.usage.completion_tokens <= 8
    assert out.usage.wall_ms > 0
    assert len(out.token_logprobs) == out.usage.completion_tokens
    assert all(lp <= 0.0 for lp in out.token_logprobs)


@pytest.mark.model
def test_greedy_completion_is_deterministic(llama_server: str) -> None:
    backend = create_backend("openai", base_url=llama_server, model="smollm2")
    request = CompletionRequest(messages=MESSAGES, max_tokens=6, temperature=0.0, seed=1)
    assert backend.complete(request).text == backend.complete(request).text


@pytest.mark.model
def test_option_scoring_prefers_the_obvious_option(llama_server: str) -> None:
    backend = create_backend("openai", base_url=llama_server, model="smollm2")
    messages = (Message("user", "Is the sky blue on a clear day? Answer yes or no."),)
    scores = backend.score(messages, ("yes", "no", "purple elephant"))
    assert len(scores.logprobs) == 3
    assert all(math.isfinite(lp) and lp <= 0 for lp in scores.logprobs)
    assert scores.logprobs[0] > scores.logprobs[2]
    assert scores.usage.prompt_tokens > 0


@pytest.mark.model
def test_role_agent_runs_on_the_http_backend(llama_server: str) -> None:
    from accord.consensus.records import Task
    from accord.roles.agent import RoleAgent
    from accord.roles.prompt import RoleProfile

    agent = RoleAgent(
        RoleProfile("solver"),
        backend_name="openai",
        backend_options={"base_url": llama_server, "model": "smollm2"},
    )
    attempt = agent.attempt(Task(id="t", prompt="2 + 2 = ?", answer_type="number", max_tokens=8))
    assert attempt.prompt_tokens > 0 and attempt.completion_tokens > 0
    assert attempt.mean_logprob is not None


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first `fail` requests, then a valid chat completion."""

    fail = 2
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        type(self).seen.append(self.headers.get("authorization", ""))
        if len(type(self).seen) <= type(self).fail:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        body = json.dumps(
            {
                "model": "flaky",
                "choices": [{"message": {"content": "ok"}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[type[_Flaky]]:
    handler = type("Handler", (_Flaky,), {"seen": [], "fail": 2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def test_retries_5xx_with_backoff_then_succeeds(flaky_server, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sekrit")
    backend = create_backend(
        "openai", base_url=flaky_server.url, api_key_env="MY_KEY", backoff_s=0.01, max_retries=3
    )
    out = backend.complete(CompletionRequest(messages=MESSAGES))
    assert out.text == "ok"
    assert out.usage.prompt_tokens == 7 and out.usage.model == "flaky"
    assert backend.retries == 2
    assert flaky_server.seen == ["Bearer sekrit"] * 3


def test_gives_up_after_max_retries(flaky_server) -> None:
    flaky_server.fail = 10
    backend = create_backend("openai", base_url=flaky_server.url, backoff_s=0.001, max_retries=2)
    with pytest.raises(BackendError, match="gave up after 3 tries"):
        backend.complete(CompletionRequest(messages=MESSAGES))
    assert len(flaky_server.seen) == 3


def test_connection_refused_is_a_backend_error() -> None:
    backend = create_backend(
        "openai",
        base_url=f"http://127.0.0.1:{_free_port()}/v1",
        backoff_s=0.001,
        max_retries=1,
        timeout_s=2,
    )
    with pytest.raises(BackendError, match="ConnectError"):
        backend.complete(CompletionRequest(messages=MESSAGES))


class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers after 50 ms, counting how many requests are in flight at once."""

    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        time.sleep(0.05)
        with cls.lock:
            cls.in_flight -= 1
        body = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_concurrency_limit_is_shared_by_backends_of_one_server() -> None:
    from concurrent.futures import ThreadPoolExecutor

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        agents = [create_backend("openai", base_url=url, max_concurrency=2) for _ in range(3)]
        request = CompletionRequest(messages=MESSAGES)
        with ThreadPoolExecutor(max_workers=9) as pool:
            texts = list(pool.map(lambda i: agents[i % 3].complete(request).text, range(9)))
    finally:
        server.shutdown()
        server.server_close()
    assert texts == ["ok"] * 9
    assert _Slow.peak == 2


def test_time_out_is_a_backend_error_after_retries() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        backend = create_backend(
            "openai", base_url=url, timeout_s=0.01, max_retries=1, backoff_s=0.001
        )
        with pytest.raises(BackendError, match=r"ReadTimeout|timeout_s"):
            backend.complete(CompletionRequest(messages=MESSAGES))
        assert backend.retries == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.model
def test_a_crew_runs_on_the_http_backend_and_records_server_usage(
    llama_server: str, tmp_path
) -> None:
    from accord import Crew, ModelSpec, Policy, RoleSpec, TaskSpec

    crew = Crew(
        name="http-crew",
        models={
            "default": ModelSpec(
                backend="openai", model="smollm2", options={"base_url": llama_server}
            )
        },
        roles=[RoleSpec(name="solver")],
        policy=Policy(kind="single"),
        tasks=[
            TaskSpec(
                id="sky", question="What colour is a clear daytime sky?", choices=["blue", "green"]
            ),
            TaskSpec(id="sum", question="What is 2 plus 2?", answer_type="number", max_tokens=8),
        ],
    )
    result = crew.run(db=tmp_path / "ledger.duckdb", pool="local")
    assert result["sky"].answer in ("blue", "green") and result["sum"].answer
    assert all(a.model == "smollm2" for d in result.decisions for a in d.attempts)
    assert all(d.prompt_tokens > 0 for d in result.decisions)
