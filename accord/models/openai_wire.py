"""OpenAI's chat-completions shapes for tools, tool calls, tool results and structured output.

Both sides of the wire use them: the `openai` backend (a client) writes requests and reads
responses, `serve.ChatServer` (a server in front of any accord backend) reads requests and
writes responses. Arguments travel as a JSON string; a call whose arguments are not a JSON
object is kept as a call, with the text under `MALFORMED_ARGUMENTS`, so that it fails its
tool's validation (an invalid call, reported back to the model) instead of crashing the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from accord.models.base import Completion, Message, ToolCall

MALFORMED_ARGUMENTS = "_malformed_arguments"


def wire_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`Tool.schema()` dicts as OpenAI function tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description") or "",
                "parameters": dict(tool.get("parameters") or {"type": "object"}),
            },
        }
        for tool in tools
    ]


def read_tools(wire: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """OpenAI function tools back as `Tool.schema()`-shaped dicts."""
    out = []
    for tool in wire:
        fn = tool["function"]
        out.append(
            {
                "name": fn["name"],
                "description": fn.get("description") or "",
                "parameters": dict(fn.get("parameters") or {"type": "object"}),
            }
        )
    return tuple(out)


def wire_message(message: Message) -> dict[str, Any]:
    """One message in OpenAI's shape (assistant tool calls, `tool` results with their id)."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.tool_calls:
        return {
            "role": message.role,
            "content": message.content or None,
            "tool_calls": [_wire_call(c) for c in message.tool_calls],
        }
    return {"role": message.role, "content": message.content}


def _wire_call(call: ToolCall) -> dict[str, Any]:
    arguments = dict(call.arguments)
    text = (
        arguments[MALFORMED_ARGUMENTS]
        if set(arguments) == {MALFORMED_ARGUMENTS}
        else json.dumps(arguments)
    )
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": text}}


def read_message(wire: Mapping[str, Any]) -> Message:
    """A message in OpenAI's shape as a `Message` (KeyError/TypeError when it is not one)."""
    calls = read_tool_calls(wire)
    return Message(
        str(wire["role"]),
        wire.get("content") or "",
        tool_calls=calls,
        tool_call_id=wire.get("tool_call_id"),
    )


def read_tool_calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    """The tool calls of a response message; malformed arguments kept as text (module doc)."""
    calls = []
    for i, call in enumerate(message.get("tool_calls") or []):
        if not isinstance(call, Mapping):
            continue
        fn = call.get("function") or {}
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(name, str):
            continue
        call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{i + 1}"
        calls.append(ToolCall(call_id, name, _arguments(fn.get("arguments"))))
    return tuple(calls)


def _arguments(raw: Any) -> dict[str, Any]:
    """Arguments from the wire: a JSON object in a string (some servers send the object)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        value = None
    if isinstance(value, dict):
        return value
    return {MALFORMED_ARGUMENTS: raw if isinstance(raw, str) else repr(raw)}


def response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`response_format` asking for one JSON value under `schema` (OpenAI structured outputs).

    `strict` is set when the schema is in the subset strict mode accepts (every object
    closed and all its properties required); otherwise the server is asked without it.
    """
    name = str(schema.get("title") or "output")
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)[:64]
    spec: dict[str, Any] = {"name": name, "schema": dict(schema)}
    if _strict_ok(schema):
        spec["strict"] = True
    return {"type": "json_schema", "json_schema": spec}


def read_response_format(wire: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema a `response_format` asks for, if it asks for one."""
    if not wire or wire.get("type") != "json_schema":
        return None
    return dict((wire.get("json_schema") or {}).get("schema") or {})


def _strict_ok(node: Any) -> bool:
    if isinstance(node, list):
        return all(_strict_ok(v) for v in node)
    if not isinstance(node, Mapping):
        return True
    if node.get("type") == "object" or "properties" in node:
        closed = node.get("additionalProperties") is False
        if not closed or set(node.get("required") or ()) != set(node.get("properties") or {}):
            return False
    return all(_strict_ok(v) for k, v in node.items() if k not in ("const", "enum", "default"))


def wire_choice(index: int, completion: Completion) -> dict[str, Any]:
    """One response choice for `completion`: its text, or its tool calls."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    finish = "stop"
    if completion.tool_calls:
        message = {
            "role": "assistant",
            "content": completion.text or None,
            "tool_calls": [_wire_call(c) for c in completion.tool_calls],
        }
        finish = "tool_calls"
    return {
        "index": index,
        "message": message,
        "logprobs": {"content": [{"token": "", "logprob": lp} for lp in completion.token_logprobs]},
        "finish_reason": finish,
    }
