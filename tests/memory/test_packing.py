"""Packing memories into a prompt budget: order, limits, and the record of what was cut."""

from __future__ import annotations

import pytest

from accord.memory.packing import HEADER, Candidate, approx_tokens, pack


def cand(ref: str, text: str, relevance: float, recency: float, **kw: object) -> Candidate:
    return Candidate(ref, kw.pop("kind", "fact"), text, relevance, recency, **kw)  # type: ignore[arg-type]


def test_most_relevant_first_then_most_recent() -> None:
    packed = pack(
        [
            cand("old", "spiders have eight legs", 0.9, 0.0),
            cand("new", "spiders are arachnids", 0.9, 1.0),
            cand("off", "paris is in france", 0.1, 1.0),
        ],
        budget=200,
    )
    lines = packed.text.splitlines()
    assert lines[0] == HEADER
    assert [e.ref for e in packed.entries] == ["new", "old", "off"]
    assert "arachnids" in lines[1] and "eight legs" in lines[2]
    assert packed.refs("included") == ["new", "old", "off"]


@pytest.mark.parametrize("budget", [0, 5, 12, 20, 33, 47, 80, 400])
def test_never_exceeds_budget_and_accounts_for_everything(budget: int) -> None:
    cands = [cand(f"m{i}", " ".join(["word"] * (3 + 4 * i)), 1 - i / 10, i / 10) for i in range(8)]
    packed = pack(cands, budget)
    assert approx_tokens(packed.text) <= budget
    assert packed.used <= budget
    assert sorted(e.ref for e in packed.entries) == sorted(c.ref for c in cands)
    assert sum(e.tokens for e in packed.entries) <= packed.used


def test_what_does_not_fit_is_summarised_or_left_out_and_said_so() -> None:
    long = " ".join(f"w{i}" for i in range(60))
    cands = [
        cand("a", "short fact one", 0.9, 1.0),
        cand("b", long, 0.8, 0.5),
        cand("c", "another short fact", 0.1, 0.0),
        cand("d", "yet another fact", 0.05, 0.0),
    ]
    packed = pack(cands, budget=40)
    actions = {e.ref: e.action for e in packed.entries}
    assert actions["a"] == "included"
    assert actions["b"] == "summarised"
    assert "…" in packed.text
    omitted = [r for r, a in actions.items() if a == "omitted"]
    assert omitted, actions
    assert f"({len(omitted)} more left out)" in packed.text


def test_goals_and_verified_facts_outrank_equal_notes() -> None:
    packed = pack(
        [
            cand("n", "a note", 0.5, 0.5, kind="note"),
            cand("v", "a fact", 0.5, 0.5, verified=True),
            cand("g", "a goal", 0.5, 0.5, kind="goal"),
        ],
        budget=100,
    )
    assert [e.ref for e in packed.entries] == ["g", "v", "n"]
    assert "[fact (verified)] a fact" in packed.text


def test_nothing_to_pack_gives_no_text() -> None:
    assert pack([], 100).text == ""
    tiny = pack([cand("a", "text", 1.0, 1.0)], budget=2)
    assert tiny.text == "" and tiny.entries[0].action == "omitted"
