"""Tool calls and structured output for backends without native support: prompt, schema, reply.

A model that cannot call tools natively answers a request with `tools` as one JSON object,
either `{"tool": <an offered name>, "arguments": {...}}` or `{"answer": "<text>"}`;
`tool_reply_schema` is the JSON Schema admitting exactly those, `to_gbnf` turns a schema into
a llama.cpp grammar (the embedded backend decodes under it, see `GrammarConstraint`), and
`read_tool_reply` reads the reply back into text or a `ToolCall`. `chat_messages` renders a
conversation holding tool calls and tool results as plain chat turns, with the tools (or the
output schema) described in the system message.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from accord.errors import BackendError
from accord.models.base import Message, ToolCall

TOOL, ARGUMENTS, ANSWER = "tool", "arguments", "answer"


def _arguments_schema(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """A tool's parameters as an object schema that admits no keys it does not name."""
    schema = dict(parameters or {})
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    schema.setdefault("additionalProperties", False)
    return schema


def tool_reply_schema(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of a reply to a request offering `tools` (`Tool.schema()` dicts)."""
    calls: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for tool in tools:
        params = _arguments_schema(tool.get("parameters"))
        # a tool's own $defs are hoisted: refs inside it say #/$defs/..., from the root
        defs.update(params.pop("$defs", {}))
        calls.append(
            {
                "type": "object",
                "properties": {TOOL: {"const": tool["name"]}, ARGUMENTS: params},
                "required": [TOOL, ARGUMENTS],
                "additionalProperties": False,
            }
        )
    answer = {
        "type": "object",
        "properties": {ANSWER: {"type": "string"}},
        "required": [ANSWER],
        "additionalProperties": False,
    }
    schema: dict[str, Any] = {"oneOf": [*calls, answer]}
    if defs:
        schema["$defs"] = defs
    return schema


# Shorthand classes the schema converter copies into the grammar as literal text.
_SHORTHANDS = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r"}


def _plain_pattern(pattern: str) -> str:
    """`pattern` with \\d, \\w and \\s spelled as character classes."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _SHORTHANDS:
                body = _SHORTHANDS[nxt]
                out.append(body if in_class else f"[{body}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _plain_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _plain_pattern(v) if k == "pattern" and isinstance(v, str) else _plain_patterns(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_plain_patterns(v) for v in node]
    return node


def to_gbnf(schema: Mapping[str, Any], *, order: Sequence[str] = ()) -> str:
    """A llama.cpp GBNF grammar admitting the JSON values valid under `schema`.

    `order` names properties that come first, in that order, where an object has them.
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return json_schema_to_gbnf(json.dumps(_plain_patterns(schema)), list(order) or None)
    except Exception as exc:  # the converter raises bare Exception/ValueError/KeyError
        message = f"cannot build a grammar from the JSON schema: {exc}"
        raise BackendError("grammar", message) from exc


def read_tool_reply(
    text: str, tools: Sequence[Mapping[str, Any]], *, call_id: str = "call_1"
) -> tuple[str, tuple[ToolCall, ...]]:
    """(answer text, tool calls) from a reply in the `tool_reply_schema` shape.

    A call naming an offered tool becomes one `ToolCall` (its arguments are not validated
    here: the tool does that); `{"answer": ...}` gives its text; anything else (not JSON,
    another shape, an unknown tool) is returned as text, for the caller to judge. Text
    around the object (a code fence, a preamble: free decoding writes them) is ignored.
    """
    reply = _first_object(text)
    if not isinstance(reply, dict):
        return text, ()
    names = {t["name"] for t in tools}
    call = reply.keys() == {TOOL, ARGUMENTS} and reply[TOOL] in names
    if call and isinstance(reply[ARGUMENTS], dict):
        return "", (ToolCall(call_id, reply[TOOL], reply[ARGUMENTS]),)
    if reply.keys() == {ANSWER} and isinstance(reply[ANSWER], str):
        return reply[ANSWER], ()
    return text, ()


def _first_object(text: str) -> Any:
    """The JSON value `text` is, else the first JSON object in it, else None."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    decoder = json.JSONDecoder(strict=False)
    at = text.find("{")
    while at != -1:
        try:
            return decoder.raw_decode(text, at)[0]
        except ValueError:
            at = text.find("{", at + 1)
    return None


def next_call_id(messages: Sequence[Message]) -> str:
    """`call_N` for the next call of a conversation: one past the calls it already holds."""
    return f"call_{sum(len(m.tool_calls) for m in messages) + 1}"


def tools_instruction(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system-prompt text describing `tools` and the reply format."""
    lines = [
        "You can call tools. Reply with exactly one JSON object: either",
        '{"tool": "<tool name>", "arguments": {<the tool\'s arguments>}} to call a tool, or',
        '{"answer": "<your final answer>"} when you are done. Tools:',
    ]
    for tool in tools:
        params = json.dumps(tool.get("parameters", {}).get("properties", {}), sort_keys=True)
        lines.append(f"- {tool['name']}: {tool.get('description') or ''} arguments: {params}")
    return "\n".join(lines)


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """The system-prompt text asking for one JSON value under `schema`."""
    return "Reply with one JSON value valid under this JSON schema: " + json.dumps(
        schema, sort_keys=True
    )


def _call_json(call: ToolCall) -> str:
    return json.dumps({TOOL: call.name, ARGUMENTS: dict(call.arguments)}, sort_keys=True)


def chat_messages(
    messages: Sequence[Message],
    *,
    tools: Sequence[Mapping[str, Any]] = (),
    json_schema: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """`messages` as plain system/user/assistant turns for a chat template.

    An assistant message's tool calls become the JSON the model would have written for them,
    a tool result a user turn naming its call, and the tools (or the output schema) are
    described at the end of the system message (one is added if there is none).
    """
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    out: list[dict[str, str]] = []
    for m in messages:
        if m.role == "tool":
            name = names.get(m.tool_call_id or "", "a tool")
            content = f"Result of {name} (call {m.tool_call_id}):\n{m.content}"
            out.append({"role": "user", "content": content})
        elif m.tool_calls:
            calls = "\n".join(_call_json(c) for c in m.tool_calls)
            out.append({"role": "assistant", "content": calls})
        else:
            out.append({"role": m.role, "content": m.content})
    extra = tools_instruction(tools) if tools else None
    if extra is None and json_schema is not None:
        extra = schema_instruction(json_schema)
    if extra is not None:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{extra}"}
        else:
            out.insert(0, {"role": "system", "content": extra})
    return out


class GrammarConstraint:
    """llama.cpp's grammar sampler over one generation: masks logits, follows the tokens.

    `mask` sets the logits of tokens the grammar does not allow next to -inf; `accept`
    advances the grammar past the token chosen. One constraint serves one generation.
    """

    def __init__(self, llm: Any, grammar: str) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar.encode(), b"root"
        )
        if not self._sampler:
            raise BackendError("grammar", "llama.cpp refused the grammar")
        n = llm.n_vocab()
        self._data = (llama_cpp.llama_token_data * n)()
        self._view = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(n, dtype=np.int32)

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """`logits` with every token the grammar forbids next at -inf."""
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        cur = self._lib.llama_token_data_array(
            data=self._data, size=len(self._ids), selected=-1, sorted=False
        )
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(cur))
        # the grammar sampler only writes -inf into logits, in place and in id order
        return self._view["logit"].astype(np.float64)

    def accept(self, token: int) -> None:
        """Advance the grammar past `token`."""
        self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        """Free the sampler."""
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        self.close()
