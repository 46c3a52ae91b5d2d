"""The settings inside a crew file that name code, files and backends, found and checked at load
time: validator configs (nested in `any_of`/`all_of`), model tiers and in-line critic judges
with their backend options. `accord validate` then fails on what a run would fail on later."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from accord.crews.spec import CrewSpec
from accord.crews.yamlsource import Loc
from accord.errors import ConfigError

# (where, message, hint, placed at the value rather than the key)
Problem = tuple[Loc, str, str | None, bool]
INJECTED_OPTIONS = frozenset({"n_threads", "seed", "model"})  # agent_specs passes these to all
_BACKEND_SIGNATURES = {
    "llama": "accord.models.llama:LlamaBackend",
    "scripted": "accord.models.scripted:ScriptedBackend",
    "simulated": "accord.models.simulated:SimulatedBackend",
    "openai": "accord.models.openai_http:OpenAIHTTPBackend",
    "faulty": "accord.models.faulty:build_faulty",
    "retry": "accord.models.retry:build_retry",
    "crewai-agent": "accord.interop.agents:CrewAIAgentBackend",
    "autogen-agent": "accord.interop.agents:AutoGenAgentBackend",
}
# wrapping backends: the inner backend's default name, and the key of its own options (if any)
_WRAPPERS = {"faulty": ("scripted", None), "retry": ("llama", "inner_options")}
_PURE_VALIDATORS = frozenset({"nonempty", "choices", "regex", "numeric"})


@dataclass(frozen=True)
class ValidatorUse:
    """One validator config: where its name is, the name, its options as written."""

    loc: Loc
    name: str
    options: Any


@dataclass(frozen=True)
class BackendUse:
    """One backend a crew builds, with its options and where each option was written."""

    loc: Loc
    name: str
    options: dict[str, Any]
    where: dict[str, Loc] = field(default_factory=dict)


def validator_uses(spec: CrewSpec) -> Iterator[ValidatorUse]:
    """Every validator config of every task, nested ones included."""
    for i, task in enumerate(spec.tasks):
        for j, config in enumerate(task.validators):
            yield from _walk(config, ("tasks", i, "validators", j))


def _walk(config: Any, loc: Loc) -> Iterator[ValidatorUse]:
    if isinstance(config, str):
        yield ValidatorUse(loc, config, None)
        return
    if not isinstance(config, Mapping) or len(config) != 1:
        yield ValidatorUse(loc, "", config)
        return
    ((name, options),) = config.items()
    here = (*loc, str(name))
    yield ValidatorUse(here, str(name), options)
    if name in ("any_of", "all_of") and isinstance(options, list):
        for k, part in enumerate(options):
            yield from _walk(part, (*here, k))


def import_path_of(use: ValidatorUse) -> str | None:
    """The `pkg.mod:name` a predicate or schema validator imports (None: it imports nothing)."""
    key = {"predicate": "function", "schema": "model"}.get(use.name)
    if key is None:
        return None
    options = use.options
    found = options.get(key) if isinstance(options, Mapping) else options
    return found if isinstance(found, str) else None


def backend_uses(spec: CrewSpec) -> Iterator[BackendUse]:
    """The backend of every model tier and in-line critic judge, wrapped backends unwrapped."""
    for tier, model in spec.models.items():
        loc: Loc = ("models", tier, "options")
        yield from _chain(loc, model.backend, dict(model.options), {})
    for use in validator_uses(spec):
        options = use.options
        if use.name == "critic" and isinstance(options, Mapping):
            backend = options.get("backend", "scripted")
            inner = options.get("options") or {}
            if isinstance(backend, str) and isinstance(inner, Mapping):
                yield from _chain((*use.loc, "options"), backend, dict(inner), {})


def _chain(
    loc: Loc, name: str, options: dict[str, Any], where: dict[str, Loc]
) -> Iterator[BackendUse]:
    where = {k: where.get(k, (*loc, k)) for k in options}
    if name not in _WRAPPERS:
        yield BackendUse(loc, name, options, where)
        return
    default, nested = _WRAPPERS[name]
    own = known_options(name) or set()
    yield BackendUse(loc, name, {k: v for k, v in options.items() if k in own}, where)
    rest = {k: v for k, v in options.items() if k not in own}
    rest_where = {k: where[k] for k in rest}
    extra = options.get(nested) if nested else None
    if isinstance(extra, Mapping):
        rest.update(extra)
        rest_where.update({k: (*loc, nested, k) for k in extra})
    inner = options.get("inner", default)
    if isinstance(inner, str):
        yield from _chain(loc, inner, rest, rest_where)


def known_options(backend: str) -> set[str] | None:
    """The options `backend` reads (None when it cannot be told: a backend taking anything)."""
    from accord.consensus.checks import import_object
    from accord.models import builtin  # noqa: F401  (registers the built-in backends)
    from accord.models.base import backends

    target = _BACKEND_SIGNATURES.get(backend)
    try:
        factory = import_object(target, "backend") if target else backends.get(backend)
    except ConfigError:
        return None
    params = inspect.signature(factory).parameters.values()
    named = {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if target is None and any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return named - {"self"}


def module_exists(name: str) -> bool:
    """Whether module `name` can be imported, found without running any of its code."""
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    except (ImportError, ValueError):
        return False
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            return False
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: i + 1]), list(spec.submodule_search_locations)
        )
    return spec is not None


def _import_problem(loc: Loc, path: str, what: str) -> Problem | None:
    module, _, attr = path.partition(":")
    if not module or not attr:
        return loc, f"{what} {path!r} is not an import path", "write `pkg.mod:name`", True
    if not module_exists(module):
        return (
            loc,
            f"{what} {path!r}: no module named {module!r}",
            "check the spelling, or install the package that provides it",
            True,
        )
    return None


def _option_problem(loc: Loc, what: str, given: Any, factory: Callable[..., Any]) -> Problem | None:
    signature = inspect.signature(factory)
    params = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if isinstance(given, Mapping) and not takes_any:
        named = sorted(n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL)
        for key in given:
            if key not in params:
                close = get_close_matches(str(key), named, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"options: {', '.join(named)}"
                return (*_at(loc, key), f"unknown option {key!r} for {what}", hint, False)
    try:
        if isinstance(given, Mapping):
            signature.bind(**given)
        elif given is None:
            signature.bind()
        else:
            signature.bind(given)
    except TypeError as exc:
        return loc, f"{what}: {exc}", "see the validators in README.md", True
    return None


def _at(loc: Loc, key: object) -> tuple[Loc]:
    return ((*loc, str(key)),)


def check_validators(
    spec: CrewSpec, tests_file: Callable[[Loc, str], Problem | None]
) -> list[Problem]:
    """Unknown validators and options, missing modules, bad pure configs, tests files.

    `tests_file` checks one `code_tests` tests file (where it is, inside the crew's folder).
    """
    from accord.consensus import checks  # noqa: F401  (registers every built-in validator)
    from accord.consensus.validators import build_validator, validators

    out: list[Problem] = []
    for use in validator_uses(spec):
        if not use.name:
            hint = "e.g. `- regex: '^[0-9]+$'`"
            out.append(
                (use.loc, "a validator is written as `name` or `{name: options}`", hint, True)
            )
            continue
        if use.name not in validators:
            known = validators.names()
            close = get_close_matches(use.name, known, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"known validators: {', '.join(known)}"
            )
            out.append((use.loc, f"unknown validator {use.name!r}", hint, False))
            continue
        found = _option_problem(
            use.loc, f"validator {use.name!r}", use.options, validators.get(use.name)
        )
        path = import_path_of(use)
        if found is None and path is not None:
            found = _import_problem(use.loc, path, use.name)
        if found is None and (
            use.name in _PURE_VALIDATORS or (use.name == "schema" and path is None)
        ):
            try:
                build_validator({use.name: use.options})
            except ConfigError as exc:
                found = (use.loc, exc.message, exc.hint, True)
        options = use.options if isinstance(use.options, Mapping) else {}
        if (
            found is None
            and use.name == "code_tests"
            and isinstance(options.get("tests_file"), str)
        ):
            found = tests_file((*use.loc, "tests_file"), options["tests_file"])
        if found is None and use.name == "code_tests" and "timeout" in options:
            found = _timeout_problem((*use.loc, "timeout"), options["timeout"])
        if found is not None:
            out.append(found)
    return out


def _timeout_problem(loc: Loc, timeout: Any) -> Problem | None:
    """A code_tests timeout that is not a finite number of seconds in range (inf, nan, 1e308)."""
    from accord.consensus.code_tests import limits_for

    try:
        limits_for(timeout)
    except ConfigError as exc:
        return loc, exc.message, exc.hint, True
    return None


def check_backend_options(spec: CrewSpec) -> list[Problem]:
    """Options no backend of the crew reads (a typo is otherwise ignored silently)."""
    out: list[Problem] = []
    for use in backend_uses(spec):
        agent = use.options.get("agent")
        if use.name in ("crewai-agent", "autogen-agent") and isinstance(agent, str):
            found = _import_problem(use.where.get("agent", use.loc), agent, f"{use.name} agent")
            out += [found] if found is not None else []
        known = known_options(use.name)
        if known is None:
            continue
        known |= INJECTED_OPTIONS
        for key in use.options:
            if key in known or (use.name in _WRAPPERS and key == _WRAPPERS[use.name][1]):
                continue
            close = get_close_matches(str(key), sorted(known), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"options: {', '.join(sorted(known))}"
            )
            loc = use.where.get(key, (*use.loc, key))
            out.append((loc, f"unknown option {key!r} for backend {use.name!r}", hint, False))
    return out


def with_tests_files(spec: CrewSpec, resolve: Callable[[str], str]) -> CrewSpec:
    """`spec` with every `code_tests` tests_file replaced by `resolve(tests_file)`."""

    def fix(config: Any) -> Any:
        if not isinstance(config, Mapping) or len(config) != 1:
            return config
        ((name, options),) = config.items()
        if name in ("any_of", "all_of") and isinstance(options, list):
            return {name: [fix(part) for part in options]}
        named = isinstance(options, Mapping) and isinstance(options.get("tests_file"), str)
        if name == "code_tests" and named:
            return {name: {**options, "tests_file": resolve(options["tests_file"])}}
        return config

    tasks = [
        t.model_copy(update={"validators": [fix(c) for c in t.validators]}) for t in spec.tasks
    ]
    return spec.model_copy(update={"tasks": tasks})


__all__ = [
    "BackendUse",
    "ValidatorUse",
    "backend_uses",
    "check_backend_options",
    "check_validators",
    "import_path_of",
    "known_options",
    "module_exists",
    "validator_uses",
    "with_tests_files",
]
