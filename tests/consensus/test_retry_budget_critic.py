"""Retry with the rejection reason fed back, money/time/run budgets, and a critic role."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.consensus import BudgetSpec, Coordinator, PolicySpec, Task
from accord.consensus.critic import Critic
from accord.consensus.spending import RunSpend
from accord.consensus.validators import default_validators
from accord.errors import ConfigError
from accord.models.base import CompletionRequest
from accord.models.pricing import Price, PriceTable
from accord.models.scripted import Scripted
from accord.testing import scripted_pool

NUM = Task(id="n", prompt="What is 2 plus 2?", answer_type="number")
MC = Task(id="q", prompt="Which is bigger?", answer_type="choice", choices=("a", "b", "c"))


def feedback_aware(request: CompletionRequest) -> str:
    """Answers in words first; with the rejection reason in the prompt, as a number."""
    return "4" if "It was rejected" in request.messages[-1].content else "four-ish"


def run(coordinator: Coordinator, task: Task, policy: PolicySpec | None = None):
    return asyncio.run(coordinator.decide(task, policy))


@pytest.mark.parametrize("on_invalid", ["retry", "both"])
def test_invalid_answer_is_retried_with_the_reason_in_the_prompt(on_invalid: str) -> None:
    seen: list[str] = []

    def solver(request: CompletionRequest) -> str:
        seen.append(request.messages[-1].content)
        return feedback_aware(request)

    pool = scripted_pool({"solver": solver, "voter": {"2 plus 2": "5"}})
    policy = PolicySpec(kind="adaptive", threshold=0.5, on_invalid=on_invalid, voters=["voter"])
    d = run(Coordinator(pool, policy=policy), NUM)
    assert [a.kind for a in d.attempts] == ["primary", "retry"]
    assert (d.answer, d.status, d.stop_reason) == ("4", "accepted", "confident")
    assert "Your previous answer was: four-ish\nIt was rejected: nonempty: empty" in seen[1]


def test_retry_only_leaves_a_still_invalid_answer_unresolved_without_a_vote() -> None:
    pool = scripted_pool({"solver": {"2 plus 2": "dunno"}, "voter": {"2 plus 2": "4"}})
    policy = PolicySpec(on_invalid="retry", retries=2, voters=["voter"])
    d = run(Coordinator(pool, policy=policy), NUM)
    assert [a.kind for a in d.attempts] == ["primary", "retry", "retry"]
    assert (d.status, d.stop_reason, d.path) == ("unresolved", "invalid", "single")


def test_both_retries_then_escalates_and_k_bounds_every_answer_attempt() -> None:
    pool = scripted_pool({"solver": {"2 plus 2": "dunno"}, "voter": {"2 plus 2": "4"}})
    policy = PolicySpec(on_invalid="both", retries=1, k=4, stopping="fixed", voters=["voter"])
    d = run(Coordinator(pool, policy=policy), NUM)
    assert [a.kind for a in d.attempts] == ["primary", "retry", "voter", "voter"]
    assert (d.answer, d.path, d.status) == ("4", "escalated", "accepted")


def test_escalate_default_does_not_retry() -> None:
    pool = scripted_pool({"solver": {"2 plus 2": "dunno"}, "voter": {"2 plus 2": "4"}})
    d = run(Coordinator(pool, policy=PolicySpec(k=3, voters=["voter"])), NUM)
    assert "retry" not in {a.kind for a in d.attempts}


def priced(usd_per_mtok: float) -> PriceTable:
    return PriceTable({"scripted": Price(usd_per_mtok, usd_per_mtok)})


def test_money_budget_per_decision_stops_the_vote_with_the_best_answer_marked() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.5)}, "voter": {"bigger": ["b", "b", "c"]}}
    )
    # a scored multiple-choice attempt here costs ~65 tokens: at 1000 USD/Mtok ~0.065 USD
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=9, voters=["voter"], stopping="fixed"),
        budget=BudgetSpec(usd_per_decision=0.15),
        prices=priced(1000.0),
    )
    d = run(coordinator, MC)
    assert d.stop_reason == "budget:usd_per_decision" and d.over_budget
    assert 2 <= len(d.attempts) < 9
    spent = sum(coordinator.spend.usd_of(a) for a in d.attempts)
    assert spent >= 0.15 and spent - coordinator.spend.usd_of(d.attempts[-1]) < 0.15
    assert d.status == "accepted" and d.answer in {"a", "b", "c"}
    assert coordinator.spend.usd == pytest.approx(spent)


def test_free_models_never_reach_a_money_budget() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.5)}, "voter": {"bigger": "b"}})
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=5, voters=["voter"], stopping="fixed"),
        budget=BudgetSpec(usd_per_decision=0.0001),
    )
    d = run(coordinator, MC)
    assert d.stop_reason == "k_max" and len(d.attempts) == 5


def test_time_budget_abandons_slow_attempts_and_returns_what_it_has() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.5)}, "voter": {"bigger": "b"}},
        latency_s=0.15,
        threads=True,
    )
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=9, voters=["voter"], stopping="fixed"),
        budget=BudgetSpec(seconds_per_decision=0.25),
    )
    d = run(coordinator, MC)
    assert d.over_budget and d.stop_reason.startswith("budget:seconds")
    assert d.wall_ms < 1500
    assert d.attempts[0].answer == "a"  # the primary came back in time
    abandoned = [a for a in d.attempts if "abandoned at the time budget" in a.verdict.reason]
    assert abandoned and all(a.tokens == 0 for a in abandoned)
    assert d.answer in {"a", "b"}


def test_run_budget_ends_decisions_in_flight_and_skips_later_ones() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.5)}, "voter": {"bigger": "b"}})
    spend = RunSpend(BudgetSpec(tokens_per_run=40))
    coordinator = Coordinator(
        pool, policy=PolicySpec(k=9, voters=["voter"], stopping="fixed"), spend=spend
    )
    first = run(coordinator, MC)
    assert first.stop_reason == "budget:tokens_per_run" and len(first.attempts) < 9
    second = run(coordinator, MC)
    assert second.stop_reason == "budget:tokens_per_run" and second.attempts == ()
    assert spend.tokens == first.tokens


def critic_pool(verdict: str, prob: float = 0.9):
    return scripted_pool(
        {
            "solver": {"bigger": Scripted("b", 0.95)},
            "voter": {"bigger": "c"},
            "judge": {"Proposed answer": Scripted(verdict, prob)},
        }
    )


def with_critic(**options):
    return lambda task: [*default_validators(task), Critic(role="judge", **options)]


def test_critic_role_passes_an_answer_and_its_score_is_a_confidence() -> None:
    coordinator = Coordinator(
        critic_pool("yes", 0.8),
        policy=PolicySpec(threshold=0.7, confidence="critic"),
        validators_for=with_critic(),
    )
    d = run(coordinator, MC)
    assert [a.kind for a in d.attempts] == ["primary", "critic"]
    assert d.attempts[0].critic_score == pytest.approx(0.8)
    assert d.confidence == pytest.approx(0.8) and d.stop_reason == "confident"
    assert d.attempts[1].role == "judge" and d.attempts[1].task_id == "q"


def test_critic_role_rejection_escalates_and_the_critic_does_not_vote() -> None:
    coordinator = Coordinator(
        critic_pool("no", 0.9),
        policy=PolicySpec(threshold=0.5, k=3, stopping="fixed"),
        validators_for=with_critic(threshold=0.5),
    )
    d = run(coordinator, MC)
    first = d.attempts[0]
    assert not first.verdict.ok and "critic says no" in first.verdict.reason
    assert first.critic_score == pytest.approx(0.1)
    assert d.path == "escalated"
    assert {a.role for a in d.attempts if a.kind == "voter"} <= {"solver", "voter"}
    assert d.status == "unresolved"  # the judge rejects every answer


def test_combined_confidence_with_critic_takes_the_lower() -> None:
    coordinator = Coordinator(
        critic_pool("yes", 0.6),
        policy=PolicySpec(threshold=0.7, confidence="min:option_prob,critic", k=3),
        validators_for=with_critic(),
    )
    d = run(coordinator, MC)
    assert d.attempts[0].confidence == pytest.approx(0.6)
    assert d.path == "escalated"


def test_unknown_critic_role_is_a_config_error() -> None:
    coordinator = Coordinator(critic_pool("yes"), validators_for=lambda t: [Critic(role="nobody")])
    with pytest.raises(ConfigError, match="critic role 'nobody'"):
        run(coordinator, MC)


def test_role_critic_cannot_check_outside_a_coordinator() -> None:
    with pytest.raises(ConfigError, match="inside a crew's coordinator"):
        Critic(role="judge").check(MC, "b")


CREW = """
name: guarded
models:
  fake:
    backend: scripted
    options:
      script:
        "Proposed answer: 4": {text: "yes", prob: 0.9}
        "Proposed answer": {text: "no", prob: 0.9}
        "It was rejected": "4"
        "2 plus 2": "about four"
        "3 plus 3": {text: "6", prob: 0.3}
