"""The embedded llama.cpp backend: a GGUF from an installed wheel, one model per instance."""

from __future__ import annotations

import itertools
import os
import time
import weakref
from typing import Any

import numpy as np

from accord.errors import BackendError
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage
from accord.models.gguf import locate

_TOP_K = 40


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


# For GGUFs without a chat template (base models such as Gemma-3-270M): a plain Q/A prompt.
_PLAIN_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}Answer: {{ m['content'] }}\n\n"
    "{% else %}Question: {{ m['content'] }}\n{% endif %}{% endfor %}Answer:"
)


def _fallback_template(model: str) -> str:
    """The plain question/answer template, used when a GGUF ships no chat template."""
    return _PLAIN_TEMPLATE


class LlamaBackend:
    """Runs a local GGUF model with llama-cpp-python; deterministic for a given seed.

    Generation and option scoring are driven token by token from the logits, so token
    log-probs come for free and the prompt's KV cache is reused across calls that share it.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
        name: str = "llama",
        reuse_prefix: bool = False,
        **_ignored: object,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.name = name
        self.model, path = locate(model)
        threads = (
            n_threads
            or int(os.environ.get("ACCORD_LLAMA_THREADS", "0"))
            or min(2, os.cpu_count() or 1)
        )
        self._llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            verbose=False,
        )
        meta: dict[str, Any] = self._llm.metadata
        template = meta.get("tokenizer.chat_template") or _fallback_template(self.model)
        self.reuse_prefix = reuse_prefix
        eos = self._llm.detokenize([self._llm.token_eos()]).decode(errors="ignore")
        bos = self._llm.detokenize([self._llm.token_bos()]).decode(errors="ignore")
        self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._stop_ids = {self._llm.token_eos()}
        self._stop_text = [s for s in ("<|im_end|>", "<end_of_turn>", eos) if s]
        if template == _PLAIN_TEMPLATE:
            self._stop_text += ["\nQuestion:", "\n\n"]
        self._n_vocab = self._llm.n_vocab()
        # Free the model before interpreter teardown (llama.cpp's __del__ fails once the
        # module globals it needs are gone), and when this backend is collected.
        weakref.finalize(self, self._llm.close)

    def close(self) -> None:
        """Free the model now."""
        self._llm.close()

    def _prompt_tokens(self, messages: tuple[Message, ...]) -> list[int]:
        formatted = self._format(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        return self._llm.tokenize(formatted.prompt.encode(), add_bos=False, special=True)

    def _logits(self) -> np.ndarray:
        return np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._n_vocab,)).copy()

    def _feed(self, tokens: list[int]) -> np.ndarray:
        """Evaluate `tokens` after the longest cached prefix; return the last logits."""
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        # Reusing the cache is faster but changes the arithmetic slightly (a prefix evaluated
        # in another batch), so by default every call evaluates its prompt afresh: the same
        # seed then gives the same answer whatever ran before.
        common = min(common, len(tokens) - 1) if self.reuse_prefix else 0
        if len(tokens) >= llm.n_ctx():
            raise BackendError(self.name, f"prompt of {len(tokens)} tokens exceeds n_ctx")
        llm.n_tokens = common
        llm.eval(tokens[common:])
        return self._logits()

    def complete(self, request: CompletionRequest) -> Completion:
        """Generate up to max_tokens, greedy at temperature 0, seeded sampling otherwise."""
        start = time.perf_counter()
        prompt = self._prompt_tokens(request.messages)
        budget = min(request.max_tokens, self._llm.n_ctx() - len(prompt) - 1)
        logits = self._feed(prompt)
        rng = np.random.default_rng(request.seed)
        out: list[int] = []
        logprobs: list[float] = []
        stops = [*self._stop_text, *request.stop]
        for _ in range(max(0, budget)):
            lp = _log_softmax(logits)
            token = self._sample(lp, request.temperature, rng)
            if token in self._stop_ids:
                break
            out.append(token)
            logprobs.append(float(lp[token]))
            text = self._llm.detokenize(out).decode(errors="ignore")
            if any(s in text for s in stops):
                break
            self._llm.eval([token])
            logits = self._logits()
        text = self._llm.detokenize(out).decode(errors="ignore")
        for stop in stops:
            text = text.split(stop)[0]
        wall = (time.perf_counter() - start) * 1000.0
        usage = Usage(len(prompt), len(out), wall, self.model)
        return Completion(text.strip(), usage, tuple(logprobs))

    @staticmethod
    def _sample(lp: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
        if temperature <= 0:
            return int(lp.argmax())
        top = np.argpartition(lp, -_TOP_K)[-_TOP_K:]
        weights = np.exp((lp[top] - lp[top].max()) / temperature)
        return int(top[rng.choice(len(top), p=weights / weights.sum())])

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Sum of token log-probs of each option as the assistant's reply."""
        start = time.perf_counter()
        prompt = self._prompt_tokens(messages)
        first = _log_softmax(self._feed(prompt))
        results: list[float] = []
        lengths: list[int] = []
        for option in options:
            tokens = self._llm.tokenize(option.encode(), add_bos=False, special=False)
            total = float(first[tokens[0]]) if tokens else 0.0
            self._llm.n_tokens = len(prompt)
            for prev, nxt in itertools.pairwise(tokens):
                self._llm.eval([prev])
                total += float(_log_softmax(self._logits())[nxt])
            results.append(total)
            lengths.append(len(tokens))
        self._llm.n_tokens = len(prompt)
        wall = (time.perf_counter() - start) * 1000.0
        usage = Usage(len(prompt) + sum(lengths), 0, wall, self.model)
        return OptionScores(tuple(results), usage, tuple(lengths))
