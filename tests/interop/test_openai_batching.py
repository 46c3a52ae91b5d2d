"""K samples in one request (`n`), its fallback, deadlines and clamped usage, over real HTTP."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from accord.errors import BackendError
from accord.models.base import Completion, CompletionRequest, Message, Usage, create_backend
from accord.models.scripted import ScriptedBackend
from accord.models.serve import ChatServer

pytest.importorskip("httpx")

MESSAGES = (Message("system", "You are the voter."), Message("user", "What is 2 plus 2?"))
REQUEST = CompletionRequest(messages=MESSAGES, max_tokens=8, temperature=0.8, seed=11)
SEEDS = [11, 12, 13, 14, 15]


def _scripted() -> ScriptedBackend:
    """Answers `four` or `4 i think` by seed; reports 1,500 prompt tokens, 1,024 cached."""

    def reply(request: CompletionRequest) -> Completion:
        text = "four" if (request.seed or 0) % 2 else "4 i think"
        n = len(text.split())
        usage = Usage(1500, n, 1.0, "scripted", cached_prompt_tokens=1024)
        return Completion(text, usage, (-0.1,) * n)

    return ScriptedBackend(script=reply)


@pytest.fixture
def honours_n() -> Iterator[ChatServer]:
    with ChatServer(_scripted(), honour_n=True) as server:
        yield server


@pytest.fixture
def ignores_n() -> Iterator[ChatServer]:
    with ChatServer(_scripted(), honour_n=False) as server:
        yield server


def test_k_samples_are_one_request_with_n_and_the_prompt_is_billed_once(honours_n) -> None:
    backend = create_backend("openai", base_url=honours_n.url, model="m")
    out = backend.complete_many(REQUEST, SEEDS)
    assert [r.get("n") for r in honours_n.requests] == [5]
    assert [c.text for c in out] == ["four", "4 i think", "four", "4 i think", "four"]
    assert [c.usage.prompt_tokens for c in out] == [1500, 0, 0, 0, 0]
    assert [c.usage.cached_prompt_tokens for c in out] == [1024, 0, 0, 0, 0]
    # each sample's own completion tokens (from its token log-probs)
    assert [c.usage.completion_tokens for c in out] == [1, 3, 1, 3, 1]
    assert sum(c.usage.total_tokens for c in out) == 1500 + 9
    assert backend.honours_n


def test_a_server_that_ignores_n_gets_separate_requests_and_is_remembered(ignores_n) -> None:
    backend = create_backend("openai", base_url=ignores_n.url, model="ignores")
    out = backend.complete_many(REQUEST, SEEDS)
    assert len(out) == 5 and all(c.usage.prompt_tokens == 1500 for c in out)
    assert ignores_n.requests[0].get("n") == 5  # asked once, one choice came back
    assert sorted(r.get("seed") for r in ignores_n.requests[1:]) == SEEDS[1:]
    assert [c.text for c in out] == ["four", "4 i think", "four", "4 i think", "four"]
    assert not backend.honours_n
    # remembered for the endpoint: another backend of this process asks without `n`
    again = create_backend("openai", base_url=ignores_n.url, model="ignores")
    before = len(ignores_n.requests)
    assert len(again.complete_many(REQUEST, SEEDS[:3])) == 3
    assert [r.get("n") for r in ignores_n.requests[before:]] == [None] * 3


class _RefusesN(http.server.BaseHTTPRequestHandler):
    """Answers 400 to any request with `n`, else one choice."""

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        if payload.get("n"):
            status, body = 400, {"error": {"message": "n is not supported"}}
        else:
            status = 200
            body = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 9}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.HTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_server_that_refuses_n_gets_separate_requests() -> None:
    server = _serve(_RefusesN)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        backend = create_backend("openai", base_url=url, model="refuses")
        out = backend.complete_many(REQUEST, SEEDS[:3])
        assert [c.text for c in out] == ["ok"] * 3
        assert not backend.honours_n
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.model
def test_llama_cpp_server_ignores_n_and_the_fallback_draws_every_sample(llama_server) -> None:
    backend = create_backend("openai", base_url=llama_server, model="smollm2")
    assert backend.honours_n
    out = backend.complete_many(REQUEST, SEEDS[:3])
    assert len(out) == 3 and all(c.text for c in out)
    assert all(c.usage.prompt_tokens > 10 and c.usage.completion_tokens > 0 for c in out)
    assert not backend.honours_n  # one choice came back for n=3


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends a valid response one byte every 0.2 s (headers too): each read is quick, the
    whole response takes about a minute."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"choices": [{"message": {"content": "slow"}}]}).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        try:
            for byte in head + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.timeout(60)
def test_a_trickling_server_is_cut_off_at_the_deadline() -> None:
    server = _serve(_Trickle)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        backend = create_backend("openai", base_url=url, timeout_s=1.0, max_retries=1)
        with pytest.raises(BackendError, match="timeout_s"):
            backend.complete(REQUEST)
        assert backend.retries == 1
    finally:
        server.shutdown()
        server.server_close()


class _Absurd(http.server.BaseHTTPRequestHandler):
    """Reports impossible usage: 1e30 prompt tokens, negative completions, text as cache."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        usage = {
            "prompt_tokens": 1e30,
            "completion_tokens": -5,
            "prompt_tokens_details": {"cached_tokens": "many"},
        }
        data = json.dumps({"choices": [{"message": {"content": "ok"}}], "usage": usage}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_absurd_usage_is_clamped_at_the_edge_and_marked() -> None:
    from accord.models.http_usage import MAX_TOKENS

    server = _serve(_Absurd)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        usage = create_backend("openai", base_url=url).complete(REQUEST).usage
    finally:
        server.shutdown()
        server.server_close()
    assert usage.prompt_tokens == MAX_TOKENS
    assert usage.completion_tokens == 0 and usage.cached_prompt_tokens == 0
    assert set(usage.clamped) == {"prompt_tokens", "completion_tokens", "cached_prompt_tokens"}


def test_an_agents_attempts_bill_the_prompt_once_over_n(honours_n) -> None:
    from accord.consensus.records import Task
    from accord.roles.agent import RoleAgent
    from accord.roles.prompt import RoleProfile

    agent = RoleAgent(
        RoleProfile("voter"),
        backend_name="openai",
        backend_options={"base_url": honours_n.url, "model": "agent"},
    )
    task = Task(id="t", prompt="What is 2 plus 2?", answer_type="number", max_tokens=8)
    attempts = agent.attempts(task, kind="voter", temperature=0.8, seeds=SEEDS[:3])
    assert [r.get("n") for r in honours_n.requests] == [3]
    assert [a.prompt_tokens for a in attempts] == [1500, 0, 0]
    assert [a.seed for a in attempts] == SEEDS[:3]


def test_the_retry_wrapper_keeps_n_and_redraws_only_unusable_samples() -> None:
    seen: list[int | None] = []

    def reply(request: CompletionRequest) -> Completion:
        seen.append(request.seed)
        text = "" if seen.count(12) == 1 and request.seed == 12 else "four"  # once empty
        return Completion(text, Usage(20, 1, 1.0, "scripted"), (-0.1,))

    with ChatServer(ScriptedBackend(script=reply)) as server:
        backend = create_backend(
            "retry", inner="openai", inner_options={"base_url": server.url, "model": "r"}
        )
        out = backend.complete_many(REQUEST, SEEDS[:3])
        assert server.requests[0].get("n") == 3
        assert len(server.requests) > 1  # seed 12 drawn again on its own
        assert out[0].text == "four" and out[2].text == "four"
        assert out[0].usage.prompt_tokens == 20 and out[2].usage.prompt_tokens == 0
