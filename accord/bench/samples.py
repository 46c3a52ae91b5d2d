"""Recorded sample pools for replay: per item and model tier, the greedy primary and K voters.

The primary (temperature 0) is recorded once at the item's seed; voter i at seed + 1 + i, so
no voter repeats the primary's draw. Each sample keeps the latency of the whole call that made
it (model, prompt, parse, normalisation), which a replay charges for drawing it. Samples are
stored in `bench_samples` and drawn from the model only when missing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from accord.bench.config import ProgressSink
from accord.bench.deciders import SOLVER, tier_label
from accord.bench.store import BenchStore, insert_columns
from accord.bench.tasks import BenchItem
from accord.consensus.coordinator import task_seed
from accord.consensus.normalise import normalised
from accord.consensus.records import Attempt, Task
from accord.errors import ConfigError
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    create_backend,
)
from accord.roles.agent import RoleAgent

VOTER_TEMPERATURE = 0.8
# 2: voter i at seed base + 1 + i, and each sample's call latency. Format 1 (no `format` value)
# drew voter 0 at the primary's seed, so a replay counted the primary twice.
SAMPLES_FORMAT = 2
_SAMPLE_COLUMNS = (
    "item_key, backend, model, seed, kind, idx, temperature, answer, raw, "
    "option_prob, mean_logprob, min_logprob, prompt_tokens, completion_tokens, "
    "model_ms, format, call_ms"
)


class MemoScores:
    """Wraps a backend so repeated option scoring of one prompt is computed once.

    Option scores are deterministic, so K multiple-choice samples differ only in the seeded
    pick; each sample still records the usage of a real scoring call. `hits` counts the calls
    answered from the memo (their latency lacks the model time a live call would spend).
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.hits = 0
        self._memo: dict[tuple[tuple[Message, ...], tuple[str, ...]], OptionScores] = {}

    def complete(self, request: CompletionRequest) -> Completion:
        """Pass through."""
        return self.inner.complete(request)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """The inner backend's scores, computed once per (messages, options)."""
        key = (messages, options)
        if key in self._memo:
            self.hits += 1
        else:
            self._memo[key] = self.inner.score(messages, options)
        return self._memo[key]


@dataclass(frozen=True, slots=True)
class Sample:
    """One recorded attempt and the latency of the whole call that made it."""

    attempt: Attempt
    call_ms: float


@dataclass(frozen=True, slots=True)
class SamplePool:
    """One item's recorded attempts on one model tier: the greedy primary and K voters.

    `primary_voter`: the voter that is the primary's own sample (recorded sources, where the
    primary role also votes), not drawn again in a decision that asked the primary.
    """

    primary: Sample
    voters: tuple[Sample, ...]
    primary_voter: int | None = None


def _attempt_row(key: str, label: str, seed: int, index: int, s: Sample) -> tuple[object, ...]:
    a = s.attempt
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
        SAMPLES_FORMAT,
        s.call_ms,
    )


def stale_samples(store: BenchStore, label: str, seed: int) -> int:
    """How many stored samples of this backend and seed are in an older format."""
    with store.connect() as db:
        row = db.execute(
            "SELECT count(*) FROM bench_samples WHERE backend = ? AND seed = ? "
            "AND coalesce(format, 1) < ?",
            [label, seed, SAMPLES_FORMAT],
        ).fetchone()
    return int(row[0]) if row else 0


def drop_samples(store: BenchStore, label: str, seed: int) -> None:
    """Forget the recorded samples of this backend and seed (they are drawn again)."""
    with store.connect() as db:
        db.execute("DELETE FROM bench_samples WHERE backend = ? AND seed = ?", [label, seed])


def _load_pools(store: BenchStore, label: str, seed: int) -> dict[str, list[Sample]]:
    stale = stale_samples(store, label, seed)
    if stale:
        raise ConfigError(
            f"{store.path} holds {stale} replay samples of {label} (seed {seed}) recorded by an "
            "older accord, whose voter 0 repeats the primary's draw (a replay would count the "
            "primary twice)",
            hint="add --rerecord to draw them again, or use another --db",
        )
    found: dict[str, list[Sample]] = {}
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {_SAMPLE_COLUMNS} FROM bench_samples WHERE backend = ? "
            "AND seed = ? ORDER BY item_key, kind, idx",
            [label, seed],
        ).fetchall()
    for (
        key,
        _,
        model,
        s,
        kind,
        _i,
        temp,
        answer,
        raw,
        op,
        mean_lp,
        min_lp,
        pt,
        ct,
        ms,
        _f,
        call,
    ) in rows:
        attempt = Attempt(
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
        found.setdefault(key, []).append(Sample(attempt, call))
    return found


class _Recorder:
    """Draws one item's samples from the model through one agent, timing each whole call."""

    def __init__(self, backend: str, options: dict[str, object]) -> None:
        self.memo = MemoScores(create_backend(backend, **options))
        self.agent = RoleAgent(SOLVER, self.memo)

    def sample(self, task: Task, kind: str, temperature: float, seed: int) -> Sample:
        hits = self.memo.hits
        start = time.perf_counter()
        attempt = self.agent.attempt(task, kind=kind, temperature=temperature, seed=seed)  # type: ignore[arg-type]
        attempt = normalised(attempt, task)
        call_ms = (time.perf_counter() - start) * 1000.0
        if self.memo.hits > hits:  # a live call would have spent the scoring time too
            call_ms += attempt.model_ms
        return Sample(attempt, call_ms)


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
        if sum(s.attempt.kind == "voter" for s in stored.get(it.key, [])) < k
        or not any(s.attempt.kind == "primary" for s in stored.get(it.key, []))
    ]
    progress.start(f"sampling {label}", len(todo) * (k + 1))
    recorder = _Recorder(backend, options) if todo else None
    unsaved: list[tuple[object, ...]] = []
    last = time.monotonic()
    for item in todo:
        assert recorder is not None
        have = stored.setdefault(item.key, [])
        base = task_seed(seed, item.task.id)
        if not any(s.attempt.kind == "primary" for s in have):
            sample = recorder.sample(item.task, "primary", 0.0, base)
            have.append(sample)
            unsaved.append(_attempt_row(item.key, label, seed, 0, sample))
            progress.advance(1, f"{item.item.id} primary")
        recorded = sum(s.attempt.kind == "voter" for s in have)
        for index in range(recorded, k):
            sample = recorder.sample(item.task, "voter", VOTER_TEMPERATURE, base + 1 + index)
            have.append(sample)
            unsaved.append(_attempt_row(item.key, label, seed, index, sample))
            progress.advance(1, f"{item.item.id} sample {index + 1}/{k}")
        if time.monotonic() - last > 5.0:  # bounded loss if interrupted; few file opens
            insert_columns(store, "bench_samples", _SAMPLE_COLUMNS.split(", "), unsaved)
            unsaved, last = [], time.monotonic()
    if unsaved:
        insert_columns(store, "bench_samples", _SAMPLE_COLUMNS.split(", "), unsaved)
    pools = {}
    for item in items:
        have = stored[item.key]
        primary = next(s for s in have if s.attempt.kind == "primary")
        voters = tuple(s for s in have if s.attempt.kind == "voter")[:k]
        pools[item.key] = SamplePool(primary, voters)
    return pools
