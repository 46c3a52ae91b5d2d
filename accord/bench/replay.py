"""Replay evaluation: sample each item K times from the real model once (`samples`), then run
every strategy through the real coordinator offline, drawing attempts from the recorded pools.

Each decision draws its voter samples without replacement, in a fresh order per replay seed,
so every figure carries a spread over seeds; a strategy that could need more than K samples is
refused before anything is recorded. Time: each attempt drawn is charged its recorded call
latency (the model plus the call path: prompt, parse, normalisation); the coordinator's own
time is measured for real while replaying.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from accord.bench.config import BenchConfig, ProgressSink
from accord.bench.deciders import SOLVER, Deciders, tier_label, tier_options
from accord.bench.samples import SamplePool, drop_samples, record_samples
from accord.bench.sources import fewest_samples, parse_sources, recorded_pools
from accord.bench.store import BenchStore, ResultRow
from accord.bench.strategies import Strategy
from accord.bench.tasks import BenchItem
from accord.consensus.records import Attempt, Task
from accord.errors import ConfigError
from accord.models.pricing import PriceTable


class ReplayPool:
    """An AgentPool that answers from recorded samples instead of a model.

    Call `begin()` before each decision: a decision's voter samples are the item's recorded
    samples in this replay seed's order, the first call getting the first, without
    replacement. `call_ms` sums the recorded call latency of what the decision drew.
    """

    def __init__(self, pools: Mapping[str, SamplePool], keys: Mapping[str, str], *, seed: int):
        self.pools = pools
        self.keys = keys
        self.seed = seed
        self.call_ms = 0.0
        self._drawn: dict[str, int] = {}
        self._asked: set[str] = set()  # items whose primary this decision asked
        self._orders: dict[str, list[int]] = {}

    def roles(self) -> list[str]:
        """The one recorded role."""
        return [SOLVER.name]

    def capacity(self, role: str) -> int:
        """Replays are instant; one at a time keeps them in order."""
        return 1

    def begin(self) -> None:
        """A new decision: its voters are drawn from the start of each item's order."""
        self._drawn.clear()
        self._asked.clear()
        self.call_ms = 0.0

    def _order(self, task_id: str, k: int) -> list[int]:
        if task_id not in self._orders:
            order = list(range(k))
            random.Random(zlib.crc32(f"{self.seed}:{task_id}".encode())).shuffle(order)
            self._orders[task_id] = order
        return self._orders[task_id]

    async def attempt(
        self, role: str, task: Task, *, kind: str, temperature: float, seed: int
    ) -> Attempt:
        """The recorded greedy answer at temperature 0, else the decision's next voter."""
        pool = self.pools[self.keys[task.id]]
        if temperature <= 0:
            sample = pool.primary
            self._asked.add(task.id)
        else:
            order = self._order(task.id, len(pool.voters))
            if task.id in self._asked:
                order = [i for i in order if i != pool.primary_voter]
            n = self._drawn.get(task.id, 0)
            if n >= len(order):
                raise ConfigError(
                    f"a decision on {task.id!r} asked for voter sample {n + 1}, but only "
                    f"{len(order)} were recorded",
                    hint=f"record more samples (--replay {n + 1} or more) or give more sources",
                )
            self._drawn[task.id] = n + 1
            sample = pool.voters[order[n]]
        self.call_ms += sample.call_ms
        return replace(sample.attempt, task_id=task.id, kind=kind, seed=seed)  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to release."""


def samples_needed(strategy: Strategy) -> int:
    """The most voter samples one decision of `strategy` can draw from one tier."""
    if strategy.policy is None or strategy.policy.kind == "single":
        return 0
    return strategy.policy.k  # answers (the primary's included) never exceed k


def check_enough(strategies: Sequence[Strategy], k: int, *, what: str = "") -> None:
    """Refuse strategies that could need more voter samples than the `k` recorded."""
    needed = max((samples_needed(s) for s in strategies), default=0)
    if needed > k:
        names = ", ".join(s.name for s in strategies if samples_needed(s) > k)
        raise ConfigError(
            f"{names} can draw up to {needed} voter samples per item, but "
            f"{what or f'--replay {k} records {k}'}: they would be reused",
            hint="give more sources" if what else f"use --replay {needed} (or more)",
        )


class _Acc:
    """Per item x strategy accumulation over replay seeds."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.answers: list[str] = []
        self.paths: list[str] = []
        self.stops: list[str] = []

    def add(self, **values: float) -> None:
        for name, value in values.items():
            self.values.setdefault(name, []).append(value)

    def mean(self, name: str) -> float:
        return float(np.mean(self.values[name]))


def _flops(prices: PriceTable, attempts: tuple[Attempt, ...]) -> float:
    values = [prices.flops(a.model, a.tokens) for a in attempts]
    return float("nan") if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]


def _mode(values: list[str]) -> str:
    return max(sorted(set(values)), key=values.count) if values else ""


def _row(
    run_id: str, item: BenchItem, strategy: str, acc: _Acc, label: str, seed: int, draws: int
) -> ResultRow:
    return ResultRow(
        run_id=run_id,
        item_key=item.key,
        item_id=item.item.id,
        source=item.source,
        strategy=strategy,
        backend=label,
        seed=seed,
        mode="replay",
        draws=draws,
        answer=_mode(acc.answers),
        correct=acc.mean("correct"),
        confidence=acc.mean("confidence"),
        path=_mode(acc.paths),
        stop_reason=_mode(acc.stops),
        escalated=acc.mean("escalated"),
        n_attempts=acc.mean("n_attempts"),
        prompt_tokens=acc.mean("prompt_tokens"),
        completion_tokens=acc.mean("completion_tokens"),
        wall_ms=acc.mean("wall_ms"),
        model_ms=acc.mean("model_ms"),
        cost_usd=acc.mean("cost"),
        flops=None if np.isnan(acc.mean("flops")) else acc.mean("flops"),
        cached=False,
        ledger_run_id=None,
    )


