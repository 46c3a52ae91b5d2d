"""The `critic` validator: another model judges the answer, yes or no, scored by log-probs.

A critic is either a judge backend built by the validator (`critic: {backend: llama}`), checked
in line, or a role of the crew (`critic: {role: critic}`): the coordinator then asks that role
through the pool (a Ray actor like any other role, called asynchronously), records the critic's
attempt and its cost, and keeps its score on the judged attempt (the `critic` confidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from accord.consensus.records import Attempt, Task, Verdict
from accord.consensus.validators import validators
from accord.errors import ConfigError
from accord.models.base import Backend, Message, create_backend

QUESTION = "Question: {question}\nProposed answer: {answer}\nIs this answer correct? yes/no"
SYSTEM = "You check answers. Reply with one word: yes or no."
OPTIONS = ("yes", "no")


def critic_task(task: Task, answer: str) -> Task:
    """The yes/no question a critic role is asked about `answer` to `task`."""
    return Task(
        id=f"{task.id}#critic",
        prompt=QUESTION.format(question=task.prompt, answer=answer),
        answer_type="choice",
        choices=OPTIONS,
        max_tokens=4,
    )


SAME = (
    "Question: {question}\nAnswer A: {first}\nAnswer B: {second}\n"
    "Do answers A and B say the same thing (the same final answer or meaning)? yes/no"
)


def same_task(task: Task, first: str, second: str) -> Task:
    """The yes/no question a judge role is asked: do `first` and `second` agree?"""
    return Task(
        id=f"{task.id}#judge",
        prompt=SAME.format(question=task.prompt, first=first, second=second),
        answer_type="choice",
        choices=OPTIONS,
        max_tokens=4,
    )


def critic_score(attempt: Attempt) -> float:
    """P(yes) from a critic role's attempt: its option probability, turned round for `no`."""
    said_yes = attempt.answer.strip().lower() == "yes"
    if attempt.option_prob is None:
        return 1.0 if said_yes else 0.0
    return attempt.option_prob if said_yes else 1.0 - attempt.option_prob


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
        role: str | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"critic threshold must be in [0, 1], got {threshold!r}")
        self.role = role
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
        return self.verdict(score), score

    def verdict(self, score: float) -> Verdict:
        """Pass when P(yes) reaches the threshold."""
        if score >= self.threshold:
            return Verdict(True)
        return Verdict(False, f"critic says no (P(yes)={score:.2f} < {self.threshold:g})")

    def check(self, task: Task, answer: str) -> Verdict:
        """The judge's verdict (a role-bound critic is run by the coordinator, not here)."""
        if self.role:
            raise ConfigError(
                f"the critic role {self.role!r} can only judge inside a crew's coordinator",
                hint="use `critic: {backend: ...}` for a stand-alone judge",
            )
        return self.judge(task, answer)[0]
