"""More validators: output schema, Python predicate, unit tests in the sandbox, a critic model."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from accord.consensus.records import Task, Verdict
from accord.consensus.validators import Validator, build_validator, validators
from accord.errors import ConfigError

JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "str": str,
    "integer": int,
    "int": int,
    "number": (int, float),
    "float": (int, float),
    "boolean": bool,
    "bool": bool,
    "array": list,
    "list": list,
    "object": dict,
    "dict": dict,
    "null": type(None),
}


def import_object(path: str, what: str) -> Any:
    """The object at `pkg.mod:name`, or a ConfigError naming the path."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{what} {path!r} is not an import path", hint="write `pkg.mod:name`")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {what} {path!r}: {exc}") from None
    return found


def _parse_json(answer: str) -> tuple[Any, str]:
    text = answer.strip()
    if text.startswith("```"):  # a fenced block: drop the fence lines
        text = "\n".join(line for line in text.splitlines() if not line.startswith("```"))
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


@validators.register("schema")
class Schema:
    """The answer is JSON matching a pydantic model (`pkg.mod:Model`) or `{key: type}`."""

    name = "schema"

    def __init__(self, model: str | Mapping[str, str] | None = None, **keys: str) -> None:
        spec = model if model is not None else keys
        self.model: type[BaseModel] | None = None
        self.keys: dict[str, tuple[type, ...] | type] = {}
        if isinstance(spec, str):
            found = import_object(spec, "schema model")
            if not (isinstance(found, type) and issubclass(found, BaseModel)):
                raise ConfigError(f"schema model {spec!r} is not a pydantic model")
            self.model = found
            return
        if not spec:
            raise ConfigError(
                "schema needs a model or required keys",
                hint="e.g. `schema: pkg.mod:Model` or `schema: {name: string}`",
            )
        for key, type_name in spec.items():
            if type_name not in JSON_TYPES:
                raise ConfigError(
                    f"schema key {key!r}: unknown type {type_name!r}",
                    hint=f"known types: {', '.join(sorted(JSON_TYPES))}",
                )
            self.keys[key] = JSON_TYPES[type_name]

    def check(self, task: Task, answer: str) -> Verdict:
        """Parse the answer as JSON and validate it."""
        data, error = _parse_json(answer)
        if error:
            return Verdict(False, error)
        if self.model is not None:
            try:
                self.model.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "<root>"
                return Verdict(False, f"{where}: {first['msg']}")
            return Verdict(True)
        return self._check_keys(data)

    def _check_keys(self, data: Any) -> Verdict:
        if not isinstance(data, dict):
            return Verdict(False, "expected a JSON object")
        for key, kind in self.keys.items():
            if key not in data:
                return Verdict(False, f"missing key {key!r}")
            value = data[key]
            if isinstance(value, bool) and bool not in _as_tuple(kind):
                return Verdict(False, f"key {key!r}: expected {_type_label(kind)}, got boolean")
            if not isinstance(value, kind):
                return Verdict(
                    False, f"key {key!r}: expected {_type_label(kind)}, got {type(value).__name__}"
                )
        return Verdict(True)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_label(kind: type | tuple[type, ...]) -> str:
    return "/".join(t.__name__ for t in _as_tuple(kind))


@validators.register("predicate")
class Predicate:
    """A Python callable `f(answer)` or `f(answer, task)` returning bool or (bool, reason)."""

    name = "predicate"

    def __init__(self, function: str | Callable[..., object], pass_task: bool = False) -> None:
        found = import_object(function, "predicate") if isinstance(function, str) else function
        if not callable(found):
            raise ConfigError(f"predicate {function!r} is not callable")
        if isinstance(function, str) and inspect.isbuiltin(found):
            # `os:system`, `builtins:eval`: a crew file naming a builtin would hand the model's
            # answer to the interpreter or the shell; a predicate is a function written for it
            raise ConfigError(
                f"predicate {function!r} is a builtin, not a predicate function",
                hint="write a Python function `f(answer) -> bool` and name it as `pkg.mod:f`",
            )
        self.function: Callable[..., object] = found
        self.pass_task = pass_task
        self.label = function if isinstance(function, str) else getattr(function, "__name__", "?")

    def check(self, task: Task, answer: str) -> Verdict:
        """Call the predicate; an exception it raises is a failed verdict."""
        try:
            result = self.function(answer, task) if self.pass_task else self.function(answer)
        except Exception as exc:  # the user's code: its failure is the verdict, not a crash
            return Verdict(False, f"predicate raised {type(exc).__name__}: {exc}")
        if isinstance(result, tuple):
            ok, reason = bool(result[0]), str(result[1]) if len(result) > 1 else ""
        else:
            ok, reason = bool(result), ""
        return Verdict(True) if ok else Verdict(False, reason or f"{self.label} returned false")


class AnyOf:
    """Passes when any validator passes; all the reasons are kept when none does."""

    name = "any"

    def __init__(self, parts: Sequence[Validator]) -> None:
        if not parts:
            raise ConfigError("any_of needs at least one validator")
        self.parts = tuple(parts)

    def check(self, task: Task, answer: str) -> Verdict:
        """Run the parts in order and stop at the first pass."""
        reasons = []
        for part in self.parts:
            verdict = part.check(task, answer)
            if verdict.ok:
                return Verdict(True)
            reasons.append(f"{part.name}: {verdict.reason}")
        return Verdict(False, "none passed: " + "; ".join(reasons))


@validators.register("any_of")
def any_of(parts: Sequence[object]) -> AnyOf:
    """`any_of: [validator configs]` from a crew file."""
    return AnyOf([build_validator(p) for p in parts])  # type: ignore[arg-type]


@validators.register("all_of")
def all_of(parts: Sequence[object]) -> Validator:
    """`all_of: [validator configs]` from a crew file (to nest inside any_of)."""
    from accord.consensus.validators import AllOf

    return AllOf([build_validator(p) for p in parts])  # type: ignore[arg-type]


def validators_by_task(
    configs: Mapping[str, Sequence[object]],
) -> Callable[[Task], list[Validator]]:
    """`validators_for` for the coordinator: the defaults plus each task's configured checks.

    Every config is built now, so a mistake in a crew file fails before the first model call.
    """
    from accord.consensus.validators import default_validators

    extra = {
        task_id: [build_validator(c) for c in found]  # type: ignore[arg-type]
        for task_id, found in configs.items()
        if found
    }
    return lambda task: [*default_validators(task), *extra.get(task.id, ())]


__all__ = ["AnyOf", "Predicate", "Schema", "import_object", "validators_by_task"]
