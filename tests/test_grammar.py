"""The tool-reply schema, the GBNF it becomes, reading replies and rendering tool turns."""

from __future__ import annotations

import json

import pytest

from accord.models.base import Message, ToolCall
from accord.models.grammar import (
    chat_messages,
    next_call_id,
    read_tool_reply,
    to_gbnf,
    tool_reply_schema,
)
from accord.tools.base import ToolSet, make_tool

jsonschema = pytest.importorskip("jsonschema")


def lookup(order_id: str) -> dict:
    """Look an order up."""
    return {"order_id": order_id}


def refund(order_id: str, amount: float, reason: str = "") -> dict:
    """Refund part of an order."""
    return {}


TOOLS = tuple(ToolSet({t.name: t for t in map(make_tool, (lookup, refund))}).schemas())


def test_the_reply_schema_admits_exactly_a_call_of_an_offered_tool_or_an_answer() -> None:
    validator = jsonschema.Draft202012Validator(tool_reply_schema(TOOLS))
    good = [
        {"tool": "lookup", "arguments": {"order_id": "A1"}},
        {"tool": "refund", "arguments": {"order_id": "A1", "amount": 3.5}},
        {"answer": "done"},
    ]
    bad = [
        {"tool": "delete_everything", "arguments": {}},
        {"tool": "lookup", "arguments": {"order_id": "A1", "extra": 1}},
        {"tool": "refund", "arguments": {"order_id": "A1"}},
        {"tool": "lookup"},
        {"answer": "x", "tool": "lookup"},
        {"answer": 3},
        "just text",
    ]
    assert all(validator.is_valid(v) for v in good)
    assert not any(validator.is_valid(v) for v in bad)


def test_the_grammar_names_every_tool_and_spells_regex_shorthands_as_classes() -> None:
    tools = (
        *TOOLS,
        {
            "name": "by_code",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "pattern": r"^[A-Z]\d{3}$"}},
                "required": ["code"],
            },
        },
    )
    gbnf = to_gbnf(tool_reply_schema(tools), order=("tool", "arguments"))
    for name in ("lookup", "refund", "by_code", "answer"):
        assert f'\\"{name}\\"' in gbnf
    assert "\\d" not in gbnf and "[0-9]" in gbnf
    # the tool's name comes before its arguments
    refund_rule = next(line for line in gbnf.splitlines() if line.startswith("alternative-1 "))
    assert refund_rule.index("tool-kv") < refund_rule.index("arguments-kv")


def test_a_reply_becomes_a_tool_call_an_answer_or_text_left_as_it_was() -> None:
    call = json.dumps({"tool": "refund", "arguments": {"order_id": "A1", "amount": 2}})
    text, calls = read_tool_reply(call, TOOLS, call_id="call_3")
    assert (text, calls) == ("", (ToolCall("call_3", "refund", {"order_id": "A1", "amount": 2}),))
    assert read_tool_reply('{"answer": "all done"}', TOOLS) == ("all done", ())
    fenced = f"Sure:\n```json\n{call}\n```"
    assert read_tool_reply(fenced, TOOLS, call_id="c")[1][0].name == "refund"
    for other in ('{"tool": "nope", "arguments": {}}', "plain words", "[1, 2]", '{"tool": "x"'):
        assert read_tool_reply(other, TOOLS) == (other, ())


def test_tool_turns_render_as_chat_turns_with_the_tools_described() -> None:
    call = ToolCall("call_1", "lookup", {"order_id": "A1"})
    messages = (
        Message("system", "You help."),
        Message("user", "Check A1."),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"status": "delivered"}', tool_call_id="call_1"),
    )
    chat = chat_messages(messages, tools=TOOLS)
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[0]["content"].startswith("You help.") and "- refund:" in chat[0]["content"]
    assert json.loads(chat[2]["content"]) == {"tool": "lookup", "arguments": {"order_id": "A1"}}
    assert "lookup" in chat[3]["content"] and '{"status": "delivered"}' in chat[3]["content"]
    assert next_call_id(messages) == "call_2"
    # no tools, no schema: the messages as they were
    plain = chat_messages(messages[:2])
    assert plain == [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "Check A1."},
    ]
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert chat_messages(messages[1:2], json_schema=schema)[0]["role"] == "system"