roles:
  - {name: solver, model: fake}
  - {name: judge, model: fake}
prices:
  scripted: {prompt_usd_per_mtok: 1000, completion_usd_per_mtok: 1000}
policy: {kind: adaptive, threshold: 0.8, k: 7, stopping: fixed, on_invalid: both}
budget: {usd_per_decision: 0.05}
tasks:
  - id: sum
    question: What is 2 plus 2?
    answer_type: number
    validators: [{critic: {role: judge}}]
  - id: six
    question: What is 3 plus 3?
    answer_type: number
"""


def test_yaml_crew_retries_judges_prices_and_marks_budget_stops(tmp_path) -> None:
    import duckdb

    from accord import Crew

    path = tmp_path / "crew.yaml"
    path.write_text(CREW)
    db = tmp_path / "ledger.duckdb"
    result = Crew.from_yaml(path).run(db=db, pool="local")
    assert (result["sum"].answer, result["sum"].status) == ("4", "accepted")
    assert [a.kind for a in result["sum"].attempts] == ["primary", "retry", "critic"]
    six = result["six"]
    assert six.over_budget and six.stop_reason == "budget:usd_per_decision"
    assert six.answer == "6" and len(six.attempts) < 7
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT task_id, kind, cost_usd FROM attempts WHERE run_id = ? ORDER BY task_id, kind",
        [result.run_id],
    ).fetchall()
    stops = dict(con.execute("SELECT task_id, stop_reason FROM decisions").fetchall())
    con.close()
    assert {k for t, k, _ in rows if t == "sum"} == {"primary", "retry", "critic"}
    assert all(usd > 0 for _, _, usd in rows)  # the crew's price reached the ledger
    assert stops["six"] == "budget:usd_per_decision"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 400),
    st.floats(0.0, 0.5),
    st.integers(1, 9),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5),
)
def test_a_vote_never_exceeds_k_max_nor_its_budgets_beyond_the_attempt_that_crossed_them(
    tokens: int, usd: float, k: int, answers: list[str]
) -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.4)}, "voter": {"bigger": [*answers]}}
    )
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=k, voters=["voter"], stopping="fixed", on_invalid="both"),
        budget=BudgetSpec(tokens_per_decision=tokens, usd_per_decision=usd),
        prices=priced(1000.0),
    )
    d = run(coordinator, MC)
    assert len(d.attempts) <= k
    # one voter replica: attempts run one at a time, so only the last may cross a limit
    before_last = d.attempts[:-1]
    assert sum(a.tokens for a in before_last) < max(tokens, 1)
    assert sum(coordinator.spend.usd_of(a) for a in before_last) < max(usd, 1e-12)
    if len(d.attempts) < k and d.stop_reason != "settled":
        assert d.over_budget


CASCADE_CREW = """
name: climbing
models:
  small:
    backend: scripted
    model: small-model
    options:
      model: small-model
      script:
        "capital": {text: "Lyon", prob: 0.3}
        "2 plus 2": {text: "4", prob: 0.95}
  large:
    backend: scripted
    options:
      model: large-model
      script:
        "capital": {text: "Paris", prob: 0.97}
