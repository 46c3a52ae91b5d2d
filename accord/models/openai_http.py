"""The OpenAI-compatible HTTP backend: vLLM, Ollama, llama.cpp's server or a hosted API.

Chat completions with usage read from the response, token log-probs when the server offers
them, time-outs, retries with exponential backoff and jitter on 429/5xx and connection errors,
and a per-server limit on requests in flight.

Option scoring (`score`) asks once, for a single token with `top_logprobs`, and gives each
option the log-probability of the best listed token that its text starts with (case- and
space-insensitive). That is exact for options whose first tokens differ (A/B/C, yes/no,
numbers) and costs one request whatever the number of options; options the server did not
list get a floor below the least likely listed token. When the server offers no log-probs at
all, one short completion is made and the option it names gets most of the mass.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from typing import Any

from accord.errors import BackendError, ConfigError
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_FLOOR_GAP = math.log(2.0)  # unlisted options: half as likely as the least likely listed one
_UNNAMED_LOGPROB = math.log(1e-3)

_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


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
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        max_concurrency: int = 8,
        top_logprobs: int = 20,
        name: str = "openai",
        **_ignored: object,
    ) -> None:
        httpx = _httpx()
        self.name = name
        self.model = model or "default"
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.top_logprobs = top_logprobs
        self.retries = 0
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._limit = _limit(self.base_url, max_concurrency)
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout_s)
        )
        self._rng = random.Random()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter; a server's Retry-After wins when given."""
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass
        cap = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return self._rng.uniform(cap / 2, cap)

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` as JSON, retrying transient failures; the decoded JSON body."""
        httpx = _httpx()
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.retries += 1
            retry_after = None
            try:
                with self._limit:
                    response = self._client.post(path, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRY_STATUS:
                    raise BackendError(self.name, f"{self.base_url}{path}: {last}")
                retry_after = response.headers.get("retry-after")
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, retry_after))
        raise BackendError(
            self.name, f"{self.base_url}{path}: gave up after {self.max_retries + 1} tries ({last})"
        )

    def _payload(self, messages: tuple[Message, ...], **extra: Any) -> dict[str, Any]:
        payload = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        payload.update({k: v for k, v in extra.items() if v is not None})
        return payload

    def _usage(self, body: dict[str, Any], start: float) -> Usage:
        usage = body.get("usage") or {}
        wall = (time.perf_counter() - start) * 1000.0
        return Usage(
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            wall,
            str(body.get("model") or self.model),
        )

    def complete(self, request: CompletionRequest) -> Completion:
        """One chat completion; token log-probs when the server returns them."""
        start = time.perf_counter()
        body = self.post(
            "/chat/completions",
            self._payload(
                request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=list(request.stop) or None,
                # llama.cpp's server returns log-probs only when top_logprobs is set, too
                logprobs=True if request.logprobs else None,
                top_logprobs=1 if request.logprobs else None,
            ),
        )
        choice = _first_choice(body, self.name)
        text = (choice.get("message") or {}).get("content") or ""
        return Completion(text.strip(), self._usage(body, start), _token_logprobs(choice))

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
        u = completion.usage
        wall = (time.perf_counter() - start) * 1000.0
        usage = Usage(u.prompt_tokens, u.completion_tokens, wall, u.model)
        return OptionScores(scores, usage, tuple(1 for _ in options))


def _first_choice(body: dict[str, Any], name: str) -> dict[str, Any]:
    choices = body.get("choices") or []
    if not choices:
        raise BackendError(name, f"response has no choices: {str(body)[:200]}")
    return choices[0]


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
