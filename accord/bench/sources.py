"""Recorded sources as roles: the sample pools a replay draws from, built from real models'
recorded answers instead of samples drawn from a backend.

`--sources` names the sources (the recorded file's `source` values) that answer, in groups
separated by `;`: the first group is the role ensemble a decision asks (its first source is
the primary role; every source of the group is a voter), and later groups are the model
tiers above it. A source with several samples of one item (repeated sampling) contributes
every sample. Answers carry no log-probabilities, so no confidence is invented: estimators
that need one give 0, and agreement and the validators decide.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.bench.recorded import Recorded
from accord.bench.samples import Sample, SamplePool
from accord.bench.solver import SOLVER
from accord.bench.tasks import BenchItem
from accord.consensus.records import Attempt
from accord.errors import ConfigError

_HINT = "write --sources 'gpt4/COT' or 'code002/COT,code002/LtM;gpt4/COT' (tiers split by ';')"


def parse_sources(text: str) -> list[list[str]]:
    """`a,b;c` -> [[a, b], [c]]: the source groups of each tier, in order."""
    groups = [[s.strip() for s in part.split(",") if s.strip()] for part in text.split(";")]
    if not groups or not all(groups):
        raise ConfigError(f"bad --sources {text!r}: a tier with no source", hint=_HINT)
    for group in groups:
        if len(set(group)) != len(group):
            raise ConfigError(f"bad --sources {text!r}: a source named twice", hint=_HINT)
    return groups


def _attempt(sample: Recorded, kind: str) -> Attempt:
    return Attempt(
        task_id="",
        role=SOLVER.name,
        model=sample.model,
        answer=sample.answer or "",
        raw=sample.text,
        prompt_tokens=sample.prompt_tokens or 0,
        completion_tokens=sample.completion_tokens or 0,
        model_ms=0.0,
        seed=0,
        temperature=0.0 if kind == "primary" else 0.8,
        kind=kind,  # type: ignore[arg-type]
    )


def recorded_pools(items: Sequence[BenchItem], group: Sequence[str]) -> dict[str, SamplePool]:
    """Each item's pool for one tier: the group's first source as the primary, every sample
    of the group's sources as voters (the primary's own sample is not drawn after it)."""
    known = {s.source for it in items if it.recorded for s in it.recorded.samples}
    missing = [s for s in group if s not in known]
    if missing:
        shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
        raise ConfigError(
            f"no recorded source named {', '.join(map(repr, missing))}",
            hint=f"the file's sources: {shown}",
        )
    pools = {}
    for item in items:
        if item.recorded is None:
            raise ConfigError(
                f"item {item.item.id!r} has no recorded answers for --sources to replay",
                hint="give --tasks a recorded-samples file (docs/RECORDED.md)",
            )
        mine = [s for name in group for s in item.recorded.samples if s.source == name]
        if not mine or mine[0].source != group[0]:
            raise ConfigError(
                f"item {item.item.id!r} has no answer from the primary source {group[0]!r}",
                hint="put a source that answered every item first",
            )
        primary = Sample(_attempt(mine[0], "primary"), 0.0)
        voters = tuple(Sample(_attempt(s, "voter"), 0.0) for s in mine)
        pools[item.key] = SamplePool(primary, voters, primary_voter=0)
    return pools


def fewest_samples(pools: dict[str, SamplePool]) -> int:
    """The fewest voter samples any item has (a vote of more would reuse them)."""
    return min(len(p.voters) for p in pools.values())
