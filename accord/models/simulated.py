"""A simulated population of agents, for sweeps: every figure it produces is *simulated*.

Each simulated item has a latent per-sample accuracy `p` (drawn from a documented mix of easy
and hard items), a true answer and a shared distractor. An agent answers an item correctly with
probability `p` (shifted by the agent's `skill` in logit space); wrong answers fall on the shared
distractor with probability `correlation` (so voters make the same mistake) and spread over the
other distractors otherwise. The agent reports a confidence from a noisy signal whose mean is
`+separation/2` for right answers and `-separation/2` for wrong ones: `calibrated` turns it into
the exact posterior P(right | signal), `overconfident` inflates that posterior's log-odds.

Everything is a pure function of (item key, agent, seed), so runs are reproducible and fast:
no model, no sleep; 10,000 decisions take seconds.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from dataclasses import dataclass, replace
from typing import Literal

from accord.errors import BackendError
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage
from accord.models.items import Item

SIMULATED = "simulated"
_KEY = re.compile(r"simulated item (\S+?):")
ConfidenceModel = Literal["calibrated", "overconfident"]


@dataclass(frozen=True, slots=True)
class Population:
    """The documented mix of items and how agents err and report confidence."""

    easy_share: float = 0.7
    easy: tuple[float, float] = (0.8, 0.98)
    hard: tuple[float, float] = (0.3, 0.7)
    correlation: float = 0.5
    distractors: int = 4
    separation: float = 3.0
    confidence: ConfidenceModel = "calibrated"
    seed: int = 0

    def describe(self) -> str:
        """One line for reports (always says simulated)."""
        return (
            f"simulated population: {self.easy_share:.0%} easy items (per-sample accuracy "
            f"U{self.easy}), {1 - self.easy_share:.0%} hard (U{self.hard}); wrong answers "
            f"on a shared distractor with prob {self.correlation:g}; confidence "
            f"{self.confidence}, signal separation d'={self.separation:g}"
        )


@dataclass(frozen=True, slots=True)
class Latent:
    """What the simulation knows about one item."""

    key: str
    easy: bool
    p: float
    truth: int
    distractors: tuple[int, ...]


def latent(key: str, population: Population) -> Latent:
    """The latent facts of the item `key` (deterministic in key and population seed)."""
    rng = random.Random(f"{population.seed}:{key}")
    easy = rng.random() < population.easy_share
    low, high = population.easy if easy else population.hard
    truth = rng.randrange(10, 100)
    wrong = [v for v in range(10, 100) if v != truth]
    distractors = tuple(rng.sample(wrong, population.distractors))
    return Latent(key, easy, low + (high - low) * rng.random(), truth, distractors)


def simulated_items(n: int, population: Population | None = None) -> list[Item]:
    """`n` labelled simulated items (numeric answers) for the simulated backend."""
    population = population or Population()
    items = []
    for i in range(n):
        key = f"s{population.seed}-{i}"
        truth = latent(key, population).truth
        items.append(
            Item(
                f"simulated-{i}",
                f"simulated item {key}: what is the code?",
                "number",
                (),
                (str(truth),),
            )
        )
    return items


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


class SimulatedBackend:
    """A simulated agent: set per-item accuracy, correlated errors and a confidence model."""

    def __init__(
        self,
        *,
        population: Population | None = None,
        skill: float = 0.0,
        model: str = "sim-agent",
        name: str = SIMULATED,
        confidence: ConfidenceModel | None = None,
        seed: int = 0,
        **_ignored: object,
    ) -> None:
        base = population or Population()
        if confidence is not None and confidence != base.confidence:
            base = replace(base, confidence=confidence)
        self.population = base
        self.skill = skill
        self.model = model
        self.name = name
        self._latents: dict[str, Latent] = {}

    def _latent(self, text: str) -> Latent:
        found = _KEY.search(text)
        if not found:
            raise BackendError(
                self.name,
                "not a simulated item (use accord.models.simulated.simulated_items to make them)",
            )
        key = found.group(1)
        if key not in self._latents:
            self._latents[key] = latent(key, self.population)
        return self._latents[key]

    def answer(self, item: Latent, seed: int) -> tuple[int, float]:
        """(answer, confidence) of this agent on `item` for `seed`."""
        pop = self.population
        rng = random.Random(zlib.crc32(f"{item.key}:{self.model}:{seed}".encode()))
        p = _sigmoid(_logit(item.p) + self.skill)
        right = rng.random() < p
        if right:
            value = item.truth
        elif rng.random() < pop.correlation or len(item.distractors) == 1:
            value = item.distractors[0]
        else:
            value = rng.choice(item.distractors[1:])
        half = pop.separation / 2
        signal = rng.gauss(half if right else -half, 1.0)
        log_odds = _logit(p) + pop.separation * signal
        if pop.confidence == "overconfident":
            log_odds += 2.5  # a fixed bias: "50%" feels like 92%
        return value, min(max(_sigmoid(log_odds), 1e-6), 1.0)

    def complete(self, request: CompletionRequest) -> Completion:
        """A simulated answer (the number) with its confidence as the token probability."""
        text = request.messages[-1].content if request.messages else ""
        value, confidence = self.answer(self._latent(text), request.seed or 0)
        prompt = sum(len(m.content) for m in request.messages) // 4
        usage = Usage(prompt, 2, 0.0, self.model)
        return Completion(str(value), usage, (math.log(confidence),) * 2)

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Simulated items are free-text; options get equal scores."""
        prompt = sum(len(m.content) for m in messages) // 4
        flat = (math.log(1 / max(1, len(options))),) * len(options)
        return OptionScores(
            flat, Usage(prompt * len(options), 0, 0.0, self.model), (1,) * len(options)
        )
