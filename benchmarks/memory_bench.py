"""Long-term memory benchmark: retrieval latency at 10k and 100k items, and recall@5.

    python benchmarks/memory_bench.py            # what `make bench-memory` runs
    python benchmarks/memory_bench.py --sizes 10000 --queries 10

Latency uses SYNTHETIC embeddings (random unit vectors of the `llama` embedder's size, written
by DuckDB itself) in a DuckDB file, searched with `MemoryStore.search_vector`, i.e. the same
`array_cosine_similarity` query a crew runs (a full scan: no vector index), once with the
connection kept open (warm cache) and once with a connection per search (the default).

Recall@5 uses REAL embeddings of the labelled set in benchmarks/data/memory/recall.json
(facts with near-miss distractors, paraphrased questions), for each embedder, with a 95%
bootstrap interval over the questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from accord.memory import MemoryStore, get_embedder
from accord.memory.schema import ensure_vector_table

DATA = Path(__file__).parent / "data" / "memory" / "recall.json"
DIM = 832  # the `llama` embedder: 576 (SmolLM2 hidden size) + 256 (hashed trigrams)


class SyntheticEmbedder:
    """Random unit vectors: stands in for a real embedder when only latency is measured."""

    name = f"synthetic-{DIM}"
    dim = DIM

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = self.rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def fill(store: MemoryStore, n: int) -> float:
    """Write `n` synthetic memories (10 crews, 5 roles, a year of timestamps); return seconds."""
    start = time.perf_counter()
    with store.connect() as db:
        db.execute("SELECT setseed(0.42)")
        db.execute(f"""
            INSERT INTO memory_items (id, crew, role, kind, text, verified, run_id, task_id,
                                      created_at)
            SELECT i, 'crew' || (i % 10), 'role' || (i % 5), 'fact', 'synthetic fact ' || i,
                   i % 3 = 0, 'run' || (i // 100), 'task' || i,
                   TIMESTAMP '2026-01-01' + to_seconds(i * {31_536_000 // n})
            FROM range(1, {n} + 1) r(i)""")
        table = ensure_vector_table(db, DIM)
        db.execute(f"""
            INSERT INTO {table}
            SELECT i, '{SyntheticEmbedder.name}',
                   list_transform(range({DIM}), lambda k: (random() - 0.5)::FLOAT)::FLOAT[{DIM}]
            FROM range(1, {n} + 1) r(i)""")
    return time.perf_counter() - start


CASES = {
    "no filter": {},
    "crew": {"crew": "crew3"},
    "crew+role+time": {"crew": "crew3", "role": "role3", "since": datetime(2026, 3, 1)},
}


def latency(n: int, queries: int, *, keep_open: bool) -> dict[str, object]:
    """Median and p95 search latency over `queries` searches, with and without filters."""
    with tempfile.TemporaryDirectory() as tmp:
        embedder = SyntheticEmbedder()
        path = Path(tmp) / "bench.duckdb"
        fill_s = fill(MemoryStore(path, embedder=embedder), n)
        store = MemoryStore(path, embedder=embedder, keep_open=keep_open)
        out: dict[str, object] = {"n": n, "fill_s": fill_s}
        for label, filters in CASES.items():
            vectors = embedder.embed(["q"] * (queries + 1))
            store.search_vector(vectors[0], k=5, **filters)  # warm the file cache
            times = []
            for vector in vectors[1:]:
                start = time.perf_counter()
                found = store.search_vector(vector, k=5, **filters)
                times.append((time.perf_counter() - start) * 1000)
                assert len(found) == 5
            times.sort()
            out[label] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
        store.close()
        return out


def recall_at_5(
    embedder_name: str, data: dict, rng: np.random.Generator, *, hard: bool | None = None
) -> dict[str, float]:
    """Mean recall@5 over the labelled questions (all, or only hard/easy ones), 95% bootstrap."""
    store = MemoryStore(":memory:", embedder=get_embedder(embedder_name))
    ids = {key: store.remember(text, crew="bench") for key, text in data["facts"].items()}
    queries = [q for q in data["queries"] if hard is None or bool(q.get("hard")) == hard]
    start = time.perf_counter()
    per_query, hit1 = [], []
    for q in queries:
        found = [m.id for m in store.search(q["query"], k=5, crew="bench")]
        relevant = {ids[r] for r in q["relevant"]}
        per_query.append(len(relevant & set(found)) / len(relevant))
        hit1.append(float(bool(found) and found[0] in relevant))
    ms = (time.perf_counter() - start) * 1000 / len(queries)
    scores = np.array(per_query)
    boots = [rng.choice(scores, len(scores)).mean() for _ in range(2000)]
    return {
        "recall@5": float(scores.mean()),
        "lo": float(np.percentile(boots, 2.5)),
        "hi": float(np.percentile(boots, 97.5)),
        "hit@1": float(np.mean(hit1)),
        "ms_per_query": ms,
        "n": len(queries),
        "per_query": scores,
    }  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--embedders", nargs="+", default=["hash", "llama-only", "llama"])
    args = parser.parse_args()

    print(
        f"retrieval latency (SYNTHETIC {DIM}-d embeddings, DuckDB file, k=5, "
        f"{args.queries} queries each; median / p95 ms)"
    )
    for n in args.sizes:
        for keep_open, how in (
            (True, "warm: connection kept open"),
            (False, "cold: connection per search, as in a crew run"),
        ):
            r = latency(n, args.queries, keep_open=keep_open)
            cells = "  ".join(
                f"{label}: {r[label][0]:.0f} / {r[label][1]:.0f}"  # type: ignore[index]
                for label in CASES
            )
            print(f"  {n:>7,} items, {how}\n           {cells}")

    data = json.loads(DATA.read_text())
    rng = np.random.default_rng(0)
    print(
        f"\nrecall@5 over {len(data['facts'])} facts (REAL embeddings; 95% bootstrap CI over "
        f"questions; `hard` questions share few or no words with their fact)"
    )
    per_query: dict[tuple[str, str], np.ndarray] = {}
    for name in args.embedders:
        for subset, hard in (("all", None), ("hard", True)):
            r = recall_at_5(name, data, rng, hard=hard)
            per_query[name, subset] = r["per_query"]  # type: ignore[assignment]
            print(
                f"  {name:<11} {subset:<4} n={r['n']:<3} recall@5 {r['recall@5']:.3f} "
                f"[{r['lo']:.3f}, {r['hi']:.3f}]  hit@1 {r['hit@1']:.3f}  "
                f"({r['ms_per_query']:.0f} ms/query incl. embedding)"
            )
    if {"hash", "llama"} <= set(args.embedders):
        for subset in ("all", "hard"):
            diff = per_query["llama", subset] - per_query["hash", subset]
            boots = [rng.choice(diff, len(diff)).mean() for _ in range(2000)]
            print(
                f"  paired, same questions ({subset}): llama - hash = {diff.mean():+.3f} "
                f"[{np.percentile(boots, 2.5):+.3f}, {np.percentile(boots, 97.5):+.3f}]"
            )


if __name__ == "__main__":
    main()
