"""The OpenAI-compatible HTTP backend: vLLM, Ollama, llama.cpp's server or a hosted API.

Chat completions with usage read from the response (clamped, with cached prompt tokens: see
`http_usage`), token log-probs when the server offers them, retries with exponential backoff
and jitter on 429/5xx and connection errors, and a per-server limit on requests in flight.

Deadlines: `timeout_s` bounds one HTTP try from connecting to the last byte of the response
(a server that trickles bytes is cut off at it, not only one that stalls), and `deadline_s`
(default: every try at `timeout_s` plus the back-off between them) bounds a whole call,
retries included; no retry starts after it.

K samples of one prompt (`complete_many`) are asked for in one request with `n` (the prompt
is sent and billed once). The answer is checked: when the server returns fewer choices than
asked (`python -m llama_cpp.server` ignores `n`) or refuses `n`, the rest are drawn with one
request each, and the endpoint (base URL and model) is remembered for this process, so later
batches go straight to separate requests.

Option scoring (`score`) asks once, for a single token with `top_logprobs`, and gives each
option the log-probability of the best listed token that its text starts with (case- and
space-insensitive). That is exact for options whose first tokens differ (A/B/C, yes/no,
numbers) and costs one request whatever the number of options; options the server did not
list get a floor below the least likely listed token. When the server offers no log-probs at
all, one short completion is made and the option it names gets most of the mass.

Tools go out as OpenAI function tools and come back as `tool_calls` (a call whose arguments
are not a JSON object stays a call, one its tool's validation refuses); assistant tool calls
and `tool` results are sent in OpenAI's shape; `json_schema` becomes `response_format:
{"type": "json_schema", ...}` (`openai_wire`).
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

from accord.errors import BackendError, ConfigError
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage
from accord.models.http_usage import read_usage, split_count
from accord.models.openai_wire import read_tool_calls, response_format, wire_message, wire_tools

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 32 << 20  # a response larger than this is not a chat completion
_FLOOR_GAP = math.log(2.0)  # unlisted options: half as likely as the least likely listed one
_UNNAMED_LOGPROB = math.log(1e-3)

_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()
# (base URL, model) of endpoints seen to ignore or refuse `n`, for this process
_IGNORES_N: set[tuple[str, str]] = set()


def _limit(base_url: str, max_concurrency: int) -> threading.BoundedSemaphore:
    """One semaphore per server and limit, shared by every backend of this process."""
    with _semaphores_lock:
        key = (base_url, max_concurrency)
        if key not in _semaphores:
            _semaphores[key] = threading.BoundedSemaphore(max_concurrency)
        return _semaphores[key]


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx ships with the server extra
        raise ConfigError(
            "the openai backend needs httpx", hint="pip install 'accord[server]'"
        ) from None
    return httpx


class HTTPStatusError(BackendError):
    """A server answered with an error status that no retry can fix."""

    def __init__(self, backend: str, message: str, status: int) -> None:
        super().__init__(backend, message)
        self.status = status


class TryTimeout(Exception):
    """One try ran past its deadline while the server was still sending."""


class OpenAIHTTPBackend:
    """Talks to `{base_url}/chat/completions`; one instance per role agent."""

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        deadline_s: float | None = None,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        max_concurrency: int = 8,
        top_logprobs: int = 20,
        use_n: bool = True,
        name: str = "openai",
        **_ignored: object,
    ) -> None:
        httpx = _httpx()
        for label, value in (("timeout_s", timeout_s), ("deadline_s", deadline_s)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"openai backend: {label} must be a positive number of seconds")
        self.name = name
        self.model = model or "default"
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.deadline_s = (
            float(deadline_s)
            if deadline_s is not None
            else self.timeout_s * (max_retries + 1) + max_backoff_s * max_retries
        )
        self.top_logprobs = top_logprobs
        self.use_n = use_n
        self.retries = 0
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._limit = _limit(self.base_url, max_concurrency)
        self._max_concurrency = max_concurrency
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(self.timeout_s)
        )
        self._rng = random.Random()
        self._workers = ThreadPoolExecutor(max_concurrency, thread_name_prefix="accord-http")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    @property
    def honours_n(self) -> bool:
        """False once this endpoint was seen to ignore or refuse `n` (in this process)."""
        return self.use_n and (self.base_url, self.model) not in _IGNORES_N

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter; a server's Retry-After wins when given."""
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                pass
            else:
                if math.isfinite(wait):
                    return min(max(wait, 0.0), self.max_backoff_s)
        cap = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return self._rng.uniform(cap / 2, cap)

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` as JSON, retrying transient failures; the decoded JSON body.

        Each try ends at `timeout_s`, the whole call at `deadline_s` (see the module doc).
        """
        httpx = _httpx()
        deadline = time.monotonic() + self.deadline_s
        last, tries = "", 0
        for attempt in range(self.max_retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if attempt:
                self.retries += 1
            tries += 1
            retry_after = None
            try:
                status, headers, data = self._send(path, payload, min(self.timeout_s, left))
            except (httpx.TimeoutException, httpx.TransportError, TryTimeout) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if status < 400:
                    try:
                        return _decode(data)
                    except ValueError as exc:
                        last = f"invalid response: {exc}"
                else:
                    last = f"HTTP {status}: {data[:200].decode(errors='replace')}"
                    if status not in RETRY_STATUS:
                        raise HTTPStatusError(self.name, f"{self.base_url}{path}: {last}", status)
                    retry_after = headers.get("retry-after")
            if attempt < self.max_retries:
                wait = self._delay(attempt, retry_after)
                if time.monotonic() + wait >= deadline:
                    break
                time.sleep(wait)
        raise BackendError(
            self.name,
            f"{self.base_url}{path}: gave up after {tries} tries "
            f"(deadline_s {self.deadline_s:g}) ({last})",
        )

    def _send(self, path: str, payload: dict[str, Any], seconds: float) -> tuple[int, Any, bytes]:
        """One try: (status, headers, body), all of it received within `seconds`.

        The try runs on a worker thread so that the deadline holds whatever the server does
        (httpx's own time-outs bound each read, not the sum of them); a try past its deadline
        is abandoned, and its worker stops at the next chunk the server sends.
        """
        stop = threading.Event()
        future = self._workers.submit(self._receive, path, payload, seconds, stop)
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            stop.set()
            raise TryTimeout(f"no complete response within {seconds:g} s (timeout_s)") from None

    def _receive(
        self, path: str, payload: dict[str, Any], seconds: float, stop: threading.Event
    ) -> tuple[int, Any, bytes]:
        httpx = _httpx()
        if not self._limit.acquire(timeout=seconds):
            raise TryTimeout(f"{self._max_concurrency} requests to this server still in flight")
        try:
            with self._client.stream(
                "POST", path, json=payload, timeout=httpx.Timeout(seconds)
            ) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if stop.is_set():
                        raise TryTimeout("abandoned at its deadline")
                    if len(data) > MAX_BODY_BYTES:
                        raise TryTimeout(f"response larger than {MAX_BODY_BYTES} bytes")
                return response.status_code, response.headers, bytes(data)
        finally:
            self._limit.release()

    def _payload(self, messages: tuple[Message, ...], **extra: Any) -> dict[str, Any]:
        payload = {
            "model": self.model,
            "messages": [wire_message(m) for m in messages],
        }
        payload.update({k: v for k, v in extra.items() if v is not None})
        return payload

    def _usage(self, body: dict[str, Any], start: float) -> Usage:
        wall = (time.perf_counter() - start) * 1000.0
        return read_usage(body, wall_ms=wall, model=self.model)

    def complete(self, request: CompletionRequest) -> Completion:
        """One chat completion; token log-probs when the server returns them."""
        return self._chat(request, 1)[0]

    def complete_many(
        self, request: CompletionRequest, seeds: Sequence[int | None]
    ) -> list[Completion]:
        """One completion per seed: one request with `n` where the endpoint honours it.

        With `n`, the server draws the samples from one seed (the first) and bills the prompt
        once: the first completion carries the prompt tokens (and cached ones), the others 0;
        completion tokens are each sample's own (counted from its token log-probs when they
        add up to the server's total, else the total shared in proportion to text length),
        and the call's wall time is shared evenly. Where `n` is not honoured (see the module
        doc) each remaining seed is its own request, sent concurrently.
        """
        seeds = list(seeds)
        if len(seeds) <= 1 or not self.honours_n:
            return self._separately(request, seeds)
        try:
            out = self._chat(replace(request, seed=seeds[0]), len(seeds))
        except HTTPStatusError as exc:
            if exc.status not in (400, 422):
                raise
            out = []  # the server refused `n` itself
        if len(out) < len(seeds):
            _IGNORES_N.add((self.base_url, self.model))
            out += self._separately(request, seeds[len(out) :])
        return out

    def _separately(
        self, request: CompletionRequest, seeds: Sequence[int | None]
    ) -> list[Completion]:
        requests = [replace(request, seed=seed) for seed in seeds]
        if len(requests) <= 1:
            return [self.complete(r) for r in requests]
        with ThreadPoolExecutor(min(len(requests), self._max_concurrency)) as pool:
            return list(pool.map(self.complete, requests))

    def _chat(self, request: CompletionRequest, n: int) -> list[Completion]:
        """Up to `n` completions of `request` from one request (fewer if `n` was ignored)."""
        start = time.perf_counter()
        body = self.post(
            "/chat/completions",
            self._payload(
                request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=list(request.stop) or None,
                n=n if n > 1 else None,
                # llama.cpp's server returns log-probs only when top_logprobs is set, too
                logprobs=True if request.logprobs else None,
                top_logprobs=1 if request.logprobs else None,
                tools=wire_tools(request.tools) if request.tools else None,
                response_format=(
                    response_format(request.json_schema) if request.json_schema else None
                ),
            ),
        )
        choices = _choices(body, self.name)[:n]
        usage = self._usage(body, start)
        messages = [c.get("message") or {} for c in choices]
        texts = [(m.get("content") or "").strip() for m in messages]
        logprobs = [_token_logprobs(c) for c in choices]
        calls = [read_tool_calls(m) if request.tools else () for m in messages]
        if len(choices) == 1:
            return [Completion(texts[0], usage, logprobs[0], calls[0])]
        shares = _shares(usage, texts, logprobs)
        return [Completion(*parts) for parts in zip(texts, shares, logprobs, calls, strict=True)]

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Option log-probs from the first token's `top_logprobs` (see the module docstring)."""
        start = time.perf_counter()
        body = self.post(
            "/chat/completions",
            self._payload(
                messages,
                max_tokens=1,
                temperature=0.0,
                logprobs=True,
                top_logprobs=self.top_logprobs,
            ),
        )
        choice = _first_choice(body, self.name)
        top = _top_logprobs(choice)
        usage = self._usage(body, start)
        if not top:
            return self._score_by_naming(messages, options, start)
        floor = min(top.values()) - _FLOOR_GAP
        scores = tuple(_option_logprob(option, top, floor) for option in options)
        return OptionScores(scores, usage, tuple(1 for _ in options))

    def _score_by_naming(
        self, messages: tuple[Message, ...], options: tuple[str, ...], start: float
    ) -> OptionScores:
        """Fallback without log-probs: the option a short reply names gets most of the mass."""
        completion = self.complete(
            CompletionRequest(messages=messages, max_tokens=16, logprobs=False)
        )
        text = completion.text.strip().lower()
        named = [i for i, o in enumerate(options) if o.strip().lower() in text]
        chosen = named[0] if len(named) == 1 else None
        scores = tuple(0.0 if i == chosen else _UNNAMED_LOGPROB for i in range(len(options)))
        wall = (time.perf_counter() - start) * 1000.0
        usage = replace(completion.usage, wall_ms=wall)
        return OptionScores(scores, usage, tuple(1 for _ in options))


def _decode(data: bytes) -> dict[str, Any]:
    """The JSON object of a response body (ValueError when it is not one)."""
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _choices(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The response's choices in index order (a BackendError when there are none)."""
    choices = [c for c in body.get("choices") or [] if isinstance(c, dict)]
    if not choices:
        raise BackendError(name, f"response has no choices: {str(body)[:200]}")
    ranked = enumerate(choices)
    return [c for _, c in sorted(ranked, key=lambda p: (_index(p[1], p[0]), p[0]))]


def _index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _first_choice(body: dict[str, Any], name: str) -> dict[str, Any]:
    return _choices(body, name)[0]


def _shares(usage: Usage, texts: list[str], logprobs: list[tuple[float, ...]]) -> list[Usage]:
    """One call's usage split over its samples: the prompt on the first, completions each."""
    counts = [len(lps) for lps in logprobs]
    if sum(counts) != usage.completion_tokens or not all(counts):
        counts = split_count(usage.completion_tokens, [max(1, len(t)) for t in texts])
    wall = usage.wall_ms / len(texts)
    return [
        replace(
            usage,
            prompt_tokens=usage.prompt_tokens if i == 0 else 0,
            cached_prompt_tokens=usage.cached_prompt_tokens if i == 0 else 0,
            completion_tokens=count,
            wall_ms=wall,
        )
        for i, count in enumerate(counts)
    ]


def _token_logprobs(choice: dict[str, Any]) -> tuple[float, ...]:
    content = (choice.get("logprobs") or {}).get("content") or []
    return tuple(float(t["logprob"]) for t in content if t.get("logprob") is not None)


def _top_logprobs(choice: dict[str, Any]) -> dict[str, float]:
    """The first generated token's alternatives as {token text: best log-prob}."""
    content = (choice.get("logprobs") or {}).get("content") or []
    if not content:
        return {}
    first = content[0]
    out: dict[str, float] = {}
    for alt in [first, *(first.get("top_logprobs") or [])]:
        token, lp = alt.get("token"), alt.get("logprob")
        if token is None or lp is None or not math.isfinite(float(lp)):
            continue
        out[token] = max(float(lp), out.get(token, -math.inf))
    return out


def _option_logprob(option: str, top: dict[str, float], floor: float) -> float:
    """Best log-prob among listed tokens that `option` starts with, else `floor`."""
    text = option.strip().lower()
    best = -math.inf
    for token, lp in top.items():
        piece = token.strip().lower()
        if piece and text.startswith(piece):
            best = max(best, lp)
    return best if best > -math.inf else floor
