"""RoleAgent: one role bound to one backend, answering tasks. Plain Python; Ray wraps it."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from accord.consensus.records import Attempt, AttemptKind, Task
from accord.errors import AccordError, BackendError
from accord.models.base import (
    Backend,
    Completion,
    CompletionRequest,
    Message,
    OptionScores,
    complete_many,
    create_backend,
)
from accord.roles.parse import parse_choice, parse_free, parse_number, parse_text
from accord.roles.prompt import RoleProfile, build_messages


def _normalise(logprobs: tuple[float, ...]) -> list[float]:
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def _pick(probs: list[float], temperature: float, seed: int) -> int:
    if temperature <= 0:
        return max(range(len(probs)), key=probs.__getitem__)
    sharpened = [p ** (1.0 / temperature) for p in probs]
    return random.Random(seed).choices(range(len(probs)), weights=sharpened)[0]


class RoleAgent:
    """Answers tasks as one role with one backend instance (one model per agent)."""

    def __init__(
        self,
        role: RoleProfile,
        backend: Backend | None = None,
        *,
        backend_name: str = "llama",
        backend_options: dict[str, object] | None = None,
    ) -> None:
        self.role = role
        self.backend = backend or create_backend(backend_name, **(backend_options or {}))

    def ping(self) -> str:
        """Liveness check: the role's name."""
        return self.role.name

    def node(self) -> str:
        """The Ray node this agent runs on ('local' outside Ray)."""
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"

    def attempt(
        self,
        task: Task,
        *,
        kind: Literal["primary", "voter"] = "primary",
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Attempt:
        """Answer `task` once: option scoring for choices, generation otherwise."""
        try:
            if task.choices:
                return self._choose(task, kind, temperature, seed)
            return self._generate(task, kind, temperature, seed)
        except AccordError:
            raise
        except Exception as exc:  # a backend's own failure becomes one error type
            name = getattr(self.backend, "name", type(self.backend).__name__)
            raise BackendError(name, f"{type(exc).__name__}: {exc}") from exc

    def attempts(
        self,
        task: Task,
        *,
        kind: Literal["primary", "voter"] = "voter",
        temperature: float = 0.0,
        seeds: Sequence[int],
    ) -> list[Attempt]:
        """Answer `task` once per seed in one call, the attempts in seed order.

        Each attempt is the one `attempt(task, kind=..., temperature=..., seed=seed)` gives.
        Generation goes through the backend's `complete_many` when it has one (the llama
        backend evaluates the prompt once for all seeds), else one completion per seed; a
        multiple-choice task is scored once and the seeds only pick among the options. Every
        attempt's `prompt_tokens` is the full prompt as sent; that the prompt's evaluation
        was shared shows in the backend's `Usage.cached_prompt_tokens` and in `model_ms`
        (each attempt's own time: the first carries the shared evaluation).
        """
        seeds = list(seeds)
        if not seeds:
            return []
        try:
            if task.choices:
                messages = build_messages(self.role, task)
                scores = self.backend.score(messages, task.choices)
                # The later seeds reuse the one scoring: no model time, nothing evaluated.
                usage = replace(
                    scores.usage, wall_ms=0.0, cached_prompt_tokens=scores.usage.prompt_tokens
                )
                shared = replace(scores, usage=usage)
                return [
                    self._chosen(
                        task, kind, temperature, seed, scores if i == 0 else shared, messages
                    )
                    for i, seed in enumerate(seeds)
                ]
            request = self._request(task, temperature, seeds[0])
            completions = complete_many(self.backend, request, seeds)
            return [
                self._generated(task, kind, temperature, seed, completion, request.messages)
                for seed, completion in zip(seeds, completions, strict=True)
            ]
        except AccordError:
            raise
        except Exception as exc:  # a backend's own failure becomes one error type
            name = getattr(self.backend, "name", type(self.backend).__name__)
            raise BackendError(name, f"{type(exc).__name__}: {exc}") from exc

    def _choose(self, task: Task, kind: AttemptKind, temperature: float, seed: int) -> Attempt:
        messages = build_messages(self.role, task)
        scores = self.backend.score(messages, task.choices)
        return self._chosen(task, kind, temperature, seed, scores, messages)

    def _chosen(
        self,
        task: Task,
        kind: AttemptKind,
        temperature: float,
        seed: int,
        scores: OptionScores,
        messages: Sequence[Message],
    ) -> Attempt:
        probs = _normalise(scores.logprobs)
        index = _pick(probs, temperature, seed)
        usage = scores.usage
        return Attempt(
            task_id=task.id,
            role=self.role.name,
            model=usage.model,
            answer=task.choices[index],
            raw=task.choices[index],
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            model_ms=usage.wall_ms,
            cached_prompt_tokens=usage.cached_prompt_tokens,
            seed=seed,
            temperature=temperature,
            kind=kind,
            option_prob=probs[index],
            messages=_pairs(messages),
        )

    def _request(self, task: Task, temperature: float, seed: int) -> CompletionRequest:
        return CompletionRequest(
            messages=build_messages(self.role, task),
            max_tokens=task.max_tokens,
            temperature=temperature,
            seed=seed,
        )

    def _generate(self, task: Task, kind: AttemptKind, temperature: float, seed: int) -> Attempt:
        request = self._request(task, temperature, seed)
        completion = self.backend.complete(request)
        return self._generated(task, kind, temperature, seed, completion, request.messages)

    def _generated(
        self,
        task: Task,
        kind: AttemptKind,
        temperature: float,
        seed: int,
        completion: Completion,
        messages: Sequence[Message],
    ) -> Attempt:
        lps = completion.token_logprobs
        usage = completion.usage
        return Attempt(
            task_id=task.id,
            role=self.role.name,
            model=usage.model,
            answer=read_answer(completion.text, task),
            raw=completion.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            model_ms=usage.wall_ms,
            cached_prompt_tokens=usage.cached_prompt_tokens,
            seed=seed,
            temperature=temperature,
            kind=kind,
            mean_logprob=sum(lps) / len(lps) if lps else None,
            min_logprob=min(lps) if lps else None,
            messages=_pairs(messages),
        )


def _pairs(messages: Sequence[Message]) -> tuple[tuple[str, str], ...]:
    return tuple((m.role, m.content) for m in messages)


def read_answer(raw: str, task: Task) -> str:
    """Parse `raw` according to the task's answer type."""
    if task.answer_type == "number":
        return parse_number(raw)
    if task.answer_type == "choice":
        return parse_choice(raw, task.choices)
    if task.answer_type == "free":
        return parse_free(raw)
    return parse_text(raw)
