"""What a vote costs: vote@n vs one answer on the embedded model, side by side in one run,
and (with --http) on the `openai` backend against two real local servers.

For each of ~20 BIG-bench prompts (the shipped samples, as a role's voter prompt) it draws one
fresh answer (the baseline) and n samples with n seeds at the voter temperature, four ways,
on backends of the same model:

  fresh    `prompt_cache=0`: every sample evaluates its prompt (the behaviour before the cache)
  cached   the default: one `complete` per sample; the first evaluates the prompt, the others
           start from the saved state
  many     `complete_many(request, seeds)` with `batch_sequences=1`: one prompt evaluation,
           n generations one after another
  batched  `complete_many` as configured by default: one prompt evaluation, the n samples
           decoded together as n sequences of one llama.cpp batch

All run interleaved per prompt (in a rotating order) so that load from other processes on a
shared machine falls on all of them alike. cached and many must give output identical to
fresh (text and every token log-prob; the script exits 1 if not); batched is reproducible but
not bit-identical (accord/models/llama_batch.py says why), and the share of its samples whose
text equals fresh's is printed. `--http` adds benchmarks/prompt_cache_http.py's figures.

    python benchmarks/prompt_cache.py [--prompts 20] [--n 5] [--threads 1] [--http] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from accord.bench.tasks import load_bench_items, shipped_tasks
from accord.models.base import Completion, CompletionRequest, Message
from accord.models.llama import LlamaBackend
from accord.roles.prompt import RoleProfile, build_messages

MODES = ("one", "fresh", "cached", "many", "batched")
EXACT = ("cached", "many")


def requests(n_prompts: int, temperature: float) -> list[tuple[str, CompletionRequest]]:
    """`n_prompts` voter requests, taken round-robin over the shipped BIG-bench samples."""
    tasks = shipped_tasks()
    per_task = {t: load_bench_items(t, limit=n_prompts) for t in tasks}
    role = RoleProfile("voter", instructions="Think briefly, then answer.")
    out: list[tuple[str, CompletionRequest]] = []
    for i in range(n_prompts):
        name = tasks[i % len(tasks)]
        item = per_task[name][i // len(tasks)]
        request = CompletionRequest(
            messages=build_messages(role, item.task),
            max_tokens=item.task.max_tokens,
            temperature=temperature,
        )
        out.append((item.task.id, request))
    return out


def draw(
    mode: str, backend: LlamaBackend, request: CompletionRequest, seeds: list[int]
) -> tuple[list[Completion], float]:
    start = time.perf_counter()
    if mode == "one":
        out = [backend.complete(replace(request, seed=seeds[0]))]
    elif mode in ("many", "batched"):
        out = backend.complete_many(request, seeds)
    else:
        out = [backend.complete(replace(request, seed=s)) for s in seeds]
    return out, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--n", type=int, default=5, help="samples per prompt")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("ACCORD_LLAMA_THREADS", "1"))
    )
    parser.add_argument("--model", default=None, help="GGUF name or path (default SmolLM2)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--http", action="store_true", help="add the openai backend's figures")
    args = parser.parse_args()

    work = requests(args.prompts, args.temperature)
    seeds = [1000 + i for i in range(args.n)]
    options: dict[str, dict[str, int]] = {
        "one": {"prompt_cache": 0, "batch_sequences": 1},
        "fresh": {"prompt_cache": 0, "batch_sequences": 1},
        "cached": {"batch_sequences": 1},
        "many": {"batch_sequences": 1},
        "batched": {},
    }
    backends = {
        mode: LlamaBackend(model=args.model, n_threads=args.threads, **opts)  # type: ignore[arg-type]
        for mode, opts in options.items()
    }
    warm = CompletionRequest(messages=(Message("user", "Say hello."),), max_tokens=4)
    for backend in backends.values():  # load pages, allocate buffers: not part of the figures
        backend.complete(warm)
        backend.clear_prompt_cache()

    wall = dict.fromkeys(MODES, 0.0)
    evaluated = dict.fromkeys(MODES, 0)
    completion_tokens = dict.fromkeys(MODES, 0)
    mismatches: list[str] = []
    batched_same = 0
    distinct: list[int] = []
    prompt_tokens: list[int] = []
    print(
        f"{len(work)} prompts x {args.n} samples, temperature {args.temperature}, "
        f"{args.threads} llama.cpp thread(s), model {backends['fresh'].model}"
    )
    for i, (label, request) in enumerate(work):
        order = MODES[i % len(MODES) :] + MODES[: i % len(MODES)]
        results: dict[str, list[Completion]] = {}
        for mode in order:
            results[mode], seconds = draw(mode, backends[mode], request, seeds)
            wall[mode] += seconds
            for c in results[mode]:
                evaluated[mode] += c.usage.prompt_tokens - c.usage.cached_prompt_tokens
                completion_tokens[mode] += c.usage.completion_tokens
        reference = [(c.text, c.token_logprobs) for c in results["fresh"]]
        for mode in EXACT:
            if [(c.text, c.token_logprobs) for c in results[mode]] != reference:
                mismatches.append(f"{label} ({mode})")
        batched_same += sum(
            a.text == b.text for a, b in zip(results["batched"], results["fresh"], strict=True)
        )
        distinct.append(len({c.text for c in results["fresh"]}))
        prompt_tokens.append(results["fresh"][0].usage.prompt_tokens)
        print(
            f"  {label:<40} {prompt_tokens[-1]:>4} prompt tok  "
            + "  ".join(f"{m} {wall[m]:6.1f}s" for m in MODES),
            flush=True,
        )

    samples = len(work) * args.n
    print()
    print(
        f"prompt tokens per prompt: mean {statistics.mean(prompt_tokens):.0f}, "
        f"min {min(prompt_tokens)}, max {max(prompt_tokens)}; completion tokens per sample: "
        f"mean {completion_tokens['fresh'] / samples:.1f}"
    )
    header = f"{'mode':<8} {'total s':>9} {'ms/sample':>10} {'prompt tok evaluated':>21}"
    print(f"{header} {'speedup':>8} {'x one answer':>13}")
    figures = {}
    for mode in MODES:
        drawn = len(work) if mode == "one" else samples
        per_sample = wall[mode] / drawn * 1000.0
        speedup = wall["fresh"] / wall[mode]
        vs_one = wall[mode] / wall["one"]
        figures[mode] = {
            "total_s": round(wall[mode], 3),
            "ms_per_sample": round(per_sample, 1),
            "prompt_tokens_evaluated": evaluated[mode],
            "speedup_vs_fresh": round(speedup, 3),
            "wall_vs_one_answer": round(vs_one, 3),
            "completion_tokens": completion_tokens[mode],
        }
        print(
            f"{mode:<8} {wall[mode]:>9.2f} {per_sample:>10.1f} {evaluated[mode]:>21} "
            f"{speedup:>7.2f}x {vs_one:>12.2f}x"
        )
    identical = not mismatches
    print(
        f"outputs identical to fresh (text and token log-probs): "
        f"{'yes' if identical else 'NO: ' + ', '.join(mismatches)}; "
        f"distinct samples per prompt: mean {statistics.mean(distinct):.1f} of {args.n}"
    )
    print(
        f"batched: vote@{args.n} took {wall['batched'] / wall['one']:.2f}x the wall time of one "
        f"fresh answer (one-at-a-time from one evaluation: {wall['many'] / wall['one']:.2f}x, "
        f"fresh: {wall['fresh'] / wall['one']:.2f}x); {batched_same} of {samples} batched "
        "samples have the text of the one-at-a-time sample of their seed"
    )
    model_name = backends["fresh"].model
    http = None
    if args.http:
        from prompt_cache_http import run_http

        for backend in backends.values():  # free the cores for the servers
            backend.close()
        backends = {}
        http = run_http(args.threads, seeds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "prompts": len(work),
            "n": args.n,
            "temperature": args.temperature,
            "threads": args.threads,
            "model": model_name,
            "mean_prompt_tokens": statistics.mean(prompt_tokens),
            "modes": figures,
            "identical": identical,
            "mismatches": mismatches,
            "batched_same_text": batched_same,
            "http": http,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    for backend in backends.values():
        backend.close()
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
