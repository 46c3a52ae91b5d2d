"""The `openai` backend's part of benchmarks/prompt_cache.py: what vote@5 bills over HTTP.

One 1,500-token prompt (a long report and a question), answers of up to 100 tokens, on two
real servers of the embedded model on 127.0.0.1:

  llama_cpp.server   `python -m llama_cpp.server`: ignores `n`, so vote@5 is five requests
  n-server           accord's ChatServer over a llama backend: honours `n` (one request,
                     the K samples decoded in one batch) and reports cached prompt tokens
                     (the backend reuses the longest prompt prefix left in its context)

For each: tokens billed and wall time of one answer and of vote@5, and money at an example
price table with a cached-input price (gpt-4o-mini's list prices, for illustration only).
Then the cached share: two voters of different roles ask about the same long task, with the
role first (the layout of short tasks) and with the shared task first (the layout of long
ones); the n-server reports how much of the second voter's prompt came from its cache.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from accord.consensus.records import Task
from accord.models.base import Completion, CompletionRequest, Message, create_backend
from accord.models.gguf import locate
from accord.models.llama import LlamaBackend
from accord.models.pricing import Price, PriceTable
from accord.models.serve import ChatServer
from accord.roles.prompt import RoleProfile, build_messages, system_prompt, user_prompt

EXAMPLE = Price(0.15, 0.60, cached_prompt_usd_per_mtok=0.075)  # USD per million tokens
_PARAGRAPH = (
    "The harbour authority's annual report lists {n} new berths, a dredging programme for "
    "the eastern channel, revised tariffs for container traffic and a plan to electrify the "
    "cranes on quay {n} before the winter season, funded partly by a regional grant. "
)


def long_task(prompt_tokens: int, count: Callable[[str], int]) -> Task:
    """A number task whose prompt is about `prompt_tokens` tokens of report text."""
    body, n = "", 1
    while count(body) < prompt_tokens - 60:
        body += _PARAGRAPH.format(n=n)
        n += 1
    question = "\nSummarise the report in detail, then say how many berths it lists in all."
    return Task(id="report", prompt=body + question, answer_type="text", max_tokens=100)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def llama_cpp_server(threads: int) -> Iterator[str]:
    """A real `python -m llama_cpp.server` with the embedded GGUF on 127.0.0.1."""
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(locate("smollm2")[1])]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    command += ["--n_threads", str(threads), "--model_alias", "smollm2"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start")
            try:
                if httpx.get(f"{base}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _billed(completions: list[Completion]) -> dict[str, float]:
    prompt = sum(c.usage.prompt_tokens for c in completions)
    cached = sum(c.usage.cached_prompt_tokens for c in completions)
    completion = sum(c.usage.completion_tokens for c in completions)
    usd = sum(
        PriceTable({"x": EXAMPLE}).usd(
            "x", c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.cached_prompt_tokens
        )
        for c in completions
    )
    return {
        "prompt": prompt,
        "cached": cached,
        "completion": completion,
        "billed": prompt + completion,
        "usd": usd,
    }


def _measure(url: str, request: CompletionRequest, seeds: list[int]) -> dict[str, Any]:
    backend = create_backend("openai", base_url=url, model="smollm2", timeout_s=600)
    start = time.perf_counter()
    one = backend.complete(replace(request, seed=seeds[0]))
    one_s = time.perf_counter() - start
    start = time.perf_counter()
    vote = backend.complete_many(request, seeds)
    vote_s = time.perf_counter() - start
    backend.close()
    return {"one": _billed([one]), "one_s": one_s, "vote": _billed(vote), "vote_s": vote_s}


def _cached_share(server: ChatServer, task: Task) -> dict[str, float]:
    """Of the second voter's prompt, the share the server read from its cache, per layout."""
    roles = (RoleProfile("solver", goal="answer correctly"), RoleProfile("skeptic"))
    layouts = {
        "role first": lambda r: (
            Message("system", system_prompt(r)),
            Message("user", user_prompt(task)),
        ),
        "shared first": lambda r: build_messages(r, task),
    }
    backend = create_backend("openai", base_url=server.url, model="smollm2", timeout_s=600)
    share = {}
    for name, layout in layouts.items():
        out = [backend.complete(CompletionRequest(layout(r), max_tokens=4, seed=1)) for r in roles]
        share[name] = out[1].usage.cached_prompt_tokens / out[1].usage.prompt_tokens
    backend.close()
    return share


def run_http(threads: int, seeds: list[int], prompt_tokens: int = 1500) -> dict[str, Any]:
    """The HTTP figures (see the module doc), printed and returned."""
    model = LlamaBackend(n_threads=threads, n_ctx=4096, reuse_prefix=True)
    count = lambda text: len(model._llm.tokenize(text.encode(), add_bos=False))  # noqa: E731
    task = long_task(prompt_tokens, count)
    role = RoleProfile("voter", instructions="Think briefly, then answer.")
    request = CompletionRequest(build_messages(role, task), max_tokens=100, temperature=0.8)
    figures: dict[str, Any] = {}
    with ChatServer(model, honour_n=True, model="smollm2") as server:
        figures["n-server"] = _measure(server.url, request, seeds)
        figures["cached_share"] = _cached_share(server, task)
    with llama_cpp_server(threads) as url:
        figures["llama_cpp.server"] = _measure(url, request, seeds)
    model.close()
    _print(figures, len(seeds))
    return figures


def _print(figures: dict[str, Any], k: int) -> None:
    print()
    print(f"openai backend, vote@{k} vs one answer on one long prompt (answers <= 100 tokens)")
    head = f"{'server':<17} {'call':<8} {'prompt':>7} {'cached':>7} {'compl.':>7} {'billed':>7}"
    print(f"{head} {'USD (example)':>14} {'wall s':>7}")
    for server in ("llama_cpp.server", "n-server"):
        for call in ("one", "vote"):
            b, s = figures[server][call], figures[server][f"{call}_s"]
            print(
                f"{server:<17} {call:<8} {b['prompt']:>7} {b['cached']:>7} {b['completion']:>7} "
                f"{b['billed']:>7} {b['usd']:>14.7f} {s:>7.2f}"
            )
    separate = figures["llama_cpp.server"]["vote"]
    with_n = figures["n-server"]["vote"]
    ratio = with_n["billed"] / separate["billed"]
    # the same samples as k separate requests: the prompt k times
    as_five = with_n["prompt"] * k + with_n["completion"]
    print(
        f"vote@{k} with n bills {with_n['billed']} tokens: {ratio:.2f} of the fallback's "
        f"{separate['billed']} and {with_n['billed'] / as_five:.2f} of {k} separate calls "
        f"of the same samples ({as_five}); example prices: input 0.15, cached input 0.075, "
        "output 0.60 USD per million tokens (gpt-4o-mini's list prices)"
    )
    share = figures["cached_share"]
    print(
        "cached share of a second voter's prompt (another role, same task): "
        + ", ".join(f"{name} {value:.0%}" for name, value in share.items())
    )
    figures["billed_ratio_vs_five_calls"] = with_n["billed"] / as_five
