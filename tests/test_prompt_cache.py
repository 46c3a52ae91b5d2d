"""The llama backend's exact prompt cache and `complete_many`, on the real embedded model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accord.models import CompletionRequest, Message, create_backend
from accord.models.llama import PromptCache, _PromptState

QUESTIONS = (
    "Which sentence has the correct adjective order: a big old red car, b red old big car?",
    "Is the following sentence plausible? Tom Brady threw a touchdown pass.",
)
SEEDS = (1, 2, 3)


def _request(question: str, seed: int = 0) -> CompletionRequest:
    return CompletionRequest(
        messages=(Message("system", "You are the solver."), Message("user", question)),
        max_tokens=10,
        temperature=0.9,
        seed=seed,
    )


def _key(completion):
    return completion.text, completion.token_logprobs


@pytest.fixture(scope="module")
def fresh():
    """Evaluates every prompt afresh: the reference."""
    return create_backend("llama", seed=0, prompt_cache=0, batch_sequences=1)


@pytest.fixture(scope="module")
def cached():
    """The exact cache; `complete_many` one sample after another (batched decoding is
    reproducible but not bit-identical: tests/test_batched_decoding.py)."""
    return create_backend("llama", seed=0, prompt_cache=4, batch_sequences=1)


@pytest.fixture(scope="module")
def reference(fresh):
    """(question, seed) -> the fresh completion."""
    return {(q, s): fresh.complete(_request(q, s)) for q in QUESTIONS for s in SEEDS}


@pytest.mark.model
def test_cached_samples_are_byte_identical_to_fresh_ones_and_seeds_still_differ(
    cached, reference
) -> None:
    hits = cached.prompt_cache.hits
    # Interleaved: the second question evicts the first from the context, so its later
    # samples come back from the saved state (not the prompt left in place).
    got = {}
    for s in SEEDS:
        for q in QUESTIONS:
            got[q, s] = cached.complete(_request(q, s))
    for (q, s), completion in got.items():
        assert _key(completion) == _key(reference[q, s]), (q, s)
        assert completion.usage.prompt_tokens == reference[q, s].usage.prompt_tokens
    assert reference[QUESTIONS[0], 1].usage.cached_prompt_tokens == 0
    # The first sample of each question was evaluated; every later one was restored.
    later = [got[q, s] for q in QUESTIONS for s in SEEDS[1:]]
    assert all(c.usage.cached_prompt_tokens == c.usage.prompt_tokens > 0 for c in later)
    assert cached.prompt_cache.hits - hits >= len(later)
    for q in QUESTIONS:
        assert len({got[q, s].text for s in SEEDS}) > 1, "different seeds gave one sample"


@pytest.mark.model
def test_complete_many_matches_complete_per_seed(cached, reference) -> None:
    for q in QUESTIONS:
        many = cached.complete_many(_request(q), SEEDS)
        assert [_key(c) for c in many] == [_key(reference[q, s]) for s in SEEDS]
        assert all(c.usage.cached_prompt_tokens == c.usage.prompt_tokens for c in many[1:])


@pytest.mark.model
def test_complete_many_evaluates_the_prompt_once_without_a_cache(fresh, reference) -> None:
    many = fresh.complete_many(_request(QUESTIONS[1]), SEEDS)
    assert [_key(c) for c in many] == [_key(reference[QUESTIONS[1], s]) for s in SEEDS]
    assert many[0].usage.cached_prompt_tokens == 0
    assert all(c.usage.cached_prompt_tokens == c.usage.prompt_tokens for c in many[1:])


@pytest.mark.model
def test_option_scores_are_identical_with_the_cache(cached, fresh) -> None:
    messages = (Message("user", "What is the capital of France?"),)
    options = ("Paris", "a banana")
    first = fresh.score(messages, options)
    cached.complete(CompletionRequest(messages=messages, max_tokens=4, temperature=0.5, seed=9))
    again = cached.score(messages, options)  # the prompt left in place by complete
    assert again.logprobs == first.logprobs
    assert again.usage.cached_prompt_tokens > 0
    # And a greedy completion after scoring is the fresh one.
    greedy = CompletionRequest(messages=messages, max_tokens=6)
    assert _key(cached.complete(greedy)) == _key(fresh.complete(greedy))


@pytest.mark.model
def test_prefix_reuse_is_inexact_which_is_why_it_stays_opt_in(fresh) -> None:
    """A reused prefix holding generated tokens (each evaluated alone while generating) is
    not what a fresh evaluation of the whole prompt computes; the comparisons above see it."""
    reuse = create_backend("llama", seed=0, prompt_cache=0, reuse_prefix=True)
    try:
        first = _request("Answer in one word. What colour is the sky on a clear day?", 5)
        answer = reuse.complete(first)
        turn = (Message("assistant", answer.text), Message("user", "Are you sure?"))
        second = replace(first, messages=first.messages + turn)
        reused = reuse.complete(second)
        assert reused.usage.cached_prompt_tokens > answer.usage.prompt_tokens
        assert reused.token_logprobs != fresh.complete(second).token_logprobs
    finally:
        reuse.close()


def _state(nbytes: int) -> _PromptState:
    import ctypes

    return _PromptState((ctypes.c_uint8 * nbytes)(), np.zeros(1, dtype=np.float32))


def test_prompt_cache_is_an_lru_bounded_in_entries_and_bytes() -> None:
    cache = PromptCache(entries=2, max_bytes=1000)
    cache.put((1,), _state(100))
    cache.put((2,), _state(100))
    assert cache.get((1,)) is not None  # (1,) is now the most recent
    cache.put((3,), _state(100))
    assert (2,) not in cache and (1,) in cache and (3,) in cache
    cache.put((4,), _state(900))  # over the byte bound with both others: they go
    assert list(cache._states) == [(4,)] and cache.nbytes == 904
    cache.put((5,), _state(2000))  # larger than the whole bound: not kept
    assert (5,) not in cache
    assert cache.get((9,)) is None and cache.misses == 1
    off = PromptCache(entries=0)
    off.put((1,), _state(1))
    assert len(off) == 0


@pytest.mark.model
def test_role_agent_attempts_on_the_model_equal_one_attempt_per_seed(cached, fresh) -> None:
    from accord.consensus.records import Task
    from accord.roles.agent import RoleAgent
    from accord.roles.prompt import RoleProfile

    role = RoleProfile("voter")
    task = Task(id="sum", prompt="What is 3 plus 4?", answer_type="number", max_tokens=8)
    one = RoleAgent(role, fresh)
    singles = [one.attempt(task, kind="voter", temperature=0.9, seed=s) for s in SEEDS]
    batch = RoleAgent(role, cached).attempts(task, kind="voter", temperature=0.9, seeds=SEEDS)
    untimed = [replace(a, model_ms=0.0, cached_prompt_tokens=0) for a in batch]
    assert untimed == [replace(a, model_ms=0.0) for a in singles]
    # the fresh agent evaluated every prompt; the batch evaluated it once
    assert all(a.cached_prompt_tokens == 0 for a in singles)
    assert [a.cached_prompt_tokens for a in batch[1:]] == [a.prompt_tokens for a in batch[1:]]
