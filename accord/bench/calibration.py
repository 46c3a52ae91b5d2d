"""Calibration from labelled ledger history: reliability per estimator and a learned threshold.

The history is the ledger's primary attempts (kind 'primary') joined to their decisions whose
`correct` is known. For each estimator the primary's confidence is recomputed from the stored
signals (raw text, option probability, mean token log-prob). An adaptive policy with threshold t
is then replayed item by item: the primary is accepted when it was valid and its confidence is
>= t (its own correctness and tokens count); otherwise the decision's escalated outcome counts
(its correctness and all its tokens) when the history escalated, else the primary's own.
History decided by a threshold lower than t therefore under-states the cost of escalating; a
run with a high threshold (every item escalated) gives the full picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accord.consensus.confidence import build_estimator
from accord.consensus.normalise import number_value
from accord.consensus.policy import PolicySpec
from accord.consensus.records import Attempt, Task
from accord.crews.scoring import is_correct
from accord.errors import ConfigError

DEFAULT_ESTIMATORS = ("auto", "option_prob", "token_mean", "verbalised")

# The first primary attempt of each labelled decision (a cascade has one per tier), and how
# many answers the decision drew in all: more than one means the history followed the primary
# up (a retry, a vote, a higher tier), and the decision's outcome is what that cost and gave.
HISTORY_SQL = """
    SELECT a.run_id, a.task_id, a.answer, a.raw, a.option_prob, a.mean_logprob, a.verdict_ok,
           a.critic_score,
           a.prompt_tokens + a.completion_tokens + (
               -- critic roles that judged this primary (recorded right after it): accepting
               -- the primary costs their tokens too
               SELECT coalesce(sum(c.prompt_tokens + c.completion_tokens), 0) FROM attempts c
               WHERE c.run_id = a.run_id AND c.task_id = a.task_id AND c.kind = 'critic'
                 AND c.attempt_no > a.attempt_no
                 AND c.attempt_no < coalesce((
                     SELECT min(y.attempt_no) FROM attempts y
                     WHERE y.run_id = a.run_id AND y.task_id = a.task_id
                       AND y.kind IN ('primary', 'voter', 'retry')
                       AND y.attempt_no > a.attempt_no), 2147483647)
           ) AS primary_tokens, d.answer AS decision_answer,
           d.correct, d.expected, d.path, d.prompt_tokens + d.completion_tokens AS decision_tokens,
           (SELECT count(*) FROM attempts x WHERE x.run_id = a.run_id AND x.task_id = a.task_id
              AND x.kind IN ('primary', 'voter', 'retry')) AS answers
    FROM attempts a JOIN decisions d USING (run_id, task_id)
    WHERE a.kind = 'primary' AND d.correct IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY a.run_id, a.task_id ORDER BY a.attempt_no) = 1
    ORDER BY a.run_id, a.task_id"""

# estimators whose signal the ledger does not store (their replay would be all zeros)
UNSTORED = {"token_min": "the ledger does not store each attempt's lowest token log-prob"}


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled decision: the primary attempt and, when it escalated, the final outcome."""

    attempt: Attempt
    valid: bool
    primary_correct: bool
    primary_tokens: int
    escalated_correct: bool | None
    escalated_tokens: int | None


@dataclass(frozen=True, slots=True)
class Bin:
    """One reliability bin: its range, size, mean confidence and accuracy."""

    low: float
    high: float
    n: int
    confidence: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class Reliability:
    """An estimator's reliability over the history: the bins and the expected calibration error."""

    estimator: str
    bins: tuple[Bin, ...]
    ece: float
    n: int


@dataclass(frozen=True, slots=True)
class Point:
    """The replayed adaptive policy at one threshold."""

    estimator: str
    threshold: float
    accuracy: float
    tokens_per_item: float
    accepted: float


def _primary_correct(row: dict[str, Any]) -> bool:
    if row["answer"] == row["decision_answer"]:
        return bool(row["correct"])
    expected = [e for e in str(row["expected"] or "").split(" | ") if e]
    answer = str(row["answer"] or "")
    if is_correct(answer, expected, "text"):
        return True
    # the ledger does not store the answer type: an answer that is a number, in digits or in
    # words ("4.0", "seven"), matches a label that is the same number
    value = number_value(answer)
    return value is not None and any(value == number_value(e) for e in expected)


