"""Loading crew files: YAML -> CrewSpec, with `path:line:col` errors for every mistake."""

from __future__ import annotations

import re
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from accord.crews.consensus_checks import consensus_problems
from accord.crews.settings import Problem, check_backend_options, check_validators, with_tests_files
from accord.crews.spec import CrewSpec
from accord.crews.template import placeholders
from accord.crews.trust import file_problem, key_problems, resolve
from accord.crews.yamlsource import Loc, MarkedDocument, load_marked
from accord.errors import ConfigError


def load_crew(path: str | Path) -> CrewSpec:
    """Read and check the crew file at `path`; raise ConfigError naming the place."""
    doc = load_marked(path)
    if not isinstance(doc.data, dict):
        raise doc.error(
            (),
            "a crew file is a mapping with `name`, `roles` and `tasks`",
            "start with `name: my-crew`",
        )
    spec = validate_spec(doc.data, doc)
    problems = check_references(spec)
    if problems:
        loc, message, hint = problems[0]
        raise doc.error(loc, message, hint, value=not message.startswith("duplicate"))
    base = Path(path).parent
    for loc, message, hint, at_value in check_settings(spec, base):
        raise doc.error(loc, message, hint, value=at_value)
    # a tests_file is read at run time: from the file checked here, wherever the run starts
    return with_tests_files(spec, lambda found: str(resolve(base, found)))


def check_settings(spec: CrewSpec, base: Path) -> list[Problem]:
    """What a run would fail on later, or must not do: sources and tests files (there, and
    inside the crew's folder), validators and their options, modules of import paths,
    backend options, `{placeholders}`, API keys sent in clear."""

    def tests_file(loc: Loc, found: str) -> Problem | None:
        return file_problem(spec, base, loc, found, "tests_file")

    sources = [
        file_problem(spec, base, ("sources", i, "path"), s.path, "task file")
        for i, s in enumerate(spec.sources)
    ]
    return [
        *(p for p in sources if p is not None),
        *check_validators(spec, tests_file),
        *check_backend_options(spec),
        *check_placeholders(spec),
        *key_problems(spec),
    ]


def check_placeholders(spec: CrewSpec) -> list[Problem]:
    """A `{name}` in a question must be a task it depends on (`{{name}}` is literal)."""
    ids = {t.id for t in spec.tasks}
    out: list[Problem] = []
    for i, task in enumerate(spec.tasks):
        for name in placeholders(task.question):
            if name in task.depends_on:
                continue
            literal = f"or write {{{{{name}}}}} for a literal {{{name}}}"
            if name in ids:
                message = (
                    f"{{{name}}} is the answer of task {name!r}, which this task does not depend on"
                )
                hint = f"add {name!r} to depends_on, {literal}"
            else:
                message = f"unknown placeholder {{{name}}}"
                deps = ", ".join(f"{{{d}}}" for d in task.depends_on) or "none (no depends_on)"
                hint = f"placeholders name tasks in depends_on ({deps}); {literal}"
            out.append((("tasks", i, "question"), message, hint, True))
    return out


