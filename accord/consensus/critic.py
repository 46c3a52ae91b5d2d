"""The `critic` validator: another model judges the answer, yes or no, scored by log-probs."""

from __future__ import annotations

import math
from collections.abc import Mapping

from accord.consensus.records import Task, Verdict
from accord.consensus.validators import validators
from accord.models.base import Backend, Message, create_backend

QUESTION = "Question: {question}\nProposed answer: {answer}\nIs this answer correct? yes/no"
SYSTEM = "You check answers. Reply with one word: yes or no."
OPTIONS = ("yes", "no")


def yes_probability(logprobs: tuple[float, ...]) -> float:
    """P(yes) normalised over the two options yes and no."""
    yes, no = math.exp(logprobs[0]), math.exp(logprobs[1])
    return yes / (yes + no) if yes + no > 0 else 0.0


@validators.register("critic")
class Critic:
    """Asks a judge backend whether the answer is correct; passes when P(yes) >= threshold.

    The judge is a backend by name and options (`critic: {backend: llama, options: {...}}`),
    built on first use and kept. `judge()` gives the verdict and the score.
    """

    name = "critic"

    def __init__(
        self,
        backend: str | Backend = "scripted",
        options: Mapping[str, object] | None = None,
        threshold: float = 0.5,
    ) -> None:
        self._spec = backend
        self._options = dict(options or {})
        self._backend: Backend | None = None if isinstance(backend, str) else backend
        self.threshold = threshold
        if isinstance(backend, str):  # fail at load time on an unknown name
            from accord.models import builtin  # noqa: F401
            from accord.models.base import backends

            backends.get(backend)

    @property
    def backend(self) -> Backend:
        """The judge backend (built on first use)."""
        if self._backend is None:
            self._backend = create_backend(str(self._spec), **self._options)
        return self._backend

    def judge(self, task: Task, answer: str) -> tuple[Verdict, float]:
        """The verdict and P(yes) the judge gives `answer`."""
        messages = (
            Message("system", SYSTEM),
            Message("user", QUESTION.format(question=task.prompt, answer=answer)),
        )
        score = yes_probability(self.backend.score(messages, OPTIONS).logprobs)
        if score >= self.threshold:
            return Verdict(True), score
        return Verdict(False, f"critic says no (P(yes)={score:.2f} < {self.threshold:g})"), score

    def check(self, task: Task, answer: str) -> Verdict:
        """The judge's verdict."""
        return self.judge(task, answer)[0]
