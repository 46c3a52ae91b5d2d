"""The crew-file reference and JSON Schema, generated from the pydantic specs.

`reference_markdown()` is docs/CREW_REFERENCE.md (a test keeps the file current) and
`crew_json_schema()` what `accord schema` prints for editors. A field's meaning is its
`Field(description=...)`, else the note below; a test fails on a field with neither
(`undocumented()`), so a new field cannot go undocumented.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from accord.crews.spec import CrewSpec

NOTES: dict[str, str] = {
    "CrewSpec.name": "the crew's name, as the ledger records it",
    "CrewSpec.description": "free text for people; not sent to any model",
    "CrewSpec.seed": "base seed of every sampled attempt (runs are repeatable)",
    "CrewSpec.models": "model tiers by name; roles and cascade tiers refer to these names",
    "CrewSpec.roles": "the roles; the first is the primary unless a task names its `role`",
    "CrewSpec.tasks": "the questions to decide, inline",
    "CrewSpec.sources": "more tasks, read from labelled BIG-bench JSON or JSONL files",
    "CrewSpec.policy": "how each decision is made (a task's own `policy` overrides it)",
    "CrewSpec.budget": "limits on tokens, money and time, per decision and per run",
    "CrewSpec.concurrency": "how many tasks are decided at once (independent ones only)",
    "CrewSpec.memory": "working and long-term memory (off when absent)",
    "CrewSpec.cascade": "stronger model tiers to climb while a decision stays unsure",
    "CrewSpec.ledger": "what the ledger keeps of each run",
    "ModelSpec.backend": "llama (embedded SmolLM2), scripted, openai, retry, faulty, ...",
    "ModelSpec.options": "backend options, e.g. the scripted backend's `script` (see below)",
    "RoleSpec.name": "the role's name; the system prompt says `You are the NAME.`",
    "RoleSpec.goal": "added to the system prompt as `Your goal: GOAL`",
    "RoleSpec.instructions": "standing instructions appended to the system prompt",
    "RoleSpec.model": "the model tier (a name under `models:`)",
    "RoleSpec.replicas": "agents of this role (Ray actors) that answer in parallel",
    "TaskSpec.id": "the task's id; `{id}` in a later question is replaced by this answer",
    "TaskSpec.question": "what is asked; `{dep}` placeholders take the answers of `depends_on`",
    "TaskSpec.answer_type": "text: the reply's first line; free: the whole reply; number; "
    "choice: one of `choices` (default: choice when `choices` is given, else text)",
    "TaskSpec.choices": "the options of a multiple-choice question (scored by log-prob)",
    "TaskSpec.role": "the primary role for this task (default: the crew's first role)",
    "TaskSpec.depends_on": "tasks whose answers this one needs; independent tasks run at once",
    "TaskSpec.policy": "this task's policy instead of the crew's",
    "TaskSpec.validators": "checks on the answer: nonempty, choices, regex, numeric, schema, "
    "predicate, code_tests, critic, any_of, all_of",
    "TaskSpec.expected": "the right answer(s), for accuracy in the ledger (one or a list)",
    "TaskSpec.max_tokens": "the completion cap of each attempt",
    "SourceSpec.path": "a BIG-bench .json or .jsonl file, relative to the crew file",
    "SourceSpec.limit": "how many items to take (default: all)",
    "SourceSpec.offset": "items to skip first",
    "SourceSpec.prefix": "task id prefix: PREFIX-N (default: the file's own ids)",
    "SourceSpec.role": "the primary role for these tasks",
    "SourceSpec.policy": "the policy for these tasks instead of the crew's",
    "SourceSpec.answer_type": "read the items as this type (default: from the file)",
    "SourceSpec.max_tokens": "the completion cap of each attempt",
    "PolicySpec.kind": "single: one answer; vote: a majority of `k`; adaptive: one answer, "
    "a vote only when it is invalid or below `threshold`",
    "PolicySpec.threshold": "adaptive: the confidence at which the primary answer is accepted",
    "PolicySpec.k": "the most votes a vote draws",
    "PolicySpec.stopping": "when a vote ends: settled, fixed, beta, beta@P, window, window@N",
    "PolicySpec.confidence": "the estimator: option_prob, token_mean, token_min, verbalised, "
    "critic, auto, or a combination such as min:option_prob,critic",
    "PolicySpec.temperature": "sampling temperature of the primary attempt",
    "PolicySpec.voter_temperature": "sampling temperature of the voters",
    "PolicySpec.voters": "the roles that vote (default: every role)",
    "PolicySpec.on_invalid": "after an invalid primary answer: escalate (vote), retry, both",
    "PolicySpec.retries": "how often `retry` asks the primary again",
    "PolicySpec.batch": "voter samples asked of one agent per call",
    "PolicySpec.weighted": "the winner has the most summed confidence, not the most votes",
    "BudgetSpec.tokens_per_decision": "tokens one decision may spend",
    "BudgetSpec.usd_per_decision": "USD one decision may spend (priced from `prices:`)",
    "BudgetSpec.seconds_per_decision": "wall seconds one decision may take",
    "BudgetSpec.tokens_per_run": "tokens the whole run may spend",
    "BudgetSpec.seconds_per_run": "wall seconds the whole run may take",
    "BudgetSpec.usd_per_run": "USD the whole run may spend",
    "PriceSpec.prompt_usd_per_mtok": "USD per million prompt tokens",
    "PriceSpec.completion_usd_per_mtok": "USD per million completion tokens",
    "ToolsSpec.options": "options for the toolset, e.g. the shop's `db` path",
    "ToolsSpec.grants": "per role, the tools it may call (deny by default)",
    "ToolsSpec.approvals": "calls approved in advance",
    "ToolsSpec.limits": "rate limits and per-run quotas",
    "ToolsSpec.delegations": "which roles may have plan steps run under another role's grants",
    "ToolsSpec.planners": "the roles that plan (default: the first role)",
    "ToolsSpec.max_replans": "replans after a failed or surprising step",
    "ToolsSpec.vote_k": "planners asked when the first plans are rejected",
    "GrantSpec.tool": "the tool's name",
    "GrantSpec.limits": "argument limits that must hold, e.g. `amount <= 500`",
    "GrantSpec.over_limit": "a call past `limits`: deny it, or send it for approval",
    "GrantSpec.requires_approval": "ask before each call (default: for irreversible tools)",
    "PreApprovalSpec.tool": "the tool approved",
    "PreApprovalSpec.role": "only calls by this role (default: any)",
    "PreApprovalSpec.when": "only calls whose arguments meet these limits",
    "LimitSpec.tool": "the tool limited (`*`: every tool)",
    "LimitSpec.role": "the role limited (`*`: every role)",
    "GoalSpec.id": "the goal's id",
    "GoalSpec.goal": "what to achieve, in words for the planner",
    "GoalSpec.role": "the role that executes the plan",
    "MemorySpec.enabled": "turn memory on",
    "MemorySpec.min_similarity": "cosine similarity a memory needs to be retrieved",
    "MemorySpec.max_age_days": "forget memories older than this",
    "MemorySpec.goals": "goals put into the working memory of every run",
    "CrewSpec.allow": "explicit opt-ins for what a crew file may not do by default",
    "TaskSpec.consensus": "which answers agree in a vote on this task (overrides the policy's)",
    "PolicySpec.consensus": "which answers agree in a vote: a mode name or a mapping "
    "(default: semantic for free answers, else exact)",
    "ConsensusSpec.mode": "exact: normalised text; final: the final answer of a reasoning "
    "reply; semantic: embeddings closer than `threshold`; judge: a role says they agree",
    "ConsensusSpec.threshold": "semantic: the cosine similarity that makes two answers one "
    "(0.8); judge: the judge's P(yes) (0.5)",
    "ConsensusSpec.embedder": "semantic: minilm (default when installed), llama or hash",
    "ConsensusSpec.judge": "judge: the role asked whether two answers agree",
    "TaskSpec.match": "how the answer is scored against `expected` (default: exact)",
    "MatchSpec.mode": "exact; contains: an expected value as whole words; regex; numeric: "
    "within `tolerance`; semantic: embeddings at least `threshold` similar; judge: a model "
    "says yes",
    "MatchSpec.tolerance": "numeric: the largest difference still right",
    "MatchSpec.threshold": "semantic: the cosine similarity needed",
    "MatchSpec.embedder": "semantic: the embedder (default as for votes)",
    "MatchSpec.judge": "judge: the backend asked (default the embedded llama)",
    "PriceSpec.cached_prompt_usd_per_mtok": "USD per million prompt tokens the server read "
    "from its prompt cache (default: the prompt price)",
    "CascadeSpec.climb_below": "climb while the certainty is below this (default: threshold)",
}

SCRIPTED_RULES = """\
## The scripted backend

