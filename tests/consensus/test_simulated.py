"""The simulated population: set accuracy, correlated errors, calibrated or over-confident."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np

from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Task
from accord.crews.scoring import is_correct
from accord.models.base import create_backend
from accord.models.simulated import Population, SimulatedBackend, latent, simulated_items
from accord.roles.pool import AgentSpec, LocalPool
from accord.roles.prompt import RoleProfile


def _draws(backend: SimulatedBackend, n_items: int, seeds: int) -> tuple[np.ndarray, ...]:
    rights, confs, ps = [], [], []
    for i in range(n_items):
        item = latent(f"k{i}", backend.population)
        for s in range(seeds):
            value, conf = backend.answer(item, s)
            rights.append(value == item.truth)
            confs.append(conf)
            ps.append(item.p)
    return np.array(rights), np.array(confs), np.array(ps)


def _ece(right: np.ndarray, conf: np.ndarray, bins: int = 10) -> float:
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = edges == b
        if mask.any():
            total += mask.mean() * abs(right[mask].mean() - conf[mask].mean())
    return total


def test_accuracy_follows_the_items_latent_accuracy() -> None:
    right, _, ps = _draws(SimulatedBackend(), 300, 20)
    assert abs(right.mean() - ps.mean()) < 0.02


def test_calibrated_confidence_is_calibrated_and_overconfidence_is_not() -> None:
    right, conf, _ = _draws(SimulatedBackend(confidence="calibrated"), 300, 20)
    over_right, over_conf, _ = _draws(SimulatedBackend(confidence="overconfident"), 300, 20)
    assert _ece(right, conf) < 0.03
    assert _ece(over_right, over_conf) > 0.05
    assert over_conf.mean() > right.mean() + 0.05


def test_errors_are_correlated_on_a_shared_distractor() -> None:
    backend = SimulatedBackend(population=Population(correlation=0.9))
    item = latent("k0", backend.population)
    wrong = [v for v, _ in (backend.answer(item, s) for s in range(400)) if v != item.truth]
    assert wrong.count(item.distractors[0]) / len(wrong) > 0.85


def test_registered_and_deterministic() -> None:
    backend = create_backend("simulated")
    item = latent("k1", Population())
    assert backend.answer(item, 3) == backend.answer(item, 3)  # type: ignore[attr-defined]


def test_two_thousand_decisions_in_well_under_a_second_each() -> None:
    items = simulated_items(2000)
    pool = LocalPool([AgentSpec(RoleProfile("solver"), "simulated")])
    coordinator = Coordinator(pool)
    policy = PolicySpec(kind="adaptive", threshold=0.8, stopping="beta")

    async def run() -> list:
        return list(
            await asyncio.gather(
                *[coordinator.decide(Task(it.id, it.prompt, "number"), policy) for it in items]
            )
        )

    start = time.perf_counter()
    decisions = asyncio.run(run())
    elapsed = time.perf_counter() - start
    accuracy = np.mean(
        [
            bool(is_correct(d.answer, it.targets, "number"))
            for d, it in zip(decisions, items, strict=True)
        ]
    )
    assert elapsed < 10  # ~0.4 s on a free core: 10,000 decisions fit in seconds
    assert 0.85 < accuracy < 1.0
    assert not math.isnan(accuracy)
