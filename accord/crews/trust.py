"""A crew file is trusted like code: the rules it must keep, and what it does that needs trust.

The rules are enforced at load time (unless the crew file opts in under `allow:`): files it
reads (`sources:`, a `code_tests` tests_file) stay inside its folder, and an API key is sent
only over https or to a loopback address. `findings` lists every setting that runs code,
reads files, sends prompts or secrets off the machine, or writes through tools, for
`accord validate` to show.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from accord.crews.settings import Problem, backend_uses, import_path_of, validator_uses
from accord.crews.spec import CrewSpec
from accord.crews.yamlsource import Loc

DEFAULT_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True, slots=True)
class Finding:
    """A setting that needs the trust given to code: where it is and what it does."""

    loc: Loc
    kind: str  # runs code | reads files | sends data | writes
    text: str


def resolve(base: Path, path: str) -> Path:
    """`path` as the crew file means it: relative to its folder, symbolic links followed."""
    given = Path(path).expanduser()
    return (given if given.is_absolute() else base / given).resolve()


def outside(base: Path, path: str) -> bool:
    """Whether `path` (resolved) lies outside the crew file's folder."""
    return not resolve(base, path).is_relative_to(base.resolve())


def file_problem(spec: CrewSpec, base: Path, loc: Loc, path: str, what: str) -> Problem | None:
    """A file the crew reads must exist and, unless allowed, lie inside its folder."""
    if outside(base, path) and not spec.allow.files_outside_crew_dir:
        return (
            loc,
            f"{what} {path!r} is outside the crew file's folder ({base.resolve()})",
            "move the file into that folder, or set `allow: {files_outside_crew_dir: true}` "
            "if this crew may read it",
            True,
        )
    if not resolve(base, path).is_file():
        return loc, f"no such {what} {path!r}", f"paths are relative to {base}", True
    return None


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_problems(spec: CrewSpec) -> list[Problem]:
    """An openai backend may send its key only over https or to a loopback address."""
    out: list[Problem] = []
    for use in backend_uses(spec):
        if use.name != "openai" or not isinstance(use.options.get("base_url"), str):
            continue
        url = urlsplit(use.options["base_url"])
        loc = use.where.get("base_url", (*use.loc, "base_url"))
        if url.scheme not in ("http", "https") or not url.hostname:
            hint = "write it as https://host/v1 (or http://127.0.0.1:PORT/v1 for a local server)"
            out.append(
                (loc, f"base_url {use.options['base_url']!r} is not an http(s) URL", hint, True)
            )
            continue
        key = use.options.get("api_key_env", DEFAULT_KEY_ENV)
        sends = bool(key) or bool(use.options.get("api_key"))
        if not sends or url.scheme == "https" or _loopback(url.hostname):
            continue
        if spec.allow.api_key_over_http:
            continue
        out.append(
            (
                loc,
                f"the API key (${key or 'api_key'}) would go as plain text over http to "
                f"{url.hostname}",
                "use an https:// base_url, set `api_key_env: ''` for a server without a key, or "
                "`allow: {api_key_over_http: true}`",
                True,
            )
        )
    return out


