"""Tools, tool calls and structured output over the OpenAI wire, against servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pydantic import ValidationError

from accord.models.base import (
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    ToolCall,
    Usage,
    create_backend,
)
from accord.models.openai_wire import MALFORMED_ARGUMENTS
from accord.models.serve import ChatServer
from accord.tools.base import make_tool

pytest.importorskip("httpx")


def lookup_order(order_id: str) -> dict:
    """Look an order up."""
    return {"order_id": order_id, "status": "delivered"}


LOOKUP = make_tool(lookup_order)
TOOLS = (LOOKUP.schema(),)


class Recording:
    """A backend that records each request and answers with the next canned completion."""

    name = "recording"

    def __init__(self, *replies: Completion) -> None:
        self.replies = list(replies)
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return self.replies.pop(0)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        raise NotImplementedError


def _usage() -> Usage:
    return Usage(prompt_tokens=9, completion_tokens=4)


def test_tools_and_tool_turns_go_out_in_openai_shape_and_calls_come_back() -> None:
    call = ToolCall("call_7", "lookup_order", {"order_id": "A100"})
    behind = Recording(
        Completion("", _usage(), tool_calls=(call,)), Completion("It is lost.", _usage())
    )
    history = (
        Message("user", "Where is A100?"),
        Message(
            "assistant", "", tool_calls=(ToolCall("call_6", "lookup_order", {"order_id": "A1"}),)
        ),
        Message("tool", '{"status": "lost"}', tool_call_id="call_6"),
    )
    with ChatServer(behind) as server:
        backend = create_backend("openai", base_url=server.url, model="m")
        out = backend.complete(CompletionRequest(messages=history, tools=TOOLS))
        final = backend.complete(CompletionRequest(messages=history, tools=TOOLS))
        payload = server.requests[0]
    assert out.tool_calls == (call,) and out.text == ""
    assert final.text == "It is lost." and final.tool_calls == ()
    assert payload["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Look an order up.",
                "parameters": TOOLS[0]["parameters"],
            },
        }
    ]
    sent_call, sent_result = payload["messages"][1], payload["messages"][2]
    assert sent_call["tool_calls"] == [
        {
            "id": "call_6",
            "type": "function",
            "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'},
        }
    ]
    assert sent_result == {
        "role": "tool",
        "tool_call_id": "call_6",
        "content": '{"status": "lost"}',
    }
    # the server read the wire back into the same request
    seen = behind.requests[0]
    assert seen.messages == history and seen.tools[0]["name"] == "lookup_order"


def test_a_json_schema_becomes_response_format_strict_only_when_the_schema_allows() -> None:
    closed = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    open_ = {"type": "object", "properties": {"n": {"type": "integer"}}}
    behind = Recording(Completion('{"n": 3}', _usage()), Completion('{"n": 4}', _usage()))
    with ChatServer(behind) as server:
        backend = create_backend("openai", base_url=server.url)
        first = backend.complete(
            CompletionRequest(messages=(Message("user", "?"),), json_schema=closed)
        )
        backend.complete(CompletionRequest(messages=(Message("user", "?"),), json_schema=open_))
        formats = [p["response_format"] for p in server.requests]
    assert first.text == '{"n": 3}'
    assert formats[0] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": closed, "strict": True},
    }
    assert formats[1] == {"type": "json_schema", "json_schema": {"name": "output", "schema": open_}}
    assert [r.json_schema for r in behind.requests] == [closed, open_]


class _Malformed(http.server.BaseHTTPRequestHandler):
    """Answers with tool calls whose arguments are not JSON objects."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        calls = [
            {
                "id": "a",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": "{order"},
            },
            {
                "id": "b",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": "[1]"},
            },
            {"id": "c", "type": "function", "function": {"name": "lookup_order", "arguments": ""}},
            {
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'},
            },
            {"id": "e", "type": "function", "function": {"arguments": "{}"}},
        ]
        body = json.dumps(
            {
                "choices": [
                    {"message": {"role": "assistant", "content": None, "tool_calls": calls}}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def malformed_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Malformed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_malformed_arguments_are_invalid_calls_not_a_crash(malformed_url: str) -> None:
    backend = create_backend("openai", base_url=malformed_url, max_retries=0)
    out = backend.complete(CompletionRequest(messages=(Message("user", "?"),), tools=TOOLS))
    # a call without a name is dropped; one without an id gets one by its position
    assert [c.id for c in out.tool_calls] == ["a", "b", "c", "call_4"]
    bad, listed, empty, good = out.tool_calls
    assert bad.arguments == {MALFORMED_ARGUMENTS: "{order"}
    assert listed.arguments == {MALFORMED_ARGUMENTS: "[1]"}
    assert empty.arguments == {} and good.arguments == {"order_id": "A1"}
    for invalid in (bad, listed, empty):
        with pytest.raises(ValidationError):
            LOOKUP.validate(invalid.arguments)
    assert LOOKUP.validate(good.arguments) == {"order_id": "A1"}


@pytest.mark.model
def test_the_embedded_model_calls_tools_over_the_openai_wire(tmp_path) -> None:
    from accord.tools.shop import shop_tools

    shop = shop_tools(db=str(tmp_path / "shop.duckdb"), reset=True)
    messages = (
        Message("system", "You are a support agent. Use the shop's tools."),
        Message("user", "Refund order A100 in full (120 USD); the customer returned the item."),
    )
    request = CompletionRequest(messages=messages, tools=tuple(shop.schemas()), max_tokens=96)
    with ChatServer(create_backend("llama", seed=0)) as server:
        backend = create_backend("openai", base_url=server.url)
        outs = [backend.complete(replace(request, seed=s)) for s in (1, 2)]
    for out in outs:
        assert bool(out.text) != bool(out.tool_calls)
        for call in out.tool_calls:
            shop.tools[call.name].validate(call.arguments)
    assert any(out.tool_calls for out in outs)