def _item(row: dict[str, Any]) -> Item:
    attempt = Attempt(
        task_id=str(row["task_id"]),
        role="primary",
        model="-",
        answer=str(row["answer"] or ""),
        raw=str(row["raw"] or ""),
        prompt_tokens=int(row["primary_tokens"]),
        completion_tokens=0,
        model_ms=0.0,
        seed=0,
        temperature=0.0,
        option_prob=row["option_prob"],
        mean_logprob=row["mean_logprob"],
        critic_score=row.get("critic_score"),
    )
    escalated = row["path"] == "escalated" or int(row.get("answers") or 1) > 1
    return Item(
        attempt,
        bool(row["verdict_ok"]),
        _primary_correct(row),
        int(row["primary_tokens"]),
        bool(row["correct"]) if escalated else None,
        int(row["decision_tokens"]) if escalated else None,
    )


def load_history(db: str | Path) -> list[Item]:
    """The labelled primary attempts in the ledger at `db`."""
    from accord.ledger.reader import open_readonly

    with open_readonly(db) as conn:
        cursor = conn.execute(HISTORY_SQL)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    if not rows:
        raise ConfigError(
            "no labelled history: no primary attempt has a decision with a known `correct`",
            path=db,
            hint="run a crew whose tasks have `expected` answers, with an adaptive policy",
        )
    return [_item(r) for r in rows]


def history_policy(db: str | Path) -> PolicySpec | None:
    """The crew policy of the latest labelled run: how the history escalated (k, voters, ...)."""
    import json

    from accord.ledger.reader import open_readonly

    with open_readonly(db) as conn:
        rows = conn.execute("""
            SELECT r.config FROM runs r WHERE r.run_id IN (
                SELECT run_id FROM decisions WHERE correct IS NOT NULL)
            ORDER BY r.started_at DESC""").fetchall()
    policies = []
    for (config,) in rows:
        try:
            policies.append(PolicySpec.model_validate(json.loads(config)["policy"]))
        except (TypeError, KeyError, ValueError):  # a config without a usable policy
            return None
    # runs of different crews or policies: none of them speaks for the whole history (its
    # voters may not even exist in another crew), so the defaults are kept
    return policies[0] if policies and all(p == policies[0] for p in policies) else None


def confidences(items: Sequence[Item], estimator: str) -> list[float]:
    """Each item's primary confidence under `estimator`."""
    for name, why in UNSTORED.items():
        if name in estimator.replace(":", ",").split(","):
            raise ConfigError(
                f"cannot calibrate {name!r}: {why}", hint="use option_prob, token_mean, critic, ..."
            )
    est = build_estimator(estimator)
    return [est.estimate(Task(id=i.attempt.task_id, prompt=""), i.attempt) for i in items]


