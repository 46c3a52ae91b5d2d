"""CrewAI projects as accord crews: `config/agents.yaml` + `config/tasks.yaml`, or `crew.jsonc`.

Reads the files only (crewai need not be installed) and maps CrewAI's fields onto accord's
specs. Agents become roles (`role` and `backstory` become the role's instructions, `goal` its
goal, `llm` a model tier); tasks become tasks (`description` and `expected_output` the
question, `agent` the role, `context` the dependencies). CrewAI's sequential process hands a
task the output of the tasks before it; here a task without `context` depends on the task
just before it (whose output carries the chain), unless it is `async_execution`, which
depends on nothing and so runs in parallel. `{placeholders}` are filled from the inputs.
Everything accord does not carry over is listed in one warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accord.crews.loader import check_references, validate_spec
from accord.crews.sources import ImportedCrew as ImportedCrew  # re-exported
from accord.crews.spec import ModelSpec
from accord.crews.yamlsource import Loc, load_marked
from accord.errors import ConfigError
from accord.interop import jsonc

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
AGENT_FIELDS = frozenset({"role", "goal", "backstory", "llm", "allow_delegation"})
TASK_FIELDS = frozenset(
    {
        "description",
        "expected_output",
        "agent",
        "context",
        "name",
        "output_json",
        "output_pydantic",
        "async_execution",
        "output_file",
    }
)
CREW_FIELDS = frozenset({"name", "agents", "tasks", "inputs", "process"})
OLLAMA_URL = "http://localhost:11434/v1"
IMPORTED_MAX_TOKENS = 128


@dataclass(frozen=True, slots=True)
class CrewAIProject:
    """Where a CrewAI project's definition lives."""

    kind: Literal["yaml", "json"]
    root: Path
    agents: Path
    tasks: Path | None = None


ErrorAt = Callable[[Loc, str, str | None], ConfigError]


def _pair(folder: Path) -> tuple[Path, Path] | None:
    for ext in ("yaml", "yml"):
        agents, tasks = folder / f"agents.{ext}", folder / f"tasks.{ext}"
        if agents.is_file() and tasks.is_file():
            return agents, tasks
    return None


def _yaml_project(folder: Path, root: Path) -> CrewAIProject | None:
    found = _pair(folder)
    return CrewAIProject("yaml", root, found[0], found[1]) if found else None


def find_project(path: str | Path) -> CrewAIProject | None:
    """The CrewAI project at `path` (a folder, a config YAML, crew.jsonc), else None."""
    path = Path(path)
    if path.is_file():
        if path.name in ("crew.jsonc", "crew.json"):
            return CrewAIProject("json", path.parent, path)
        if path.stem in ("agents", "tasks") and path.suffix in (".yaml", ".yml"):
            root = path.parent.parent if path.parent.name == "config" else path.parent
            return _yaml_project(path.parent, root)
        return None
    if not path.is_dir():
        return None
    for name in ("crew.jsonc", "crew.json"):
        if (path / name).is_file():
            return CrewAIProject("json", path, path / name)
    direct = _yaml_project(path / "config", path) or _yaml_project(path, path)
    if direct:
        return direct
    nested = [p for p in sorted(path.glob("src/*/config")) if _pair(p)]
    if len(nested) > 1:
        raise ConfigError(
            "several CrewAI crews in this project",
            path=path,
            hint="pass one: " + ", ".join(str(p) for p in nested),
        )
    return _yaml_project(nested[0], path) if nested else None


def _project_name(project: CrewAIProject, given: object) -> str:
    name = given if isinstance(given, str) and given else None
    pyproject = project.root / "pyproject.toml"
    if name is None and pyproject.is_file():
        import tomllib

        try:
            name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
        except (KeyError, TypeError, ValueError, OSError):
            name = None
    name = _SAFE_NAME.sub("-", name or project.root.resolve().name).strip("-.") or "crew"
    return name if name[0].isalpha() or name[0] == "_" else f"crew-{name}"