def findings(spec: CrewSpec, base: Path) -> list[Finding]:
    """Every setting of the crew that runs code, reads files, sends data off the machine, or
    writes through tools (tool effects are read from the toolset, which opens nothing)."""
    out: list[Finding] = []
    for use in validator_uses(spec):
        path = import_path_of(use)
        if path is not None:
            what = "calls" if use.name == "predicate" else "imports the model"
            out.append(Finding(use.loc, "runs code", f"{use.name}: {what} {path} (Python code)"))
        options = use.options if isinstance(use.options, Mapping) else {}
        if use.name == "code_tests":
            where = (
                "ON THIS HOST, unsandboxed (unsafe_local: true)"
                if options.get("unsafe_local")
                else f"in the {options.get('sandbox', 'bubblewrap')} sandbox"
            )
            out.append(
                Finding(use.loc, "runs code", f"code_tests: runs model-written code {where}")
            )
            if isinstance(options.get("tests_file"), str):
                shown = resolve(base, options["tests_file"])
                out.append(
                    Finding(
                        (*use.loc, "tests_file"),
                        "reads files",
                        f"reads {shown}: its text runs with the tests, failures reach the ledger",
                    )
                )
    for i, source in enumerate(spec.sources):
        out.append(
            Finding(
                ("sources", i, "path"),
                "reads files",
                f"reads tasks from {resolve(base, source.path)}",
            )
        )
    out += _backend_findings(spec)
    out += _tool_findings(spec)
    for key, value in spec.allow.model_dump().items():
        if value:
            out.append(Finding(("allow", key), "opt-in", f"allow.{key}: true"))
    return out


def _backend_findings(spec: CrewSpec) -> list[Finding]:
    out: list[Finding] = []
    for use in backend_uses(spec):
        agent = use.options.get("agent")
        if use.name in ("crewai-agent", "autogen-agent") and isinstance(agent, str):
            loc = use.where.get("agent", use.loc)
            out.append(
                Finding(loc, "runs code", f"{use.name}: builds the agent {agent} (Python code)")
            )
        if use.name != "openai":
            continue
        url = use.options.get("base_url") or "$OPENAI_BASE_URL or https://api.openai.com/v1"
        key = use.options.get("api_key_env", DEFAULT_KEY_ENV)
        loc = use.where.get("base_url", use.loc)
        text = f"openai: sends prompts to {url}"
        if key:
            text += f", with ${key} (when set) as a bearer token"
        if use.options.get("api_key"):
            text += "; the crew file holds an API key in clear (api_key)"
        out.append(Finding(loc, "sends data", text))
    return out


def _tool_findings(spec: CrewSpec) -> list[Finding]:
    tools = spec.tools
    if tools is None:
        return []
    effects = _effects(tools.toolset, tools.options)
    out: list[Finding] = []
    if tools.options:
        shown = ", ".join(f"{k}={v!r}" for k, v in tools.options.items())
        out.append(
            Finding(("tools", "options"), "writes", f"toolset {tools.toolset!r} with {shown}")
        )
    for role, grants in tools.grants.items():
        for i, grant in enumerate(grants):
            effect = effects.get(grant.tool, "unknown effect")
            if effect == "read":
                continue
            approval = {True: "approval required", False: "no approval", None: ""}[
                grant.requires_approval
            ]
            if not approval:
                approval = "approval required" if effect == "irreversible" else "no approval"
            if grant.limits:
                approval += f"; limits {', '.join(grant.limits)} ({grant.over_limit} over them)"
            out.append(
                Finding(
                    ("tools", "grants", role, i),
                    "writes",
                    f"{role} may call {grant.tool} ({effect}; {approval})",
                )
            )
    for i, rule in enumerate(tools.approvals):
        by = f"after {rule.reviewed_by}'s review" if rule.reviewed_by else "with no one asked"
        when = f" when {', '.join(rule.when)}" if rule.when else ""
        out.append(
            Finding(("tools", "approvals", i), "writes", f"pre-approves {rule.tool}{when} {by}")
        )
    for i, d in enumerate(tools.delegations):
        out.append(
            Finding(
                ("tools", "delegations", i),
                "writes",
                f"{d.role} may run {', '.join(d.tools)} as {d.to}",
            )
        )
    return out


def _effects(toolset: str, options: Mapping[str, object]) -> dict[str, str]:
    from accord.errors import AccordError
    from accord.tools.toolsets import create_toolset

    try:
        built = create_toolset(toolset, **options)
    except (AccordError, TypeError):
        return {}
    return {name: built.get(name).effect for name in built}


__all__ = ["Finding", "file_problem", "findings", "key_problems", "outside", "resolve"]
