"""Running a bench: every strategy on the same items, live or replayed, cached and resumable."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

from accord.bench.config import BenchConfig, Mode, ProgressSink, Silent
from accord.bench.deciders import SOLVER, Deciders, tier_label
from accord.bench.replay import run_replay
from accord.bench.store import BenchStore, PromptRow, ResultRow
from accord.bench.strategies import Decider, Strategy, check_peer, parse_strategies
from accord.bench.summary import summarise
from accord.bench.tasks import BenchItem, load_bench_items
from accord.consensus.records import Decision
from accord.crews.scoring import is_correct
from accord.ledger.writer import Ledger, RunLog, new_run_id
from accord.models.pricing import PriceTable

__all__ = ["BenchConfig", "ProgressSink", "backend_label", "result_row", "run_bench", "run_live"]

_FLUSH_SECONDS = 5.0  # how much work an interrupted bench may lose


def result_row(
    run_id: str,
    item: BenchItem,
    strategy: str,
    decision: Decision,
    *,
    backend: str,
    seed: int,
    prices: PriceTable,
    ledger_run_id: str | None,
    mode: Mode = "live",
) -> ResultRow:
    """One item x strategy row from a live decision (scored here, and only here)."""
    correct = is_correct(decision.answer, item.targets, item.task.answer_type)
    flops = [prices.flops(a.model, a.tokens) for a in decision.attempts]
    return ResultRow(
        run_id=run_id,
        item_key=item.key,
        item_id=item.item.id,
        source=item.source,
        strategy=strategy,
        backend=backend,
        seed=seed,
        mode=mode,
        draws=1,
        answer=decision.answer,
        correct=float(bool(correct)),
        confidence=decision.confidence,
        path=decision.path,
        stop_reason=decision.stop_reason,
        escalated=float(decision.escalated),
        n_attempts=float(len(decision.attempts)),
        prompt_tokens=float(decision.prompt_tokens),
        completion_tokens=float(decision.completion_tokens),
        wall_ms=decision.wall_ms,
        model_ms=decision.model_ms,
        cost_usd=sum(
            prices.usd(a.model, a.prompt_tokens, a.completion_tokens, a.cached_prompt_tokens)
            for a in decision.attempts
        ),
        flops=sum(f for f in flops if f is not None) if all(f is not None for f in flops) else None,
        cached=False,
        ledger_run_id=ledger_run_id,
    )


def _messages_json(messages: object) -> str:
    return json.dumps([{"role": m.role, "content": m.content} for m in messages])  # type: ignore[attr-defined]


def prompt_rows(
    item: BenchItem, strategy: Strategy, decider: Decider, decision: Decision, label: str, seed: int
) -> list[PromptRow]:
    """What a peer sent the model for `item` (its first call), with accord's prompt beside it."""
    calls = getattr(decider, "transcript", None)
    if not strategy.is_peer or not calls:
        return []
    from accord.roles.prompt import build_messages

    return [
        PromptRow(
            item.key,
            strategy.name,
            label,
            seed,
            len(calls),
            _messages_json(calls[0].messages),
            decision.attempts[-1].raw if decision.attempts else "",
        ),
        PromptRow(
            item.key,
            "accord",
            label,
            seed,
            1,
            _messages_json(build_messages(SOLVER, item.task)),
            "",
        ),
    ]


def backend_label(config: BenchConfig) -> str:
    """The backend as the cache keys it: name plus options."""
    return tier_label(config.backend, config.backend_options)


async def _live_strategy(
    config: BenchConfig,
    run_id: str,
    strategy: Strategy,
    todo: list[BenchItem],
    deciders: Deciders,
    store: BenchStore,
    ledger: Ledger | None,
    progress: ProgressSink,
) -> list[ResultRow]:
    decider = deciders.build(strategy)
    prices = ledger.prices if ledger else PriceTable()
    run: AbstractContextManager[RunLog | None] = (
        ledger.run(
            f"bench:{strategy.name}",
            source=f"bench {run_id}",
            backend=config.backend,
            policy=strategy.name,
            seed=config.seed,
            config={"bench_run": run_id},
        )
        if ledger
        else nullcontext()
    )
    rows: list[ResultRow] = []
    pending: list[ResultRow] = []
    prompts: list[PromptRow] = []
    last = time.monotonic()
    label = backend_label(config)
    with run as log:
        try:
            for item in todo:
                decision = await decider.decide(item.task)
                row = result_row(
                    run_id,
                    item,
                    strategy.name,
                    decision,
                    backend=label,
                    seed=config.seed,
                    prices=prices,
                    ledger_run_id=log.id if log else None,
                )
                prompts += prompt_rows(item, strategy, decider, decision, label, config.seed)
                if log:
                    log.record(decision, expected=item.targets, correct=bool(row.correct))
                rows.append(row)
                pending.append(row)
                if time.monotonic() - last > _FLUSH_SECONDS:
                    store.add_prompts(prompts)
                    store.add_results(pending)
                    pending, prompts, last = [], [], time.monotonic()
                progress.advance(1, f"{strategy.name} {item.item.id}")
        finally:
            store.add_prompts(prompts)
            store.add_results(pending)
    return rows