class _Importer:
    """Collects roles, tasks, model tiers, placeholders and unsupported fields."""

    def __init__(self, inputs: Mapping[str, str]) -> None:
        self.inputs = dict(inputs)
        self.unsupported: list[str] = []
        self.models: dict[str, ModelSpec] = {"default": ModelSpec()}

    def fill(self, value: object, loc: Loc, error_at: ErrorAt) -> str:
        """`value` as text with `{placeholders}` filled; a missing input is an error."""
        text = "" if value is None else str(value).strip()

        def sub(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in self.inputs:
                raise error_at(
                    loc, f"no value for placeholder {{{key}}}", f"pass `--input {key}=...`"
                )
            return str(self.inputs[key])

        return PLACEHOLDER.sub(sub, text)

    def extra(self, where: str, data: Mapping[str, Any], known: frozenset[str]) -> None:
        for key in data:
            if key not in known:
                self.unsupported.append(f"{where}.{key}")

    def role(self, name: str, data: Mapping[str, Any], error_at: ErrorAt) -> dict[str, Any]:
        """A RoleSpec (as data) for one CrewAI agent."""
        if not isinstance(data, Mapping):
            raise error_at(
                (name,),
                "an agent is a mapping with role, goal and backstory",
                "add `role:`, `goal:` and `backstory:`",
            )
        role = self.fill(data.get("role", name), (name, "role"), error_at)
        backstory = self.fill(data.get("backstory"), (name, "backstory"), error_at)
        instructions = " ".join(p for p in (f"Your role: {role}." if role else "", backstory) if p)
        self.extra(f"agents.{name}", data, AGENT_FIELDS | {"tools"})
        if data.get("tools"):
            tools = (
                ", ".join(map(str, data["tools"]))
                if isinstance(data["tools"], list)
                else str(data["tools"])
            )
            self.unsupported.append(f"agents.{name}.tools ({tools})")
        if data.get("allow_delegation"):
            self.unsupported.append(f"agents.{name}.allow_delegation")
        return {
            "name": _SAFE_NAME.sub("_", name),
            "goal": self.fill(data.get("goal"), (name, "goal"), error_at),
            "instructions": instructions,
            "model": self.model_tier(name, data.get("llm")),
        }

    def model_tier(self, agent: str, llm: object) -> str:
        """The model tier for a CrewAI `llm` value (a string or a mapping)."""
        if llm is None or llm == "":
            return "default"
        spec = llm if isinstance(llm, Mapping) else {"model": str(llm)}
        model = str(spec.get("model", ""))
        provider, _, model_id = model.partition("/") if "/" in model else ("openai", "", model)
        options: dict[str, Any] = {}
        if provider == "ollama":
            options["base_url"] = spec.get("base_url") or OLLAMA_URL
        elif provider != "openai" or not model_id:
            self.unsupported.append(
                f"agents.{agent}.llm ({model!r}: runs on the default "
                "model; use an OpenAI-compatible endpoint)"
            )
            return "default"
        elif spec.get("base_url"):
            options["base_url"] = spec["base_url"]
        if spec.get("api_key_env"):
            options["api_key_env"] = spec["api_key_env"]
        for key in spec:
            if key not in ("model", "base_url", "api_key_env"):
                self.unsupported.append(f"agents.{agent}.llm.{key}")
        tier = model
        self.models[tier] = ModelSpec(backend="openai", model=model_id, options=options)
        return tier

    def task(
        self,
        task_id: str,
        data: Mapping[str, Any],
        previous: str | None,
        roles: dict[str, str],
        error_at: ErrorAt,
    ) -> dict[str, Any]:
        """A TaskSpec (as data) for one CrewAI task."""
        loc: Loc = (task_id,)
        if not isinstance(data, Mapping):
            raise error_at(
                loc,
                "a task is a mapping with description and expected_output",
                "add `description:` and `expected_output:`",
            )
        if not data.get("description"):
            raise error_at(loc, "description is required", "add `description:`")
        question = self.fill(data["description"], (*loc, "description"), error_at)
        expected = self.fill(data.get("expected_output"), (*loc, "expected_output"), error_at)
        if expected:
            question += f"\n\nExpected output: {expected}"
        if data.get("output_json") or data.get("output_pydantic"):
            question += "\nReply with one JSON object only."
            field = "output_json" if data.get("output_json") else "output_pydantic"
            self.unsupported.append(
                f"tasks.{task_id}.{field} (JSON is asked for, but the Python model is not checked)"
            )
        self.extra(f"tasks.{task_id}", data, TASK_FIELDS)
        agent = data.get("agent")
        if agent is not None and agent not in roles:
            raise error_at(
                (*loc, "agent"), f"unknown agent {agent!r}", f"known agents: {', '.join(roles)}"
            )
        context = data.get("context")
        if context is None:
            depends = [] if data.get("async_execution") or previous is None else [previous]
        elif isinstance(context, list):
            depends = [str(c) for c in context]
        else:
            raise error_at(
                (*loc, "context"),
                "context is a list of task names",
                "write `context: [other_task]`",
            )
        return {
            "id": _SAFE_NAME.sub("_", task_id),
            "question": question,
            "role": roles[agent] if agent else None,
            # a CrewAI task's output is the agent's whole final answer, not its first line
            "answer_type": "free",
            "depends_on": [_SAFE_NAME.sub("_", d) for d in depends],
            "max_tokens": IMPORTED_MAX_TOKENS,
            "output_file": (
                self.fill(data["output_file"], (*loc, "output_file"), error_at)
                if data.get("output_file")
                else None
            ),
        }


def _yaml_error(doc: Any) -> ErrorAt:
    def error_at(loc: Loc, message: str, hint: str | None = None) -> ConfigError:
        return doc.error(loc, message, hint)

    return error_at


def _json_error(path: Path, prefix: Loc = ()) -> ErrorAt:
    def error_at(loc: Loc, message: str, hint: str | None = None) -> ConfigError:
        dotted = ".".join(map(str, (*prefix, *loc)))
        return ConfigError(f"{dotted}: {message}" if dotted else message, path=path, hint=hint)

    return error_at


def _mapping(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc.data, dict) or not doc.data:
        raise doc.error(
            (), f"{what} is a mapping of names to definitions", f"see CrewAI's config/{what}"
        )
    return doc.data


def _load_yaml(project: CrewAIProject, importer: _Importer) -> tuple[list, list, dict]:
    agents_doc = load_marked(project.agents)
    tasks_doc = load_marked(project.tasks)  # type: ignore[arg-type]
    agents = [
        (name, data, _yaml_error(agents_doc))
        for name, data in _mapping(agents_doc, "agents.yaml").items()
    ]
    tasks = [
        (str(name), data, _yaml_error(tasks_doc))
        for name, data in _mapping(tasks_doc, "tasks.yaml").items()
    ]
    return agents, tasks, {}


def _load_json(project: CrewAIProject, importer: _Importer) -> tuple[list, list, dict]:
    crew = jsonc.load(project.agents)
    error_at = _json_error(project.agents)
    if not isinstance(crew, dict):
        raise error_at((), "crew.jsonc holds an object with agents and tasks", None)
    names = crew.get("agents")
    if not isinstance(names, list) or not names:
        raise error_at(
            ("agents",),
            "must be a non-empty list of agent names",
            "list the files of agents/ without their extension",
        )
    agents = []
    for name in names:
        found = [project.root / "agents" / f"{name}{ext}" for ext in (".jsonc", ".json")]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise error_at(
                ("agents",), f"no agent file for {name!r}", f"create agents/{name}.jsonc"
            )
        agents.append((str(name), jsonc.load(path), _json_error(path, ())))
    raw_tasks = crew.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise error_at(("tasks",), "must be a non-empty list of tasks", None)
    tasks = []
    for i, task in enumerate(raw_tasks):
        name = task.get("name") if isinstance(task, dict) else None
        tasks.append(
            (str(name or f"task_{i + 1}"), task, _json_error(project.agents, ("tasks", i)))
        )
    return agents, tasks, crew


def _defaults(inputs: object) -> dict[str, str]:
    """crew.jsonc `inputs`: plain values, or objects with a `default`."""
    if not isinstance(inputs, dict):
        return {}
    out = {}
    for key, value in inputs.items():
        if isinstance(value, dict):
            if "default" in value:
                out[str(key)] = str(value["default"])
        elif value is not None:
            out[str(key)] = str(value)
    return out


def import_crewai(
    path: str | Path,
    *,
    inputs: Mapping[str, str] | None = None,
    project: CrewAIProject | None = None,
    policy: Literal["single", "vote", "adaptive"] = "single",
    max_tokens: int = IMPORTED_MAX_TOKENS,
) -> ImportedCrew:
    """Read the CrewAI project at `path` into an accord crew spec.

    `policy` defaults to `single`, one answer per task as in CrewAI: a majority vote over
    long free-text answers rarely settles, so escalation is opt-in for imported crews.
    """
    project = project or find_project(path)
    if project is None:
        raise ConfigError(
            "not a CrewAI project",
            path=path,
            hint="expected crew.jsonc, or config/agents.yaml and tasks.yaml",
        )
    importer = _Importer({})
    load = _load_json if project.kind == "json" else _load_yaml
    agents, tasks, crew = load(project, importer)
    importer.inputs = {**_defaults(crew.get("inputs")), **(inputs or {})}
    importer.extra("crew", crew, CREW_FIELDS)
    if crew.get("process", "sequential") != "sequential":
        importer.unsupported.append(
            f"crew.process ({crew['process']!r}: runs as a task graph under accord's policy)"
        )
    roles = [importer.role(name, data, err) for name, data, err in agents]
    by_agent = {name: role["name"] for (name, _, _), role in zip(agents, roles, strict=True)}
    task_specs = []
    previous: str | None = None
    for task_id, data, err in tasks:
        task_specs.append(importer.task(task_id, data, previous, by_agent, err))
        _check_context(task_id, task_specs[-1]["depends_on"], task_specs[:-1], err)
        previous = task_specs[-1]["id"]
    data = {
        "name": _project_name(project, crew.get("name")),
        "roles": roles,
        "tasks": task_specs,
        "models": importer.models,
        "description": f"imported from the CrewAI project {project.root}",
        "policy": {"kind": policy},
    }
    for task in task_specs:
        task["max_tokens"] = max_tokens
    spec = validate_spec(data)
    problems = check_references(spec)
    if problems:
        loc, message, hint = problems[0]
        raise ConfigError(f"{'.'.join(map(str, loc))}: {message}", path=project.agents, hint=hint)
    warnings: tuple[str, ...] = ()
    if importer.unsupported:
        warnings = (
            "CrewAI fields accord does not support were ignored: "
            + ", ".join(importer.unsupported),
        )
    return ImportedCrew(spec, warnings, str(project.tasks or project.agents), project.root)


def _check_context(
    task_id: str, depends: list[str], earlier: list[dict[str, Any]], error_at: ErrorAt
) -> None:
    """CrewAI's context names tasks defined before this one."""
    known = [t["id"] for t in earlier]
    for j, name in enumerate(depends):
        if name not in known:
            hint = f"earlier tasks: {', '.join(known)}" if known else "it is the first task"
            raise error_at(
                (task_id, "context", j),
                f"context names {name!r}, which is not a task defined before this one",
                hint,
            )


def parse_inputs(pairs: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """`["topic=AI", ...]` (from `--input`) as a dict; a pair without `=` is an error."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--input {pair!r} is not key=value", hint="e.g. --input topic=AI")
        out[key.strip()] = value
    return out
