"""Replay evaluation: sample each item K times from the real model once, then run every
strategy through the real coordinator offline, drawing attempts from the recorded pools.

The primary (greedy, temperature 0) attempt is recorded once; voter attempts are drawn without
replacement from the K recorded samples, in a fresh order per replay seed, so every figure
carries a spread over seeds. Model time is the recorded time of the attempts drawn; the
orchestration overhead is measured for real while replaying.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from accord.bench.deciders import SOLVER, Deciders, tier_label, tier_options
from accord.bench.store import BenchStore, ResultRow, insert_columns
from accord.bench.strategies import Strategy
from accord.bench.tasks import BenchItem
from accord.consensus.coordinator import task_seed
from accord.consensus.normalise import normalised
from accord.consensus.records import Attempt, Task
from accord.ledger.pricing import PriceTable
from accord.models.base import Backend, Message, OptionScores, create_backend
from accord.roles.agent import RoleAgent

if TYPE_CHECKING:
    from accord.bench.runner import BenchConfig, ProgressSink

VOTER_TEMPERATURE = 0.8
_SAMPLE_COLUMNS = (
    "item_key, backend, model, seed, kind, idx, temperature, answer, raw, "
    "option_prob, mean_logprob, min_logprob, prompt_tokens, completion_tokens, "
    "model_ms"
)


class MemoScores:
    """Wraps a backend so repeated option scoring of one prompt is computed once.

    Option scores are deterministic, so K multiple-choice samples differ only in the seeded
    pick; each sample still records the usage of a real scoring call.
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self._memo: dict[tuple[tuple[Message, ...], tuple[str, ...]], OptionScores] = {}

    def complete(self, request):  # type: ignore[no-untyped-def]
        """Pass through."""
        return self.inner.complete(request)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The inner backend's scores, computed once per (messages, options)."""
        key = (messages, options)
        if key not in self._memo:
            self._memo[key] = self.inner.score(messages, options)
        return self._memo[key]


@dataclass(frozen=True, slots=True)
class SamplePool:
    """One item's recorded attempts on one model tier: the greedy primary and K voters."""

    primary: Attempt
    voters: tuple[Attempt, ...]


def _attempt_row(key: str, label: str, seed: int, index: int, a: Attempt) -> tuple[object, ...]:
    return (
        key,
        label,
        a.model,
        seed,
        a.kind,
        index,
        a.temperature,
        a.answer,
        a.raw,
        a.option_prob,
        a.mean_logprob,
        a.min_logprob,
        a.prompt_tokens,
        a.completion_tokens,
        a.model_ms,
    )


def _load_pools(store: BenchStore, label: str, seed: int) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = {}
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {_SAMPLE_COLUMNS} FROM bench_samples WHERE backend = ? "
            "AND seed = ? ORDER BY item_key, kind, idx",
            [label, seed],
        ).fetchall()
    for key, _, model, s, kind, _idx, temp, answer, raw, op, mean_lp, min_lp, pt, ct, ms in rows:
        found.setdefault(key, []).append(
            Attempt(
                task_id="",
                role=SOLVER.name,
                model=model,
                answer=answer,
                raw=raw,
                prompt_tokens=pt,
                completion_tokens=ct,
                model_ms=ms,
                seed=s,
                temperature=temp,
                kind=kind,
                option_prob=op,
                mean_logprob=mean_lp,
                min_logprob=min_lp,
            )
        )
    return found


