"""Working memory and the verified-fact rule."""

from __future__ import annotations

from accord.memory import WorkingMemory, verifies
from tests.memory.conftest import attempt, decision


def test_accepted_validated_decision_verifies() -> None:
    wm = WorkingMemory("r1")
    item = wm.add_fact("spiders have 8 legs", decision=decision("8"))
    assert item.verified and item.source == "validated"
    assert wm.facts(verified=True) == [item]


def test_accepted_consensus_decision_verifies() -> None:
    vote = decision(
        "8",
        path="escalated",
        stop_reason="settled",
        attempts=(attempt("6"), attempt("8"), attempt("8")),
    )
    assert wm_fact(vote).verified
    assert wm_fact(vote).source == "consensus"


def wm_fact(d: object) -> object:
    return WorkingMemory().add_fact("x", decision=d)  # type: ignore[arg-type]


def test_unresolved_invalid_or_missing_decisions_do_not_verify() -> None:
    assert not verifies(None)
    assert not verifies(decision(status="unresolved"))
    assert not verifies(decision(stop_reason="invalid"))
    # accepted on paper, but no valid attempt gave this answer
    assert not verifies(decision("8", attempts=(attempt("8", ok=False), attempt("6"))))
    wm = WorkingMemory()
    assert not wm.add_fact("claimed by a role").verified
    assert not wm.add_fact("guess", decision=decision(status="unresolved")).verified
    assert wm.facts(verified=True) == []
    assert len(wm.facts(verified=False)) == 2


def test_goals_results_and_status() -> None:
    wm = WorkingMemory("r", goals=["answer everything"])
    wm.set_status("t1", "running")
    wm.add_result("t1", "partial: 3 of 5")
    wm.set_status("t1", "accepted")
    assert wm.status("t1") == "accepted"
    assert [i.kind for i in wm.items()] == ["goal", "result", "status"]
    cands = wm.candidates([0.1, 0.2, 0.3])
    assert [c.recency for c in cands] == [0.0, 0.5, 1.0]
