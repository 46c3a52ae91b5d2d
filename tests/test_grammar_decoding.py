"""Grammar-constrained decoding on the real embedded model: tool calls and structured output."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from accord.models import CompletionRequest, Message, create_backend
from accord.tools.shop import shop_tools

pytestmark = pytest.mark.model
jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def llama():
    return create_backend("llama", seed=0)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return shop_tools(db=str(tmp_path_factory.mktemp("shop") / "shop.duckdb"), reset=True)


GOAL = (
    Message("system", "You are a support agent. Use the shop's tools."),
    Message("user", "Refund order A100 in full (120 USD); the customer returned the item."),
)


def test_with_tools_every_reply_is_a_valid_call_or_an_answer(llama, shop) -> None:
    request = CompletionRequest(
        messages=GOAL, tools=tuple(shop.schemas()), max_tokens=96, temperature=0.9
    )
    replies = [llama.complete(replace(request, seed=s)) for s in range(4)]
    replies += llama.complete_many(request, [10, 11, 12])
    calls = 0
    for reply in replies:
        assert bool(reply.text) != bool(reply.tool_calls), reply
        for call in reply.tool_calls:
            assert call.id == "call_1" and call.name in shop
            shop.tools[call.name].validate(call.arguments)  # raises if the arguments are wrong
            calls += 1
    assert calls > 0


def test_a_tool_result_fed_back_numbers_the_next_call(llama, shop) -> None:
    first = llama.complete(
        CompletionRequest(messages=GOAL, tools=tuple(shop.schemas()), max_tokens=96, seed=1)
    )
    assert first.tool_calls, first.text
    call = first.tool_calls[0]
    result = json.dumps(shop.tools[call.name](**shop.tools[call.name].validate(call.arguments)))
    follow = (
        *GOAL,
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", result, tool_call_id=call.id),
    )
    second = llama.complete(
        CompletionRequest(messages=follow, tools=tuple(shop.schemas()), max_tokens=96, seed=1)
    )
    assert bool(second.text) != bool(second.tool_calls)
    assert all(c.id == "call_2" for c in second.tool_calls)


def test_with_a_json_schema_the_text_validates(llama) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer", "minimum": 0},
            "coastal": {"type": "boolean"},
        },
        "required": ["city", "population", "coastal"],
        "additionalProperties": False,
    }
    messages = (Message("user", "Name a large city, its population and whether it is coastal."),)
    for seed in range(3):
        request = CompletionRequest(
            messages=messages, json_schema=schema, max_tokens=64, temperature=0.8, seed=seed
        )
        out = llama.complete(request)
        jsonschema.validate(json.loads(out.text), schema)
        assert not out.tool_calls