async def _replay_all(
    config: BenchConfig,
    items: list[BenchItem],
    strategies: list[Strategy],
    tier_pools: dict[int, dict[str, SamplePool]],
    progress: ProgressSink,
) -> dict[tuple[str, str], _Acc]:
    from accord.crews.scoring import is_correct

    prices = PriceTable()
    keys = {it.task.id: it.key for it in items}
    accs: dict[tuple[str, str], _Acc] = {}
    for r in range(config.replay_seeds):
        replays = {t: ReplayPool(p, keys, seed=r) for t, p in tier_pools.items()}
        deciders = Deciders(config.backend, config.backend_options, seed=config.seed, pools=replays)
        for strategy in strategies:
            decider = deciders.build(strategy)
            for item in items:
                for pool in replays.values():
                    pool.begin()
                d = await decider.decide(item.task)
                ok = is_correct(d.answer, item.targets, item.task.answer_type)
                acc = accs.setdefault((strategy.name, item.key), _Acc())
                acc.answers.append(d.answer)
                acc.paths.append(d.path)
                acc.stops.append(d.stop_reason)
                acc.add(
                    correct=float(bool(ok)),
                    confidence=d.confidence,
                    escalated=float(d.escalated),
                    n_attempts=float(len(d.attempts)),
                    prompt_tokens=float(d.prompt_tokens),
                    completion_tokens=float(d.completion_tokens),
                    # the coordinator as measured now, each drawn call as it was recorded
                    wall_ms=d.wall_ms + sum(pool.call_ms for pool in replays.values()),
                    model_ms=d.model_ms,
                    cost=sum(
                        prices.usd(
                            a.model, a.prompt_tokens, a.completion_tokens, a.cached_prompt_tokens
                        )
                        for a in d.attempts
                    ),
                    flops=_flops(prices, d.attempts),
                )
            progress.advance(len(items), f"replay seed {r + 1}: {strategy.name}")
    return accs


def _recorded_tiers(
    config: BenchConfig,
    items: list[BenchItem],
    store: BenchStore,
    tiers: int,
    progress: ProgressSink,
) -> dict[int, dict[str, SamplePool]]:
    """Each tier's pools, sampled from the backend where not stored yet."""
    tier_pools = {}
    for tier in range(tiers):
        options = tier_options(config.backend, config.backend_options, tier)
        if config.rerecord:
            drop_samples(store, tier_label(config.backend, options), config.seed)
        tier_pools[tier] = record_samples(
            items,
            store,
            config.backend,
            options,
            seed=config.seed,
            k=config.replay,
            progress=progress,
        )
    return tier_pools


def _source_pools(
    items: list[BenchItem], strategies: list[Strategy], sources: str, tiers: int
) -> dict[int, dict[str, SamplePool]]:
    """Each tier's pools from the recorded sources of its group."""
    groups = parse_sources(sources)
    if tiers > len(groups):
        raise ConfigError(
            f"a cascade of {tiers} tiers needs {tiers} source groups; --sources gives "
            f"{len(groups)}",
            hint="separate the tiers' sources with ';', e.g. 'code002/COT,code002/LtM;gpt4/COT'",
        )
    if tiers > 1:
        raise ConfigError(
            "cascades over recorded sources are not supported yet: recorded answers carry no "
            "confidence, and a cascade's certainty is capped by its answers' confidence, so "
            "it would always climb",
            hint="replay single, vote@K, early-stop and adaptive over one source group",
        )
    pools = {t: recorded_pools(items, groups[t]) for t in range(len(groups))}
    fewest = min(fewest_samples(p) for p in pools.values())
    check_enough(strategies, fewest, what=f"the sources give as few as {fewest} per item")
    return pools


def run_replay(
    config: BenchConfig,
    run_id: str,
    items: list[BenchItem],
    strategies: list[Strategy],
    store: BenchStore,
    progress: ProgressSink,
) -> tuple[list[ResultRow], dict[str, np.ndarray]]:
    """Record K samples per item per needed tier (once), or take the recorded sources'
    answers (`--sources`), then replay every strategy."""
    if any(s.peer for s in strategies):
        raise ConfigError("peers run live only", hint="drop --replay or the peer strategies")
    tiers = max(s.tiers for s in strategies)
    if config.sources:
        tier_pools = _source_pools(items, strategies, config.sources, tiers)
        label = f"recorded[{config.sources}]"
    else:
        check_enough(strategies, config.replay)
        tier_pools = _recorded_tiers(config, items, store, tiers, progress)
        label = tier_label(config.backend, config.backend_options)
    progress.start("replay", config.replay_seeds * len(strategies) * len(items))
    accs = asyncio.run(_replay_all(config, items, strategies, tier_pools, progress))
    rows = [
        _row(
            run_id, item, s.name, accs[(s.name, item.key)], label, config.seed, config.replay_seeds
        )
        for s in strategies
        for item in items
    ]
    store.add_results(rows)
    per_seed = {
        s.name: np.array([accs[(s.name, it.key)].values["correct"] for it in items]).T
        for s in strategies
    }
    return rows, per_seed
