"""OpenTelemetry export: a real OTLP/HTTP receiver on 127.0.0.1 gets a run's spans."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """An OTLP/HTTP traces endpoint that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list = []
        self.requests = 0
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.spans.extend(scope.spans)
                received.requests += 1
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _attrs(span) -> dict:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out


def _accord(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=300,
    )


def test_a_crew_run_delivers_its_spans_with_the_ledgers_token_counts(
    receiver: Receiver, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.duckdb"
    done = _accord(
        "run",
        "configs/scripted.yaml",
        "--db",
        str(db),
        "--local",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url},
    )
    assert done.returncode == 0, done.stderr
    assert "spans sent" in done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        (run_id,) = con.execute("SELECT run_id FROM runs").fetchone()
        attempts = con.execute(
            "SELECT task_id, attempt_no, role, model, prompt_tokens, completion_tokens "
            "FROM attempts ORDER BY task_id, attempt_no"
        ).fetchall()
        decisions = con.execute(
            "SELECT task_id, path, prompt_tokens, completion_tokens FROM decisions"
        ).fetchall()
    spans = {s.span_id: s for s in receiver.spans}
    assert len(spans) == 1 + len(decisions) + len(attempts)
    (root,) = [s for s in spans.values() if not s.parent_span_id]
    assert _attrs(root)["gen_ai.operation.name"] == "invoke_workflow"
    assert _attrs(root)["accord.run_id"] == run_id
    assert len({s.trace_id for s in spans.values()}) == 1

    chats = [_attrs(s) for s in spans.values() if _attrs(s)["gen_ai.operation.name"] == "chat"]
    got = sorted(
        (
            a["accord.attempt.no"],
            a["gen_ai.agent.name"],
            a["gen_ai.request.model"],
            a["gen_ai.usage.input_tokens"],
            a["gen_ai.usage.output_tokens"],
        )
        for a in chats
    )
    assert got == sorted((no, role, model, p, c) for _, no, role, model, p, c in attempts)
    agents = {
        _attrs(s)["accord.task_id"]: _attrs(s)
        for s in spans.values()
        if _attrs(s)["gen_ai.operation.name"] == "invoke_agent"
    }
    for task_id, path, prompt, completion in decisions:
        assert agents[task_id]["accord.path"] == path
        assert agents[task_id]["gen_ai.usage.input_tokens"] == prompt
        assert agents[task_id]["gen_ai.usage.output_tokens"] == completion
    # every attempt hangs under its own decision
    for s in spans.values():
        if _attrs(s)["gen_ai.operation.name"] == "chat":
            parent = _attrs(spans[s.parent_span_id])
            assert parent["gen_ai.operation.name"] == "invoke_agent"
    assert _attrs(root)["gen_ai.usage.input_tokens"] == sum(d[2] for d in decisions)


def test_accord_traces_exports_an_earlier_run_and_says_when_nobody_listens(
    receiver: Receiver, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.duckdb"
    assert (
        _accord("run", "configs/scripted.yaml", "--db", str(db), "--local", env={}).returncode == 0
    )
    assert receiver.spans == []  # no endpoint configured: nothing sent
    sent = _accord(
        "traces", "latest", "--db", str(db), "--endpoint", f"{receiver.url}/v1/traces", env={}
    )
    assert sent.returncode == 0, sent.stderr
    assert receiver.requests == 1 and len(receiver.spans) > 1
    receiver.close()
    down = _accord("traces", "--db", str(db), "--endpoint", f"{receiver.url}/v1/traces", env={})
    assert down.returncode == 2
    assert "did not take" in down.stderr and "Traceback" not in down.stderr
    unknown = _accord("traces", "no-such-run", "--db", str(db), "--endpoint", receiver.url, env={})
    assert unknown.returncode == 2 and "no run 'no-such-run'" in unknown.stderr
