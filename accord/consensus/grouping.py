"""Which votes say the same thing: the consensus modes `exact`, `final`, `semantic`, `judge`.

A vote counts groups, not strings. Every mode maps the valid answers of a decision to groups:

- `exact`: the normalised answer (`4`, `4.0` and `four` are one number; text ignores case and
  spacing) — choices, numbers, short text, JSON;
- `final`: the final answer read out of a reasoning text first ("... so the answer is 18.",
  `\\boxed{18}`, a JSON answer field; see `accord.consensus.extract`), then normalised;
- `semantic`: answers whose embeddings are at least `threshold` cosine-similar are linked, and
  each connected set of linked answers is one group; its representative is the member closest to
  the group's centre;
- `judge`: a role of the crew is asked, for each pair of distinct answers, whether they mean the
  same; a pair it calls the same (P(yes) >= `threshold`) is linked, and groups are the connected
  sets as in `semantic`. Its calls are attempts of kind `judge`, costed like any other.

Linking and connected sets do not depend on the order the votes arrived in, and the
representative is chosen by distance, then by text, so re-ordering or relabelling the votes never
changes the winning group. No I/O here beyond the embedder's and the judge's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from accord.consensus.extract import AnswerKind, final_answer
from accord.consensus.normalise import normalise_answer
from accord.consensus.records import Task

ConsensusMode = Literal["exact", "final", "semantic", "judge"]
DEFAULT_THRESHOLDS = {"semantic": 0.8, "judge": 0.5}


class ConsensusSpec(BaseModel):
    """How a vote decides which answers agree (`consensus:` on a policy or a task).

    `threshold`: for `semantic`, the cosine similarity at which two answers mean the same
    (default 0.8, tuned for the `minilm` embedder); for `judge`, the judge's P(yes) (0.5).
    `embedder`: a registered embedder (`minilm`, the default when its wheel is installed, else
    `llama`; `hash` is lexical only). `judge`: the role asked whether two answers agree.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ConsensusMode = "exact"
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    embedder: str | None = None
    judge: str | None = None

    @property
    def cutoff(self) -> float:
        """The threshold in force (the mode's default when none is given)."""
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS[self.mode]


def default_mode(answer_type: str) -> ConsensusMode:
    """The mode a task gets when neither it nor its policy names one."""
    return "semantic" if answer_type == "free" else "exact"


@dataclass(frozen=True, slots=True)
class Grouping:
    """The groups of one decision's answers: a key per answer, and how each group is shown."""

    keys: dict[str, str]  # answer as written -> its group's key
    shown: dict[str, str]  # group key -> the answer that stands for the group

    def key(self, answer: str) -> str:
        """The group key of `answer` (one of the grouped answers)."""
        return self.keys[answer]


Judge = Callable[[str, str], Awaitable[float]]  # P(the two answers mean the same)


class Grouper(Protocol):
    """Puts a decision's answers into groups of answers that agree."""

    async def group(self, task: Task, answers: Sequence[str]) -> Grouping:
        """Group `answers` (with repeats: one per vote) of `task`."""
        ...


def _most_common(spellings: Sequence[str]) -> str:
    """The most frequent spelling; ties by sort order, so arrival order does not matter."""
    counts: dict[str, int] = {}
    for s in spellings:
        counts[s] = counts.get(s, 0) + 1
    return min(counts, key=lambda s: (-counts[s], s))


def _by_key(answers: Sequence[str], key_of: Callable[[str], str], shown_of: Callable[[str], str]):
    keys = {a: key_of(a) for a in dict.fromkeys(answers)}
    members: dict[str, list[str]] = {}
    for a in answers:
        members.setdefault(keys[a], []).append(shown_of(a))
    return Grouping(keys, {k: _most_common(v) for k, v in members.items()})


class ExactGrouper:
    """Answers are one group when their normalised forms are equal."""

    async def group(self, task: Task, answers: Sequence[str]) -> Grouping:
        """Group by `normalise_answer`; a group shows its most frequent spelling."""
        return _by_key(answers, lambda a: normalise_answer(a, task), lambda a: a)


class FinalGrouper:
    """Answers are one group when the final answers read out of them are equal."""

    def final(self, task: Task, answer: str) -> str:
        """The final answer stated in `answer` (the whole answer when none can be read)."""
        kind: AnswerKind = "number" if task.answer_type == "number" else "text"
        return (final_answer(answer, kind) or answer).strip()

    async def group(self, task: Task, answers: Sequence[str]) -> Grouping:
        """Group by the normalised final answer; a group shows that final answer."""
        return _by_key(
            answers,
            lambda a: normalise_answer(self.final(task, a), task),
            lambda a: self.final(task, a),
        )


