"""The consensus engine end to end on the real embedded models (SmolLM2 -> Gemma-3 cascade)."""

from __future__ import annotations

import duckdb
import pytest

from accord.consensus.cascade import certainty
from accord.crews.crew import Crew

pytestmark = pytest.mark.model

CREW = """
name: engine-embedded
seed: 5
models:
  small: {backend: llama, model: smollm2}
  medium: {backend: llama, model: gemma3}
roles:
  - {name: solver, model: small, instructions: Give only the answer.}
  - {name: judge, model: small, goal: check whether answers are correct}
policy: {kind: adaptive, threshold: 0.7, k: 3, stopping: beta@0.9, on_invalid: both}
cascade: {tiers: [medium]}
budget: {tokens_per_decision: 2500}
tasks:
  - id: capital
    question: What is the capital of France?
    choices: [Paris, Rome, Berlin]
    validators: [{critic: {role: judge, threshold: 0.3}}]
    expected: Paris
  - id: sum
    question: What is 3 plus 4?
    answer_type: number
    max_tokens: 12
    expected: "7"
"""


def test_retry_critic_vote_and_cascade_on_the_embedded_models(tmp_path) -> None:
    path = tmp_path / "crew.yaml"
    path.write_text(CREW)
    db = tmp_path / "ledger.duckdb"
    result = Crew.from_yaml(path).run(db=db, pool="local")
    capital, total = result["capital"], result["sum"]
    # the critic role judged the capital answer on the real model, and its cost is recorded
    judged = [a for a in capital.attempts if a.kind == "critic"]
    assert judged and all(a.role == "judge" and a.tokens > 0 for a in judged)
    assert capital.attempts[0].critic_score is not None
    for decision in result.decisions:
        tier1 = [a for a in decision.attempts if a.model == "smollm2-135m"]
        climbed = any(a.model == "gemma3-270m" for a in decision.attempts)
        assert tier1 and decision.tokens <= 2500 + max(a.tokens for a in decision.attempts)
        # a decision stays on tier 1 only when it was accepted and sure enough there
        if not climbed:
            assert decision.status == "accepted" and certainty(decision) >= 0.7
        assert decision.stop_reason.startswith(("tier1:", "tier2:"))
    con = duckdb.connect(str(db), read_only=True)
    n = con.execute("SELECT count(*) FROM attempts WHERE run_id = ?", [result.run_id]).fetchone()
    con.close()
    assert n is not None and n[0] == len(capital.attempts) + len(total.attempts)