def record_samples(
    items: list[BenchItem],
    store: BenchStore,
    backend: str,
    options: dict[str, object],
    *,
    seed: int,
    k: int,
    progress: ProgressSink,
) -> dict[str, SamplePool]:
    """The sample pool of every item, drawing from the model only what is not stored yet."""
    label = tier_label(backend, options)
    stored = _load_pools(store, label, seed)
    todo = [
        it
        for it in items
        if sum(a.kind == "voter" for a in stored.get(it.key, [])) < k
        or not any(a.kind == "primary" for a in stored.get(it.key, []))
    ]
    progress.start(f"sampling {label}", len(todo) * (k + 1))
    agent = RoleAgent(SOLVER, MemoScores(create_backend(backend, **options))) if todo else None
    unsaved: list[tuple[object, ...]] = []
    last = time.monotonic()
    for item in todo:
        have = stored.get(item.key, [])
        base = task_seed(seed, item.task.id)
        new: list[tuple[object, ...]] = []
        if not any(a.kind == "primary" for a in have):
            a = normalised(
                agent.attempt(
                    item.task,
                    kind="primary",
                    temperature=0.0,  # type: ignore[union-attr]
                    seed=base,
                ),
                item.task,
            )
            have.append(a)
            new.append(_attempt_row(item.key, label, seed, 0, a))
            progress.advance(1, f"{item.item.id} primary")
        voters = sum(a.kind == "voter" for a in have)
        for index in range(voters, k):
            a = normalised(
                agent.attempt(
                    item.task,
                    kind="voter",  # type: ignore[union-attr]
                    temperature=VOTER_TEMPERATURE,
                    seed=base + index,
                ),
                item.task,
            )
            have.append(a)
            new.append(_attempt_row(item.key, label, seed, index, a))
            progress.advance(1, f"{item.item.id} sample {index + 1}/{k}")
        stored[item.key] = have
        unsaved.extend(new)
        if time.monotonic() - last > 5.0:  # bounded loss if interrupted; few file opens
            insert_columns(store, "bench_samples", _SAMPLE_COLUMNS.split(", "), unsaved)
            unsaved, last = [], time.monotonic()
    if unsaved:
        insert_columns(store, "bench_samples", _SAMPLE_COLUMNS.split(", "), unsaved)
    pools = {}
    for item in items:
        have = stored[item.key]
        primary = next(a for a in have if a.kind == "primary")
        voters = tuple(a for a in have if a.kind == "voter")[:k]
        pools[item.key] = SamplePool(primary, voters)
    return pools


class ReplayPool:
    """An AgentPool that answers from recorded samples instead of a model."""

    def __init__(
        self,
        pools: dict[str, SamplePool],
        keys: dict[str, str],
        *,
        coordinator_seed: int,
        replay_seed: int,
    ) -> None:
        self.pools = pools
        self.keys = keys
        self.coordinator_seed = coordinator_seed
        self.replay_seed = replay_seed

    def roles(self) -> list[str]:
        """The one recorded role."""
        return [SOLVER.name]

    def capacity(self, role: str) -> int:
        """Replays are instant; one at a time keeps them in order."""
        return 1

    async def attempt(
        self, role: str, task: Task, *, kind: str, temperature: float, seed: int
    ) -> Attempt:
        """The recorded greedy answer at temperature 0, else the next voter in this order."""
        pool = self.pools[self.keys[task.id]]
        if temperature <= 0:
            return replace(pool.primary, task_id=task.id, kind=kind, seed=seed)  # type: ignore[arg-type]
        order = list(range(len(pool.voters)))
        random.Random(zlib.crc32(f"{self.replay_seed}:{task.id}".encode())).shuffle(order)
        index = (seed - task_seed(self.coordinator_seed, task.id)) % len(order)
        return replace(pool.voters[order[index]], task_id=task.id, kind=kind, seed=seed)  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to release."""


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
        replays = {
            t: ReplayPool(p, keys, coordinator_seed=config.seed, replay_seed=r)
            for t, p in tier_pools.items()
        }
        deciders = Deciders(config.backend, config.backend_options, seed=config.seed, pools=replays)
        for strategy in strategies:
            decider = deciders.build(strategy)
            for item in items:
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
                    wall_ms=d.model_ms + d.wall_ms,
                    model_ms=d.model_ms,
                    cost=sum(
                        prices.usd(a.model, a.prompt_tokens, a.completion_tokens)
                        for a in d.attempts
                    ),
                    flops=_flops(prices, d.attempts),
                )
            progress.advance(len(items), f"replay seed {r + 1}: {strategy.name}")
    return accs


def run_replay(
    config: BenchConfig,
    run_id: str,
    items: list[BenchItem],
    strategies: list[Strategy],
    store: BenchStore,
    progress: ProgressSink,
) -> tuple[list[ResultRow], dict[str, np.ndarray]]:
    """Record K samples per item per needed tier (once), then replay every strategy."""
    from accord.errors import ConfigError

    if any(s.peer for s in strategies):
        raise ConfigError("peers run live only", hint="drop --replay or the peer strategies")
    tiers = max(s.tiers for s in strategies)
    tier_pools = {}
    for tier in range(tiers):
        options = tier_options(config.backend, config.backend_options, tier)
        tier_pools[tier] = record_samples(
            items,
            store,
            config.backend,
            options,
            seed=config.seed,
            k=config.replay,
            progress=progress,
        )
    progress.start("replay", config.replay_seeds * len(strategies) * len(items))
    accs = asyncio.run(_replay_all(config, items, strategies, tier_pools, progress))
    label = tier_label(config.backend, config.backend_options)
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