def reliability(
    estimator: str, conf: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> Reliability:
    """Equal-width bins over [0, 1] and ECE = sum over bins of |accuracy - confidence| * share."""
    if bins < 1:
        raise ConfigError(f"bins must be >= 1, got {bins!r}")
    found: list[Bin] = []
    ece = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(conf) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if not members:
            continue
        mean_conf = sum(conf[i] for i in members) / len(members)
        accuracy = sum(correct[i] for i in members) / len(members)
        found.append(Bin(low, high, len(members), mean_conf, accuracy))
        ece += abs(accuracy - mean_conf) * len(members) / len(conf)
    return Reliability(estimator, tuple(found), ece, len(conf))


def replay(
    items: Sequence[Item], conf: Sequence[float], threshold: float, estimator: str = ""
) -> Point:
    """Accuracy and tokens per item of the adaptive policy at `threshold` on the history."""
    right = tokens = accepted = 0
    floor = threshold - 1e-9  # a confidence of 0.8999999999999999 is the candidate 0.9
    for item, c in zip(items, conf, strict=True):
        if (item.valid and c >= floor) or item.escalated_correct is None:
            right += item.primary_correct
            tokens += item.primary_tokens
            accepted += item.valid and c >= floor
        else:
            right += item.escalated_correct
            tokens += item.escalated_tokens or 0
    n = len(items)
    return Point(estimator, threshold, right / n, tokens / n, accepted / n)


def candidates(conf: Sequence[float]) -> list[float]:
    """Thresholds worth trying: 0, 1 and each confidence seen (floored to 4 decimals)."""
    return sorted({0.0, 1.0, *(math.floor(c * 10_000) / 10_000 for c in conf)})


Goal = Literal["accuracy", "tokens"]


def choose(
    points: Sequence[Point],
    *,
    target_accuracy: float | None = None,
    max_tokens: float | None = None,
) -> tuple[Point, bool]:
    """The best point and whether it meets the goal.

    With `target_accuracy`: the cheapest point reaching it (else the most accurate). With
    `max_tokens`: the most accurate point within the cap (else the cheapest).
    """
    if (target_accuracy is None) == (max_tokens is None):
        raise ConfigError("give exactly one of --target-accuracy or --max-tokens-per-item")
    if target_accuracy is not None:
        ok = [p for p in points if p.accuracy >= target_accuracy - 1e-12]
        if ok:
            return min(ok, key=lambda p: (p.tokens_per_item, -p.accuracy, p.threshold)), True
        return max(points, key=lambda p: (p.accuracy, -p.tokens_per_item)), False
    within = [p for p in points if p.tokens_per_item <= max_tokens]  # type: ignore[operator]
    if within:
        return max(within, key=lambda p: (p.accuracy, -p.tokens_per_item, -p.threshold)), True
    return min(points, key=lambda p: (p.tokens_per_item, -p.accuracy)), False


@dataclass(frozen=True, slots=True)
class Calibration:
    """Everything `accord calibrate` reports: reliability per estimator, the sweep, the choice."""

    items: int
    reliabilities: tuple[Reliability, ...]
    points: tuple[Point, ...]
    chosen: Point
    meets_goal: bool

    def policy(self, base: PolicySpec | None = None) -> PolicySpec:
        """The adaptive policy with the chosen estimator and threshold."""
        base = base or PolicySpec()
        return base.model_copy(
            update={
                "kind": "adaptive",
                "threshold": self.chosen.threshold,
                "confidence": self.chosen.estimator,
            }
        )


def calibrate(
    items: Sequence[Item],
    estimators: Sequence[str] = DEFAULT_ESTIMATORS,
    *,
    bins: int = 10,
    target_accuracy: float | None = None,
    max_tokens: float | None = None,
) -> Calibration:
    """Reliability of each estimator and the best threshold over all of them."""
    if not items:
        raise ConfigError("no labelled history to calibrate on")
    correct = [i.primary_correct for i in items]
    reliabilities: list[Reliability] = []
    points: list[Point] = []
    for name in estimators:
        conf = confidences(items, name)
        reliabilities.append(reliability(name, conf, correct, bins))
        points.extend(replay(items, conf, t, name) for t in candidates(conf))
    chosen, meets = choose(points, target_accuracy=target_accuracy, max_tokens=max_tokens)
    return Calibration(len(items), tuple(reliabilities), tuple(points), chosen, meets)


def write_policy(
    calibration: Calibration, path: str | Path, base: PolicySpec | None = None
) -> PolicySpec:
    """Write the chosen policy as YAML (loadable as a PolicySpec), with what it was chosen on."""
    import yaml

    policy = calibration.policy(base)
    chosen = calibration.chosen
    header = (
        f"# chosen by `accord calibrate` on {calibration.items} labelled decisions:\n"
        f"# estimated accuracy {chosen.accuracy:.3f}, {chosen.tokens_per_item:.1f} tokens "
        f"per item, {chosen.accepted:.0%} accepted without a vote"
        f"{'' if calibration.meets_goal else ' (GOAL NOT MET on this history)'}\n"
    )
    body = yaml.safe_dump(policy.model_dump(exclude_none=True), sort_keys=False)
    try:
        Path(path).write_text(header + body)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the policy: {exc.strerror}", path=path, hint="pass --out FILE.yaml"
        ) from None
    return policy


def load_policy(path: str | Path) -> PolicySpec:
    """A PolicySpec from a YAML file such as `write_policy` writes."""
    import yaml

    try:
        return PolicySpec.model_validate(yaml.safe_load(Path(path).read_text()))
    except OSError as exc:
        raise ConfigError(f"cannot read policy: {exc.strerror}", path=path) from None


def plot_reliability(reliabilities: Sequence[Reliability], path: str | Path) -> Path:
    """A reliability diagram (accuracy against confidence per bin, one line per estimator)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for rel in reliabilities:
        xs = [b.confidence for b in rel.bins]
        ys = [b.accuracy for b in rel.bins]
        ax.plot(xs, ys, marker="o", label=f"{rel.estimator} (ECE {rel.ece:.3f})")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence",
        ylabel="accuracy",
        title="Reliability of the primary answer",
    )
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    try:
        if path.suffix.lower() != ".png":
            raise ValueError("the reliability diagram is a PNG")
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot write the diagram: {getattr(exc, 'strerror', None) or exc}",
            path=path,
            hint="pass --plot FILE.png in an existing folder",
        ) from None
    finally:
        plt.close(fig)
    return path