`backend: scripted` answers from a table instead of a model: deterministic, instant, and what
the tests and `configs/scripted.yaml` use. Its `options`:

| option | type | default | meaning |
|---|---|---|---|
| `script` | map of text to reply or list of replies | `{}` | replies by question |
| `default` | reply | `""` | the reply when no key matches |
| `latency_s` | number | `0` | seconds each call sleeps |
| `model` | string | `scripted` | the model name the ledger records |

How a reply is chosen: the keys of `script` are tried in the order written, and the first key
that is a substring of the last message sent (the user message: the question with its answer
hint, case-sensitive) wins. A reply is a text (`Paris`), a number, or `{text: Paris, prob:
0.95}`; `prob` (default 0.9) is the probability the model gives it, so it sets the attempt's
confidence. A list of replies is indexed by the attempt's seed (seed modulo the list's length):
voters get different seeds, so a list scripts a vote that disagrees. A question no key matches
gets `default`, and so does a key whose list is empty. For a multiple-choice task the options
are scored once, from the first reply of a list: the option of that text gets `prob` and the
others share the rest; voters then sample among the options by their seed and temperature.
Prompt tokens are counted as words of the messages, completion tokens as words of the reply.
"""


def meaning(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    """What a field means: its description, else its note ("" when it has neither)."""
    return info.description or NOTES.get(f"{model.__name__}.{name}", "")


def undocumented() -> list[str]:
    """`Model.field` of every spec field with no meaning (a test keeps this empty)."""
    return [
        f"{model.__name__}.{name}"
        for model in _models(CrewSpec)
        for name, info in model.model_fields.items()
        if not meaning(model, name, info)
    ]


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """`root` and every spec model it holds, in the order first met."""
    found: list[type[BaseModel]] = []

    def walk(model: type[BaseModel]) -> None:
        if model in found:
            return
        found.append(model)
        for info in model.model_fields.values():
            for inner in _inner(info.annotation):
                walk(inner)

    walk(root)
    return found


def _inner(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _inner(arg)]


_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}


def type_text(annotation: Any) -> str:
    """A field's type as a reader writes it in YAML."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" \\| null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[1])}"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(info: FieldInfo) -> str:
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "length >="}
    out = []
    for item in info.metadata:
        for attr, sign in signs.items():
            if isinstance(item, annotated_types.BaseMetadata) and hasattr(item, attr):
                out.append(f"{sign} {getattr(item, attr)}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            out.append("a name: letters, digits, `_.-`")
    return ", ".join(out)


def default_text(info: FieldInfo) -> str:
    """A field's default as YAML would show it ("required" when there is none)."""
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default  # type: ignore[call-arg,misc]
    if isinstance(value, BaseModel):
        return "its defaults"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "`" + json.dumps({k: v.model_dump() for k, v in value.items()}) + "`"
    return "`" + json.dumps(value) + "`"


def reference_markdown() -> str:
    """docs/CREW_REFERENCE.md: every section and field of a crew file."""
    lines = [
        "# Crew file reference",
        "",
        "Generated from the pydantic specs by `accord schema --markdown` (a test fails when",
        "this page is stale: regenerate it with `make docs`). Every section rejects unknown",
        "keys. `accord schema` prints the same as a JSON Schema for editors: save it and put",
        "`# yaml-language-server: $schema=crew.schema.json` on a crew file's first line (the",
        "YAML extension of VS Code, and other editors using yaml-language-server, then complete",
        "and check fields as you type).",
        "",
    ]
    for model in _models(CrewSpec):
        lines += [f"## {model.__name__}", ""]
        doc = inspect.cleandoc(model.__doc__ or "")
        lines += [doc, ""] if doc else []
        lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
        for name, info in model.model_fields.items():
            kind = type_text(info.annotation)
            bounds = _bounds(info)
            kind += f" ({bounds})" if bounds else ""
            text = meaning(model, name, info).replace("|", "\\|")
            lines.append(f"| `{name}` | {kind} | {default_text(info)} | {text} |")
        lines.append("")
    return "\n".join(lines) + "\n" + SCRIPTED_RULES


def crew_json_schema() -> dict[str, Any]:
    """CrewSpec's JSON Schema, every property with its meaning as `description`."""
    schema = CrewSpec.model_json_schema()
    by_title = {m.__name__: m for m in _models(CrewSpec)}
    for title, definition in [("CrewSpec", schema), *schema.get("$defs", {}).items()]:
        model = by_title.get(definition.get("title", title))
        if model is None:
            continue
        for name, prop in definition.get("properties", {}).items():
            info = model.model_fields.get(name)
            if info is not None and "description" not in prop:
                prop["description"] = meaning(model, name, info)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