async def run_live(
    config: BenchConfig,
    run_id: str,
    items: list[BenchItem],
    strategies: list[Strategy],
    store: BenchStore,
    progress: ProgressSink,
) -> list[ResultRow]:
    """Run every strategy through the real coordinator; reuse cached item x strategy rows."""
    label = backend_label(config)
    cached = {} if config.fresh else store.cached(label, config.seed, [s.name for s in strategies])
    plan = [(s, [it for it in items if (it.key, s.name) not in cached]) for s in strategies]
    reused = [
        replace(cached[(it.key, s.name)], run_id=run_id, cached=True)
        for s in strategies
        for it in items
        if (it.key, s.name) in cached
    ]
    store.add_results(reused)
    progress.start("live", sum(len(todo) for _, todo in plan))
    rows = list(reused)
    deciders = Deciders(config.backend, config.backend_options, seed=config.seed, pool=config.pool)
    record = config.ledger if config.ledger is not None else config.backend != "simulated"
    ledger = Ledger(config.db, batch_size=1000, flush_seconds=10.0) if record else None
    try:
        for strategy, todo in plan:
            if todo:
                rows += await _live_strategy(
                    config, run_id, strategy, todo, deciders, store, ledger, progress
                )
    finally:
        if ledger:
            ledger.close()
        deciders.close()
    return rows


def _recorded_counts(items: list[BenchItem], sources: str) -> dict[str, int] | None:
    """How many recorded answers the replayed sources hold, and how many could not be read."""
    if not sources:
        return None
    names = {s.strip() for group in sources.split(";") for s in group.split(",")}
    replayed = [s for it in items if it.recorded for s in it.recorded.samples if s.source in names]
    return {"samples": len(replayed), "unread": sum(s.answer is None for s in replayed)}


def run_bench(config: BenchConfig, progress: ProgressSink | None = None) -> str:
    """Run the bench described by `config`; store rows and the summary; return the run id."""
    progress = progress or Silent()
    items = load_bench_items(config.tasks, config.limit)
    strategies = parse_strategies(config.strategies)
    for strategy in strategies:
        if strategy.peer is not None:
            check_peer(strategy.peer)  # a missing framework fails here, before any model runs
    store = BenchStore(config.db)
    run_id = "bench-" + new_run_id()
    store.start_run(
        run_id,
        command=config.command,
        backend="recorded" if config.sources else config.backend,
        seed=config.seed,
        mode=config.mode,
        samples_k=config.replay or None,
        replay_seeds=config.replay_seeds if config.mode == "replay" else None,
        tasks=config.tasks,
        strategies=",".join(s.name for s in strategies),
        n_items=len(items),
        simulated=config.backend == "simulated",
        meta={
            "limit": config.limit,
            "backend_options": config.backend_options,
            "pool": config.pool,
            "fresh": config.fresh,
            "sources": config.sources or None,
            "recorded": _recorded_counts(items, config.sources),
        },
    )
    status = "failed"
    try:
        if config.mode == "replay":
            # peers cannot be replayed (they send their own prompts): they run live, after
            replayed = [s for s in strategies if not s.is_peer]
            live = [s for s in strategies if s.is_peer]
            rows, per_seed = (
                run_replay(config, run_id, items, replayed, store, progress)
                if replayed
                else ([], {})
            )
            if live:
                rows += asyncio.run(run_live(config, run_id, items, live, store, progress))
        else:
            rows = asyncio.run(run_live(config, run_id, items, strategies, store, progress))
            per_seed = None
        store.add_summary(summarise(run_id, strategies, rows, per_seed=per_seed, seed=config.seed))
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, status)
    return run_id