def validate_spec(data: dict[str, Any], doc: MarkedDocument | None = None) -> CrewSpec:
    """Build a CrewSpec from plain data; the first pydantic error becomes a ConfigError.

    Types are strict: `true` is not the number 1, `"3"` is not 3 and `2.5` is not an integer.
    """
    try:
        return CrewSpec.model_validate(data, strict=True)
    except ValidationError as exc:
        # An unknown key explains a "missing" one next to it (a typo), so it is shown first.
        first = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc, message, hint = explain(first, CrewSpec)
        if doc is None:
            raise ConfigError(f"{'.'.join(map(str, loc))}: {message}", hint=hint) from None
        at_value = first["type"] not in ("extra_forbidden", "missing")
        raise doc.error(loc, message, hint, value=at_value) from None


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc`."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return None
        annotation = fields[part].annotation
        current = _inner_model(annotation)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def explain(error: Any, root: type[BaseModel]) -> tuple[Loc, str, str | None]:
    """A pydantic error as (location, message, hint)."""
    kind = error["type"]
    # Drop pydantic's validator tags (`function-after[...]`), but never the user's own key,
    # which an unknown or missing key error always ends with (it may contain `[` too).
    keep_last = kind in ("extra_forbidden", "missing")
    inner = error["loc"][:-1] if keep_last else error["loc"]
    loc = tuple(p for p in inner if not (isinstance(p, str) and "[" in p))
    loc += tuple(error["loc"][-1:]) if keep_last else ()
    if kind == "extra_forbidden":
        owner = _model_at(root, loc)
        known = sorted(owner.model_fields) if owner else []
        close = get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
        return loc, f"unknown key {loc[-1]!r}", hint
    if kind == "missing":
        return loc, "is required", f"add `{loc[-1]}:`"
    message = error["msg"][0].lower() + error["msg"][1:]
    return loc, message, _hint(kind, error.get("ctx") or {}, error.get("input"))


_HINTS = {
    "string_pattern_mismatch": "use letters, digits, `_`, `-` or `.`, starting with a letter",
    "greater_than_equal": "use a value >= {ge}",
    "greater_than": "use a value > {gt}",
    "less_than_equal": "use a value <= {le}",
    "less_than": "use a value < {lt}",
    "int_parsing": "write a whole number, e.g. `3`",
    "int_type": "write a whole number, e.g. `3`",
    "float_parsing": "write a number, e.g. `0.5`",
    "float_type": "write a number, e.g. `0.5`",
    "list_type": "write a YAML list: one `- item` per line, or `[a, b]`",
    "dict_type": "write a mapping of `key: value` lines",
    "model_type": "write a mapping of `key: value` lines",
    "string_type": "write text; quote it if it looks like another type",
    "bool_type": "write `true` or `false`",
    "too_short": "add at least {min_length} item(s)",
    "string_too_short": "write at least {min_length} character(s)",
}


def _hint(kind: str, ctx: dict[str, Any], value: Any) -> str:
    if "hint" in ctx:
        return str(ctx["hint"])
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = get_close_matches(str(value), allowed, n=1)
        return f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(allowed)}"
    try:
        return _HINTS[kind].format(**ctx)
    except (KeyError, IndexError):
        return "see the crew file reference in README.md"


def check_references(spec: CrewSpec) -> list[tuple[Loc, str, str | None]]:
    """Cross-field problems: duplicate names, unknown references, dependency cycles."""
    problems: list[tuple[Loc, str, str | None]] = []
    roles = [r.name for r in spec.roles]
    problems += _duplicates(roles, "roles", "role name")
    problems += _duplicates([t.id for t in spec.tasks], "tasks", "task id")
    problems += _backends(spec)
    problems += _model_names(spec)
    for i, role in enumerate(spec.roles):
        if role.model not in spec.models:
            problems.append(
                (
                    ("roles", i, "model"),
                    f"unknown model tier {role.model!r}",
                    f"define it under `models:` (known: {', '.join(spec.models)})",
                )
            )
    for i, tier in enumerate(spec.cascade.tiers if spec.cascade else []):
        problems += _known(tier, list(spec.models), ("cascade", "tiers", i), "model tier")
    task_ids = {t.id for t in spec.tasks}
    for i, task in enumerate(spec.tasks):
        problems += _known(task.role, roles, ("tasks", i, "role"), "role")
        for j, dep in enumerate(task.depends_on):
            problems += _known(dep, task_ids, ("tasks", i, "depends_on", j), "task")
        if task.kind == "choice" and len(task.choices) < 2:
            problems.append(
                (
                    ("tasks", i, "choices"),
                    "a choice task needs at least 2 choices",
                    "list the options under `choices:`",
                )
            )
        problems += _policy_voters(task.policy, roles, ("tasks", i, "policy"))
        for j, check in enumerate(task.validators):
            critic = check.get("critic") if isinstance(check, dict) else None
            if isinstance(critic, dict) and critic.get("role") is not None:
                loc = ("tasks", i, "validators", j, "critic", "role")
                problems += _known(str(critic["role"]), roles, loc, "role")
    for i, source in enumerate(spec.sources):
        problems += _known(source.role, roles, ("sources", i, "role"), "role")
    problems += _policy_voters(spec.policy, roles, ("policy",))
    problems += consensus_problems(spec)
    cycle = find_cycle({t.id: t.depends_on for t in spec.tasks})
    if cycle:
        index = next(i for i, t in enumerate(spec.tasks) if t.id == cycle[0])
        problems.append(
            (
                ("tasks", index, "depends_on"),
                f"dependency cycle: {' -> '.join(cycle)}",
                "remove one of these dependencies",
            )
        )
    return problems


def _backends(spec: CrewSpec) -> list[tuple[Loc, str, str | None]]:
    from accord.models import builtin  # noqa: F401  (registers the built-in backends)
    from accord.models.base import backends

    out: list[tuple[Loc, str, str | None]] = []
    for tier, model in spec.models.items():
        out += _known(model.backend, backends.names(), ("models", tier, "backend"), "backend")
        # Wrapping backends (retry, faulty) name the backend they wrap as `inner`, nested.
        loc: Loc = ("models", tier, "options")
        options: Any = model.options
        while isinstance(options, dict) and isinstance(options.get("inner"), str):
            out += _known(options["inner"], backends.names(), (*loc, "inner"), "backend")
            options, loc = options.get("inner_options"), (*loc, "inner_options")
    return out


def _model_names(spec: CrewSpec) -> list[tuple[Loc, str, str | None]]:
    """Embedded-model tiers must name a known model or an existing .gguf file."""
    from accord.models.gguf import ALIASES, KNOWN_MODELS, canonical_name

    out: list[tuple[Loc, str, str | None]] = []
    for tier, model in spec.models.items():
        if model.backend != "llama" or model.model is None:
            continue
        name = canonical_name(model.model)
        if name in KNOWN_MODELS or (name.endswith(".gguf") and Path(name).expanduser().is_file()):
            continue
        known = ", ".join(sorted({*KNOWN_MODELS, *ALIASES}))
        out.append(
            (
                ("models", tier, "model"),
                f"unknown model {model.model!r}",
                f"use one of {known} or a path to an existing .gguf file",
            )
        )
    return out


def _duplicates(names: list[str], where: str, what: str) -> list[tuple[Loc, str, str | None]]:
    seen: set[str] = set()
    out: list[tuple[Loc, str, str | None]] = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(((where, i), f"duplicate {what} {name!r}", f"give each {what} its own"))
        seen.add(name)
    return out


def _known(name: str | None, known: Any, loc: Loc, what: str) -> list[tuple[Loc, str, str | None]]:
    if name is None or name in known:
        return []
    close = get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known {what}s: {', '.join(sorted(known))}"
    return [(loc, f"unknown {what} {name!r}", hint)]


def _policy_voters(policy: Any, roles: list[str], loc: Loc) -> list[tuple[Loc, str, str | None]]:
    if policy is None or not policy.voters:
        return []
    out: list[tuple[Loc, str, str | None]] = []
    for j, voter in enumerate(policy.voters):
        out += _known(voter, roles, (*loc, "voters", j), "role")
    return out


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle in `graph` (node -> dependencies) as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep in graph and not state.get(dep):
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None