def _components(n: int, linked: Callable[[int, int], bool]) -> list[list[int]]:
    """Connected sets of 0..n-1 under `linked` (union-find over every pair)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if root(i) != root(j) and linked(i, j):
                parent[max(root(i), root(j))] = min(root(i), root(j))
    sets: dict[int, list[int]] = {}
    for i in range(n):
        sets.setdefault(root(i), []).append(i)
    return list(sets.values())


def _linked_grouping(
    task: Task,
    answers: Sequence[str],
    forms: list[str],
    linked: Callable[[int, int], bool],
    vectors: np.ndarray | None,
) -> Grouping:
    """Groups of `forms` (distinct normalised answers, sorted) joined where `linked`."""
    form_of = {a: normalise_answer(a, task) for a in dict.fromkeys(answers)}
    weight = {f: 0 for f in forms}
    for a in answers:
        weight[form_of[a]] += 1
    keys_of_form: dict[str, str] = {}
    shown: dict[str, str] = {}
    for members in _components(len(forms), linked):
        names = [forms[i] for i in members]
        if vectors is not None:
            rows = vectors[members]
            centre = (rows * np.array([[weight[f]] for f in names], dtype=float)).sum(axis=0)
            centre /= np.linalg.norm(centre) or 1.0
            # closest to the centre; ties (and float noise) by text, never by arrival
            best = min(
                range(len(names)), key=lambda i: (-round(float(rows[i] @ centre), 9), names[i])
            )
            key = names[best]
        else:
            key = min(names, key=lambda f: (-weight[f], f))
        for f in names:
            keys_of_form[f] = key
        spellings = [a for a in answers if form_of[a] == key]
        shown[key] = _most_common(spellings)
    return Grouping({a: keys_of_form[form_of[a]] for a in form_of}, shown)


class SemanticGrouper:
    """Answers are one group when their embeddings link them (cosine >= threshold)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], threshold: float) -> None:
        self.embed = embed
        self.threshold = threshold
        self._cache: dict[str, np.ndarray] = {}

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts`, each text embedded once per decision."""
        missing = [t for t in texts if t not in self._cache]
        if missing:
            rows = np.asarray(self.embed(missing), dtype=float)
            for text, row in zip(missing, rows, strict=True):
                self._cache[text] = row / (np.linalg.norm(row) or 1.0)
        return np.array([self._cache[t] for t in texts])

    async def group(self, task: Task, answers: Sequence[str]) -> Grouping:
        """Link answers at least `threshold` similar; groups are the connected sets."""
        forms = sorted({normalise_answer(a, task) for a in answers})
        if not forms:
            return Grouping({}, {})
        vectors = self.vectors(forms)
        sims = vectors @ vectors.T
        return _linked_grouping(
            task, answers, forms, lambda i, j: sims[i, j] >= self.threshold - 1e-9, vectors
        )


class JudgeGrouper:
    """Answers are one group when a judge says they mean the same (pairwise, cached)."""

    def __init__(self, judge: Judge, threshold: float) -> None:
        self.judge = judge
        self.threshold = threshold
        self._said: dict[tuple[str, str], float] = {}

    async def group(self, task: Task, answers: Sequence[str]) -> Grouping:
        """Ask the judge about every pair not asked yet; groups are the connected sets."""
        forms = sorted({normalise_answer(a, task) for a in answers})
        shown = {normalise_answer(a, task): a for a in sorted(answers)}
        for i, a in enumerate(forms):
            for b in forms[i + 1 :]:
                if (a, b) not in self._said:  # pairs in sort order: the same pair, one call
                    self._said[(a, b)] = await self.judge(shown[a], shown[b])
        return _linked_grouping(
            task,
            answers,
            forms,
            lambda i, j: self._said[(forms[i], forms[j])] >= self.threshold,
            None,
        )


def default_embedder() -> str:
    """`minilm` when its model wheel is installed, else `llama` (the embedded GGUF)."""
    from accord.models.embed import embedders

    return "minilm" if "minilm" in embedders and _minilm_installed() else "llama"


def _minilm_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("all_minilm_l6_v2") is not None


def build_grouper(spec: ConsensusSpec, judge: Judge | None = None) -> Grouper:
    """The grouper for `spec`; `judge` asks the judge role (the coordinator's, for `judge`)."""
    if spec.mode == "final":
        return FinalGrouper()
    if spec.mode == "semantic":
        from accord.models.embed import get_embedder

        embedder = get_embedder(spec.embedder or default_embedder())
        return SemanticGrouper(embedder.embed, spec.cutoff)
    if spec.mode == "judge":
        if judge is None:
            raise ValueError("the judge mode needs a judge")
        return JudgeGrouper(judge, spec.cutoff)
    return ExactGrouper()
