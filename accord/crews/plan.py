"""From a CrewSpec to what runs: agent specs per role and the task list (sources expanded)."""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

from accord.consensus.records import Task
from accord.crews.datasets import iter_items
from accord.crews.spec import CrewSpec, TaskSpec
from accord.crews.template import placeholders, render
from accord.roles.pool import AgentSpec
from accord.roles.prompt import RoleProfile


def agent_specs(
    spec: CrewSpec,
    *,
    backend: str | None = None,
    backend_options: dict[str, object] | None = None,
    tier: str | None = None,
) -> list[AgentSpec]:
    """One AgentSpec per role; `backend` overrides every model tier's backend.

    `tier` runs every role on that model tier instead of its own (a cascade's upper tiers).
    Local models get `n_threads` = CPUs / agents unless set, so that several model actors on
    one machine share its cores instead of spinning against each other.
    """
    out = []
    tiers = 1 + (len(spec.cascade.tiers) if spec.cascade else 0)
    agents = sum(r.replicas for r in spec.roles) * tiers
    threads = max(1, (os.cpu_count() or 1) // agents)
    for role in spec.roles:
        model = spec.models[tier or role.model]
        options: dict[str, object] = {"n_threads": threads, **model.options, "seed": spec.seed}
        if model.model:
            options["model"] = model.model
        options.update(backend_options or {})
        profile = RoleProfile(role.name, role.goal, role.instructions)
        out.append(AgentSpec(profile, backend or model.backend, options, role.replicas))
    return out


def expand_sources(spec: CrewSpec, base: Path) -> list[TaskSpec]:
    """Inline tasks plus one task per item of every source file (paths relative to `base`)."""
    tasks = list(spec.tasks)
    for source in spec.sources:
        path = Path(source.path)
        path = path if path.is_absolute() else base / path
        end = None if source.limit is None else source.offset + source.limit
        items = iter_items(path, prefer=source.answer_type)  # streamed: stops at `end`
        for item in islice(items, source.offset, end):
            task_id = f"{source.prefix}-{item.id.rsplit('-', 1)[-1]}" if source.prefix else item.id
            tasks.append(
                TaskSpec(
                    id=task_id,
                    question=item.prompt,
                    answer_type=item.answer_type,
                    choices=list(item.choices),
                    role=source.role,
                    policy=source.policy,
                    expected=list(item.targets),
                    max_tokens=source.max_tokens,
                )
            )
    return tasks


def runtime_task(spec: TaskSpec, context: dict[str, str]) -> Task:
    """The Task a role sees: `{dep}` placeholders filled (one pass: an answer is never expanded
    again), other dependencies as context."""
    slots = set(placeholders(spec.question))
    prompt = render(spec.question, {dep: context.get(dep, "") for dep in spec.depends_on})
    unused = [dep for dep in spec.depends_on if dep not in slots]
    if unused:
        lines = "\n".join(f"- {dep}: {context.get(dep, '')}" for dep in unused)
        prompt = f"Context from earlier tasks:\n{lines}\n\n{prompt}"
    return Task(
        id=spec.id,
        prompt=prompt,
        answer_type=spec.kind,
        choices=tuple(spec.choices),
        max_tokens=spec.max_tokens,
        role=spec.role,
        expected=tuple(spec.expected),
    )
