"""Batched decoding on the real embedded model: K samples of one prompt in one llama.cpp batch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.models import CompletionRequest, Message, create_backend

pytestmark = pytest.mark.model

SEEDS = [101, 102, 103, 104, 105]


def _request(question: str) -> CompletionRequest:
    return CompletionRequest(
        messages=(Message("system", "You are the voter."), Message("user", question)),
        max_tokens=12,
        temperature=0.9,
    )


def _key(completions):
    return [(c.text, c.token_logprobs, c.usage.completion_tokens) for c in completions]


@pytest.fixture(scope="module")
def batched():
    backend = create_backend("llama", seed=0, n_threads=1)
    yield backend
    backend.close()


def test_k_samples_decode_together_and_bill_the_prompt_evaluation_once(batched) -> None:
    request = _request("Name a colour of the rainbow.")
    steps = batched.batched_steps
    out = batched.complete_many(request, SEEDS)
    assert len(out) == 5 and all(c.text for c in out)
    # one llama_decode per step serves every unfinished sample
    generated = sum(c.usage.completion_tokens for c in out)
    assert 0 < batched.batched_steps - steps <= max(c.usage.completion_tokens for c in out)
    assert batched.batched_steps - steps < generated
    prompt = out[0].usage.prompt_tokens
    assert all(c.usage.prompt_tokens == prompt for c in out)
    assert [c.usage.cached_prompt_tokens for c in out[1:]] == [prompt] * 4
    assert len({c.text for c in out}) > 1, "different seeds gave one sample"


def test_batched_samples_are_reproducible_whatever_ran_before(batched) -> None:
    request = _request("Is a tomato a fruit? Answer yes or no, then say why.")
    first = batched.complete_many(request, SEEDS)
    # unrelated work in between: other prompts (batched and not), option scoring
    other = _request("What is 7 times 6?")
    batched.complete_many(other, [1, 2, 3])
    batched.complete(replace(other, seed=4))
    batched.score((Message("user", "Pick one."),), ("red", "blue"))
    assert _key(batched.complete_many(request, SEEDS)) == _key(first)
    # and a backend that never saw anything else, evaluating the prompt afresh
    fresh = create_backend("llama", seed=0, n_threads=1, prompt_cache=0)
    try:
        assert _key(fresh.complete_many(request, SEEDS)) == _key(first)
    finally:
        fresh.close()


def test_a_batch_after_a_single_answer_to_the_same_prompt(batched) -> None:
    """The prompt is still in place with that answer's cells after it: they must go."""
    request = _request("Name a bird that cannot fly.")
    fresh = create_backend("llama", seed=0, n_threads=1, prompt_cache=0)
    try:
        expected = _key(fresh.complete_many(request, SEEDS[:3]))
    finally:
        fresh.close()
    batched.complete(replace(request, seed=7))
    assert _key(batched.complete_many(request, SEEDS[:3])) == expected


def test_one_sample_at_a_time_stays_exactly_the_single_completion(batched) -> None:
    request = _request("Name a large animal.")
    one = create_backend("llama", seed=0, n_threads=1, batch_sequences=1)
    try:
        many = one.complete_many(request, SEEDS[:3])
        singles = [batched.complete(replace(request, seed=s)) for s in SEEDS[:3]]
        assert _key(many) == _key(singles)
        assert one.batched_steps == 0
    finally:
        one.close()


def test_groups_shrink_to_what_the_context_holds() -> None:
    small = create_backend("llama", seed=0, n_threads=1, n_ctx=128)
    try:
        request = replace(_request("Tell me about the sea."), max_tokens=40)
        out = small.complete_many(request, SEEDS)
        assert len(out) == 5 and all(c.usage.completion_tokens > 0 for c in out)
        again = small.complete_many(request, SEEDS)
        assert _key(again) == _key(out)
    finally:
        small.close()
