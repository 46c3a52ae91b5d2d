"""How well votes group reasoning texts by meaning (issue 15's measure).

Takes recorded chain-of-thought completions (Faithful-CoT, `../shared/data/recorded`), several
per question from different models and prompting methods, and groups the whole completions with
each consensus mode. The truth is the grouping by the released final answers. Prints, per mode,
the adjusted Rand index against that grouping (1 = the same groups, 0 = chance) and how often
the mode's winning group is the released answers' majority.

    python benchmarks/grouping_quality.py [--data DIR] [--task gsm8k] [--items 100]
        [--judge-items 0]   # > 0: also the judge mode with the embedded SmolLM2 (slow)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import time
from collections import Counter
from math import comb
from pathlib import Path

from accord.consensus.extract import read_answer
from accord.consensus.grouping import FinalGrouper, JudgeGrouper, SemanticGrouper
from accord.consensus.normalise import canonical_number, number_value
from accord.consensus.records import Task
from accord.models.embed import get_embedder

METHODS = ("COT", "LtM", "standard")


def ari(truth: list[str], found: list[str]) -> float:
    """Adjusted Rand index of two labellings of the same items."""
    pairs = Counter(zip(truth, found, strict=True))
    a, b, n = Counter(truth), Counter(found), len(truth)
    index = sum(comb(c, 2) for c in pairs.values())
    rows, cols = sum(comb(c, 2) for c in a.values()), sum(comb(c, 2) for c in b.values())
    expected = rows * cols / comb(n, 2) if n > 1 else 0.0
    top = (rows + cols) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def _label(answer: str) -> str:
    """A released answer as a group label ('$18', '18.0' and '18' are one)."""
    read = read_answer(str(answer), "number")
    value = number_value(read if read is not None else str(answer))
    return canonical_number(value) if value is not None else str(answer).strip().lower()


def load(path: Path, items: int, seed: int) -> list[tuple[str, list[str], list[str]]]:
    """(question, completions, released answers) for `items` questions with >= 3 samples."""
    rows = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            row = json.loads(line)
            samples = [
                s for s in row["samples"]
                if s["method"] in METHODS and s["answer"] not in (None, "[invalid]") and s["text"]
            ]  # fmt: skip
            if len(samples) >= 3:
                rows.append((row["question"], [s["text"].strip() for s in samples],
                             [_label(s["answer"]) for s in samples]))  # fmt: skip
    random.Random(seed).shuffle(rows)
    return rows[:items]


def _winner(labels: list[str]) -> str:
    counts = Counter(labels)
    return min(counts, key=lambda k: (-counts[k], k))


async def score(grouper, rows, task_type: str) -> tuple[float, float, float]:
    """ARI over all completions (a group is a question's group), winner agreement and
    seconds per question of `grouper` on `rows`."""
    truth_all: list[str] = []
    found_all: list[str] = []
    agree, start = 0, time.perf_counter()
    for i, (question, texts, truth) in enumerate(rows):
        task = Task(id=f"q{i}", prompt=question, answer_type=task_type)  # type: ignore[arg-type]
        grouping = await grouper.group(task, texts)
        found = [grouping.key(t) for t in texts]
        truth_all += [f"{i}:{t}" for t in truth]
        found_all += [f"{i}:{f}" for f in found]
        won = _winner(found)
        agree += any(f == won and t == _winner(truth) for f, t in zip(found, truth, strict=True))
    n = len(rows)
    return ari(truth_all, found_all), agree / n, (time.perf_counter() - start) / n


def _llama_judge():
    from accord.consensus.critic import OPTIONS, SAME, yes_probability
    from accord.models.base import Message, create_backend

    backend = create_backend("llama")

    async def judge(first: str, second: str) -> float:
        prompt = SAME.format(question="(a maths word problem)", first=first[-600:],
                             second=second[-600:])  # fmt: skip
        messages = (Message("system", "Reply with one word: yes or no."), Message("user", prompt))
        return yes_probability(backend.score(messages, OPTIONS).logprobs)

    return judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/recorded"))
    parser.add_argument("--task", default="gsm8k")
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--judge-items", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = args.data / f"faithful_cot_{args.task}.jsonl.gz"
    if not path.exists():
        raise SystemExit(f"{path}: not found (pass --data DIR)")
    kind = "number" if args.task in ("gsm8k", "svamp", "multiarith") else "text"
    rows = load(path, args.items, args.seed)
    texts = sum(len(r[1]) for r in rows)
    print(f"{args.task}: {len(rows)} questions, {texts} completions ({', '.join(METHODS)})\n")
    print("| mode | embedder / judge | ARI (all completions) | winner agrees | s/item |")
    print("|---|---|---|---|---|")
    results = [("final", "-", FinalGrouper(), rows)]
    for name, threshold in (("minilm", 0.8), ("minilm", 0.9), ("llama", 0.8), ("hash", 0.8)):
        embedder = get_embedder(name)
        results.append(("semantic", f"{name} @{threshold}",
                        SemanticGrouper(embedder.embed, threshold), rows))  # fmt: skip
    if args.judge_items:
        results.append(("judge", "SmolLM2-135M", JudgeGrouper(_llama_judge(), 0.5),
                        rows[: args.judge_items]))  # fmt: skip
    for mode, who, grouper, subset in results:
        mean_ari, agree, seconds = asyncio.run(score(grouper, subset, kind))
        print(f"| {mode} | {who} | {mean_ari:.3f} | {agree:.1%} | {seconds:.2f} |"
              + ("" if subset is rows else f" ({len(subset)} questions)"), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