roles:
  - {name: solver, model: small}
prices:
  large-model: {prompt_usd_per_mtok: 5000, completion_usd_per_mtok: 5000}
policy: {kind: adaptive, threshold: 0.8, k: 3, stopping: fixed}
cascade: {tiers: [large]}
tasks:
  - {id: easy, question: "What is 2 plus 2?", answer_type: number}
  - {id: hard, question: "What is the capital of France?"}
"""


def test_yaml_cascade_climbs_only_for_the_unsure_decision(tmp_path) -> None:
    import duckdb

    from accord import Crew

    path = tmp_path / "crew.yaml"
    path.write_text(CASCADE_CREW)
    db = tmp_path / "ledger.duckdb"
    result = Crew.from_yaml(path).run(db=db, pool="local")
    easy, hard = result["easy"], result["hard"]
    assert {a.model for a in easy.attempts} == {"small-model"} and easy.answer == "4"
    assert easy.stop_reason == "tier1:confident"
    assert hard.answer == "Paris" and hard.stop_reason == "tier2:confident"
    assert [a.model for a in hard.attempts][-1] == "large-model"
    con = duckdb.connect(str(db), read_only=True)
    cost = dict(
        con.execute(
            "SELECT model, sum(cost_usd) FROM attempts WHERE run_id = ? GROUP BY model",
            [result.run_id],
        ).fetchall()
    )
    con.close()
    assert cost["small-model"] == 0 and cost["large-model"] > 0


def test_cascade_tier_must_be_a_known_model(tmp_path) -> None:
    from accord.crews.loader import load_crew
    from accord.errors import ConfigError

    path = tmp_path / "crew.yaml"
    path.write_text(CASCADE_CREW.replace("tiers: [large]", "tiers: [larg]"))
    with pytest.raises(ConfigError, match="unknown model tier 'larg'") as err:
        load_crew(path)
    line = CASCADE_CREW.splitlines().index("cascade: {tiers: [large]}") + 1
    assert "did you mean 'large'" in str(err.value.hint) and err.value.line == line


@pytest.mark.parametrize(("batch", "calls"), [(1, 4), (2, 2), (4, 1), (8, 1)])
def test_batched_voters_draw_several_samples_per_call_within_k(batch: int, calls: int) -> None:
    pool = scripted_pool_like()
    made: list[int] = []
    many = pool.attempts

    async def counting(role, task, **kw):
        made.append(len(kw["seeds"]))
        return await many(role, task, **kw)

    pool.attempts = counting  # type: ignore[method-assign]
    policy = PolicySpec(k=5, voters=["voter"], stopping="fixed", batch=batch)
    one_by_one = run(
        Coordinator(scripted_pool_like(), policy=policy.model_copy(update={"batch": 1})), MC
    )
    d = run(Coordinator(pool, policy=policy), MC)
    assert len(d.attempts) == 5 and sum(made) == (4 if batch > 1 else 0)
    assert len(made) == (calls if batch > 1 else 0)
    # the same seeds whatever the batch: the same answers and the same majority
    assert [a.seed for a in d.attempts] == [a.seed for a in one_by_one.attempts]
    assert d.answer == one_by_one.answer


def scripted_pool_like():
    return scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.4)}, "voter": {"bigger": ["b", "c", "a", "b"]}}
    )


def test_a_confidence_weighted_vote_can_overrule_the_count() -> None:
    # two unsure votes for b against one sure vote for a (the primary, p=0.95 but below 0.99)
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.95)}, "voter": {"bigger": Scripted("b", 0.4)}}
    )
    base = PolicySpec(threshold=0.99, k=3, stopping="fixed", voters=["voter"], voter_temperature=0)
    by_count = run(Coordinator(pool, policy=base), MC)
    weighted = run(Coordinator(pool, policy=base.model_copy(update={"weighted": True})), MC)
    assert by_count.answer == "b"
    assert weighted.answer == "a"
    assert weighted.confidence == pytest.approx(0.95 / (0.95 + 0.8))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("xyz"), st.floats(0.0, 1.0)), min_size=1, max_size=9),
    st.randoms(),
)
def test_weighted_tally_is_order_invariant_and_leads_by_weight(votes, rnd) -> None:
    from accord.consensus.voting import Tally

    shuffled = list(votes)
    rnd.shuffle(shuffled)
    tally, again = Tally.of(votes, weighted=True), Tally.of(shuffled, weighted=True)
    assert [(a, n) for a, n, _ in tally.rows] == [(a, n) for a, n, _ in again.rows]
    weights = {a: sum(c for b, c in votes if b == a) for a, _ in votes}
    assert weights[tally.leader] == pytest.approx(max(weights.values()))


def test_a_validator_that_raises_marks_the_answer_invalid_and_the_vote_ends() -> None:
    def broken(task: Task) -> list:
        class Boom:
            name = "boom"

            def check(self, task, answer):
                raise ValueError("bad regex in user code")

        return [Boom()]

    pool = scripted_pool({"solver": {"bigger": "a"}, "voter": {"bigger": "b"}})
    policy = PolicySpec(k=5, voters=["voter"], stopping="fixed")
    d = run(Coordinator(pool, policy=policy, validators_for=broken), MC)
    assert len(d.attempts) == 5 and d.status == "unresolved"
    assert all("validation raised ValueError" in a.verdict.reason for a in d.attempts)


def test_a_config_error_inside_a_vote_is_raised_not_retried_forever() -> None:
    calls = []

    def picky(task: Task) -> list:
        class Strict:
            name = "strict"

            def check(self, task, answer):
                calls.append(answer)
                if answer == "b":
                    raise ConfigError("validator misconfigured")
                from accord.consensus.records import Verdict

                return Verdict(True)

        return [Strict()]

    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.3)}, "voter": {"bigger": "b"}})
    coordinator = Coordinator(pool, policy=PolicySpec(k=5, voters=["voter"]), validators_for=picky)
    with pytest.raises(ConfigError, match="misconfigured"):
        run(coordinator, MC)
    assert len(calls) <= 5


def tiered(tier2_script, budget: BudgetSpec | None = None):
    spend = RunSpend(budget or BudgetSpec())
    small = scripted_pool({"solver": {"bigger": Scripted("a", 0.5)}})
    large = scripted_pool({"solver": tier2_script})
    from accord.consensus.cascade import Cascade

    policy = PolicySpec(threshold=0.9, k=1, stopping="fixed")
    tiers = [Coordinator(p, policy=policy, spend=spend) for p in (small, large)]
    return Cascade(tiers, policy), spend


def test_a_cascade_keeps_the_lower_tiers_answer_when_the_top_tier_fails() -> None:
    def down(request):
        raise RuntimeError("upper tier is down")

    cascade, _ = tiered(down)
    d = asyncio.run(cascade.decide(MC))
    assert (d.answer, d.status) == ("a", "accepted")
    assert d.stop_reason.startswith("tier1:") and "(tier2:" in d.stop_reason
    assert d.path == "escalated" and len(d.attempts) == 2


def test_a_cascade_decision_budget_covers_every_tier() -> None:
    cascade, spend = tiered({"bigger": Scripted("b", 0.5)}, BudgetSpec(tokens_per_decision=1))
    d = asyncio.run(cascade.decide(MC))
    assert len(d.attempts) == 1  # tier 1 spent the decision's budget: no climb
    assert d.over_budget and spend.tokens == d.tokens


def test_a_misspelt_critic_role_fails_at_load_time_with_its_line(tmp_path) -> None:
    from accord.crews.loader import load_crew

    path = tmp_path / "crew.yaml"
    path.write_text(CREW.replace("{critic: {role: judge}}", "{critic: {role: jduge}}"))
    with pytest.raises(ConfigError, match="unknown role 'jduge'") as err:
        load_crew(path)
    assert (
        err.value.line == CREW.splitlines().index("    validators: [{critic: {role: judge}}]") + 1
    )
    assert "did you mean 'judge'" in str(err.value.hint)


def test_crew_prices_do_not_stay_on_a_ledger_shared_by_later_runs(tmp_path) -> None:
    from accord import Crew
    from accord.ledger import Ledger

    path = tmp_path / "crew.yaml"
    path.write_text(CREW)
    ledger = Ledger(tmp_path / "ledger.duckdb")
    before = ledger.prices
    Crew.from_yaml(path).run(ledger=ledger, pool="local")
    assert ledger.prices is before


def test_a_failing_resume_closes_every_pool_it_started(tmp_path, monkeypatch) -> None:
    from accord import Crew
    from accord.roles.pool import LocalPool

    closed: list[int] = []
    monkeypatch.setattr(LocalPool, "close", lambda self: closed.append(id(self)))
    path = tmp_path / "crew.yaml"
    path.write_text(CASCADE_CREW)
    with pytest.raises(ConfigError, match="no run 'nope'"):
        Crew.from_yaml(path).run(db=tmp_path / "l.duckdb", pool="local", resume="nope")
    assert len(closed) == 2  # both cascade tiers


def test_an_abandoned_attempt_keeps_its_replica_busy_until_it_really_ends() -> None:
    import threading

    running, most = [0], [0]
    lock = threading.Lock()

    def slow(request: CompletionRequest) -> str:
        import time

        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1
        return "b"

    pool = scripted_pool({"solver": slow}, threads=True)
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(k=3, stopping="fixed", threshold=1.0),
        budget=BudgetSpec(seconds_per_decision=0.05),
    )

    default_pool = [0]

    async def three() -> None:
        for _ in range(3):
            await coordinator.decide(MC)
            # calls queued behind an abandoned one wait in the agent's queue, not in
            # threads of asyncio's shared pool
            default_pool[0] = max(
                default_pool[0],
                sum(t.name.startswith("asyncio_") for t in threading.enumerate()),
            )
            await asyncio.sleep(0)

    asyncio.run(three())
    pool.close()
    assert most[0] == 1  # never two calls at once on the one replica
    assert default_pool[0] == 0


# Budget edge cases found in review: each failed before the fix.


def test_a_critic_is_not_asked_once_the_answer_used_up_the_budget() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("b", 0.95)}, "judge": {"Proposed answer": "yes"}}
    )
    coordinator = Coordinator(
        pool,
        policy=PolicySpec(kind="single"),
        budget=BudgetSpec(tokens_per_decision=1),
        validators_for=lambda t: [*default_validators(t), Critic(role="judge")],
    )
    decision = asyncio.run(coordinator.decide(MC))
    assert [a.kind for a in decision.attempts] == ["primary"]  # no critic call past the limit
    assert decision.stop_reason == "budget:tokens_per_decision" and decision.answer == "b"


def test_a_cascade_does_not_climb_once_the_decision_budget_is_spent() -> None:
    from accord.consensus.cascade import Cascade

    spend = RunSpend(BudgetSpec(tokens_per_decision=50))
    small = scripted_pool({"solver": {"bigger": Scripted("a", 0.7)}})
    large = scripted_pool({"solver": {"bigger": Scripted("b", 0.99)}})
    policy = PolicySpec(kind="adaptive", threshold=0.6, k=3)
    tiers = [Coordinator(p, policy=policy, spend=spend) for p in (small, large)]
    decision = asyncio.run(Cascade(tiers, policy, climb_below=0.9).decide(MC))
    assert len(decision.attempts) == 1  # tier 2 was not asked: the budget was gone
    assert decision.answer == "a" and decision.status == "accepted" and decision.over_budget


def test_a_single_answer_lost_to_the_time_budget_is_marked_as_a_budget_stop() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.9)}}, latency_s=0.3, threads=True)
    coordinator = Coordinator(
        pool, policy=PolicySpec(kind="single"), budget=BudgetSpec(seconds_per_decision=0.1)
    )
    decision = asyncio.run(coordinator.decide(MC))
    assert decision.stop_reason == "budget:seconds_per_decision" and decision.over_budget
    pool.close()


def test_a_batched_vote_is_not_drawn_past_the_token_budget() -> None:
    pool = scripted_pool(
        {"solver": {"bigger": Scripted("a", 0.4)}, "voter": {"bigger": ["b", "c", "a", "b"]}}
    )
    policy = PolicySpec(k=9, voters=["voter"], stopping="fixed", batch=8)
    decision = asyncio.run(
        Coordinator(pool, policy=policy, budget=BudgetSpec(tokens_per_decision=100)).decide(MC)
    )
    per_answer = decision.attempts[0].tokens
    assert decision.tokens < 100 + per_answer  # at most the one attempt that crossed it
    assert decision.stop_reason == "budget:tokens_per_decision"


def test_settled_counts_the_vote_slots_invalid_answers_took() -> None:
    pool = scripted_pool({"solver": {"2 plus 2": "dunno"}, "voter": {"2 plus 2": "4"}})
    policy = PolicySpec(on_invalid="both", retries=1, k=5, stopping="settled", voters=["voter"])
    decision = asyncio.run(Coordinator(pool, policy=policy).decide(NUM))
    kinds = [a.kind for a in decision.attempts]
    assert kinds == ["primary", "retry", "voter", "voter"]  # 2 votes to 0 with 1 slot left
    assert decision.answer == "4" and decision.stop_reason == "settled"


def test_a_one_vote_escalation_keeps_the_answers_own_confidence() -> None:
    pool = scripted_pool({"solver": {"bigger": Scripted("a", 0.3)}, "voter": {"bigger": "b"}})
    decision = asyncio.run(Coordinator(pool, policy=PolicySpec(k=1, threshold=0.6)).decide(MC))
    assert len(decision.attempts) == 1 and decision.path == "escalated"
    assert decision.confidence == pytest.approx(decision.attempts[0].confidence)
