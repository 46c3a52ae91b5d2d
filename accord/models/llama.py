"""The embedded llama.cpp backend: a GGUF from an installed wheel, one model per instance."""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from accord.errors import BackendError
from accord.models import grammar
from accord.models.base import Completion, CompletionRequest, Message, OptionScores, Usage
from accord.models.gguf import locate
from accord.models.llama_batch import SEQUENCES, BatchDecoder, Draw, allow_sequences
from accord.models.llama_batch import log_softmax as _log_softmax

# For GGUFs without a chat template (base models such as Gemma-3-270M): a plain Q/A prompt.
_PLAIN_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}Answer: {{ m['content'] }}\n\n"
    "{% else %}Question: {{ m['content'] }}\n{% endif %}{% endfor %}Answer:"
)


def _fallback_template(model: str) -> str:
    """The plain question/answer template, used when a GGUF ships no chat template."""
    return _PLAIN_TEMPLATE


@lru_cache(maxsize=64)
def _gbnf(schema_json: str) -> str:
    return grammar.to_gbnf(json.loads(schema_json), order=(grammar.TOOL, grammar.ARGUMENTS))


def _reply_schema(request: CompletionRequest) -> dict[str, Any] | None:
    """The JSON Schema a reply to `request` is decoded under, if any."""
    if request.tools:
        return grammar.tool_reply_schema(request.tools)
    if request.json_schema is not None:
        return dict(request.json_schema)
    return None


@dataclass(frozen=True, slots=True)
class _PromptState:
    """The context right after a fresh evaluation of one prompt: its KV cells and logits."""

    kv: Any  # a ctypes uint8 array from llama_state_seq_get_data (sequence 0)
    logits: np.ndarray

    @property
    def nbytes(self) -> int:
        return len(self.kv) + self.logits.nbytes


class PromptCache:
    """A small LRU of prompt states keyed by the prompt's tokens, bounded in entries and bytes.

    A state is the KV cache of one prompt evaluated afresh (from an empty context, in the
    same batches as any fresh evaluation) plus the logits after its last token, so restoring
    it is exact: what follows is byte-identical to evaluating the prompt again.
    """

    def __init__(self, entries: int = 8, max_bytes: int = 256 << 20) -> None:
        self.entries = max(0, entries)
        self.max_bytes = max(0, max_bytes)
        self._states: OrderedDict[tuple[int, ...], _PromptState] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key: object) -> bool:
        return key in self._states

    def get(self, key: tuple[int, ...]) -> _PromptState | None:
        state = self._states.get(key)
        if state is None:
            self.misses += 1
            return None
        self._states.move_to_end(key)
        self.hits += 1
        return state

    def put(self, key: tuple[int, ...], state: _PromptState) -> None:
        if self.entries == 0 or state.nbytes > self.max_bytes:
            return
        old = self._states.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._states[key] = state
        self.nbytes += state.nbytes
        while len(self._states) > self.entries or self.nbytes > self.max_bytes:
            _, evicted = self._states.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def clear(self) -> None:
        self._states.clear()
        self.nbytes = 0


class LlamaBackend:
    """Runs a local GGUF model with llama-cpp-python; deterministic for a given seed.

    Generation and option scoring are driven token by token from the logits, so token
    log-probs come for free.

    Prompt evaluation is cached exactly (on by default): after a prompt is evaluated from an
    empty context, its state (KV cells and last logits) is kept, and a later call with the
    same prompt tokens, such as another voter sample with a different seed or temperature,
    starts from that state instead of evaluating the prompt again. The prompt still in the
    context is reused in place; others come back from an LRU of `prompt_cache` states of at
    most `prompt_cache_mb` MiB in all (about 23 KB per prompt token for SmolLM2-135M). Either
    way the output is byte-identical to a fresh evaluation for the same (prompt, seed,
    temperature). `prompt_cache=0` evaluates every prompt afresh. `complete_many` draws
    several samples from one prompt evaluation, decoding them together as sequences of one
    batch (`batch_sequences` at a time, see `llama_batch`; `batch_sequences=1` decodes them
    one after another, exactly as `complete` would).

    `reuse_prefix=True` (off by default) additionally reuses the longest common prefix with
    whatever is in the context when the exact cache misses (a longer prompt that extends an
    earlier one, a chat's next turn). It is faster but not exact: the reused cells may have
    been computed in other batch shapes than a fresh evaluation of the whole prompt uses
    (generated tokens, for one, are evaluated one at a time), which changes the arithmetic
    slightly, so the same seed can give a different answer depending on what ran before
    (tests/test_prompt_cache.py shows it on a follow-up turn). Such states are never cached.

    With `request.tools` the tools are described in the system message and the reply is
    decoded under a grammar admitting exactly one call of an offered tool or a final answer
    (`grammar.tool_reply_schema`), then read back as `Completion.tool_calls` or text; with
    `request.json_schema` it is decoded under that schema. `constrain=False` keeps the
    prompt and the reading but decodes freely (to measure what the grammar buys).
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
        prompt_cache: int = 8,
        prompt_cache_mb: float = 256.0,
        batch_sequences: int = SEQUENCES,
        constrain: bool = True,
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
        self._batched: BatchDecoder | None = None
        if int(batch_sequences) > 1:
            allow_sequences(self._llm, int(batch_sequences))
            self._batched = BatchDecoder(self._llm, self._llm.n_vocab())
        meta: dict[str, Any] = self._llm.metadata
        template = meta.get("tokenizer.chat_template") or _fallback_template(self.model)
        self.reuse_prefix = reuse_prefix
        self.constrain = bool(constrain)
        self.prompt_cache = PromptCache(int(prompt_cache), int(float(prompt_cache_mb) * (1 << 20)))
        # The prompt whose fresh KV cells occupy the context's first positions, if any.
        self._resident: tuple[int, ...] | None = None
        self._resident_logits: np.ndarray | None = None
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
        self.clear_prompt_cache()
        if self._batched is not None:
            self._batched.close()
        self._llm.close()

    @property
    def batched_steps(self) -> int:
        """Decoding steps `complete_many` ran for several samples at once (one llama_decode
        call each)."""
        return self._batched.steps if self._batched is not None else 0

    def clear_prompt_cache(self) -> None:
        """Forget every saved prompt state: the next call evaluates its prompt afresh."""
        self.prompt_cache.clear()
        self._resident = self._resident_logits = None

    def _prompt_tokens(
        self, messages: tuple[Message, ...], request: CompletionRequest | None = None
    ) -> list[int]:
        chat = grammar.chat_messages(
            messages,
            tools=request.tools if request else (),
            json_schema=request.json_schema if request else None,
        )
        # llama_cpp types messages as a TypedDict per role; ours has its role at run time
        formatted = self._format(messages=chat)  # type: ignore[arg-type]
        return self._llm.tokenize(formatted.prompt.encode(), add_bos=False, special=True)

    def _logits(self) -> np.ndarray:
        return np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._n_vocab,)).copy()

    def _feed(self, tokens: list[int]) -> tuple[np.ndarray, int]:
        """Bring the context to the state after `tokens`: (last logits, tokens not evaluated).

        The exact cache first (the prompt still in place, then a saved state); on a miss the
        prompt is evaluated afresh from an empty context (or after the longest cached prefix
        with `reuse_prefix`) and, when fresh, its state is saved for the next call.
        """
        llm = self._llm
        if len(tokens) >= llm.n_ctx():
            raise BackendError(self.name, f"prompt of {len(tokens)} tokens exceeds n_ctx")
        key = tuple(tokens)
        caching = self.prompt_cache.entries > 0
        if caching and key == self._resident and self._resident_logits is not None:
            # Calls after the prompt only wrote positions past it; its cells are untouched.
            llm.n_tokens = len(tokens)
            self.prompt_cache.hits += 1
            return self._resident_logits.copy(), len(tokens)
        state = self.prompt_cache.get(key) if caching else None
        if state is not None and self._restore(tokens, state):
            return state.logits.copy(), len(tokens)
        common = 0
        if self.reuse_prefix:
            cached = llm.input_ids[: llm.n_tokens].tolist()
            for a, b in zip(cached, tokens, strict=False):
                if a != b:
                    break
                common += 1
            # Inexact (the prefix may have been evaluated in other batches): opt-in only.
            common = min(common, len(tokens) - 1)
        llm.n_tokens = common
        self._resident = self._resident_logits = None  # the cells change from here on
        llm.eval(tokens[common:])
        logits = self._logits()
        if common == 0 and caching:
            self._resident, self._resident_logits = key, logits.copy()
            self.prompt_cache.put(key, _PromptState(self._save_sequence(), logits.copy()))
        else:
            self._resident = self._resident_logits = None
        return logits, common

    def _save_sequence(self) -> Any:
        """The KV cells of sequence 0 (the prompt just evaluated), as a ctypes byte array."""
        import llama_cpp

        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if written != size:
            return (ctypes.c_uint8 * written).from_buffer_copy(buffer)
        return buffer

    def _restore(self, tokens: list[int], state: _PromptState) -> bool:
        """Put a saved prompt state back into an emptied context; False if llama.cpp refused."""
        import llama_cpp

        llm = self._llm
        llm.n_tokens = 0
        llm._ctx.kv_cache_seq_rm(0, 0, -1)
        self._resident = self._resident_logits = None
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, state.kv, len(state.kv), 0) == 0:
            llm._ctx.kv_cache_seq_rm(0, 0, -1)
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        self._resident, self._resident_logits = tuple(tokens), state.logits.copy()
        return True

    def complete(self, request: CompletionRequest) -> Completion:
        """Generate up to max_tokens, greedy at temperature 0, seeded sampling otherwise."""
        start = time.perf_counter()
        prompt = self._prompt_tokens(request.messages, request)
        logits, reused = self._feed(prompt)
        return self._finish(request, self._generate(request, prompt, logits, reused, start))

    def complete_many(
        self, request: CompletionRequest, seeds: Sequence[int | None]
    ) -> list[Completion]:
        """One completion of `request` per seed, from one evaluation of the prompt.

        The samples are decoded together, up to `batch_sequences` (and as many as the
        context has room for) per batch (see `llama_batch` for how they compare with
        `complete(replace(request, seed=seed))`); with `batch_sequences=1` they are decoded
        one after another and are byte-identical to `complete`. Every completion's usage
        counts the full prompt as sent (`prompt_tokens`); `cached_prompt_tokens` says how
        many of them were not evaluated for it, and its `wall_ms` is its own share of the
        time (the first carries the prompt's evaluation when that was not cached).
        """
        start = time.perf_counter()
        seeds = list(seeds)
        prompt = self._prompt_tokens(request.messages, request)
        first, reused = self._feed(prompt)
        budget = self._budget(request, prompt)
        group = self._batched.group_size(len(prompt), budget) if self._batched else 1
        out: list[Completion] = []
        for at in range(0, len(seeds), group):
            chunk = seeds[at : at + group]
            if len(chunk) == 1 or self._batched is None:
                for seed in chunk:
                    if out:
                        start, reused = time.perf_counter(), len(prompt)
                    # generation only wrote positions past the prompt: its cells are as evaluated
                    self._llm.n_tokens = len(prompt)
                    draw = self._draw(replace(request, seed=seed), budget)
                    out.append(self._run(draw, prompt, first.copy(), reused, start))
                continue
            if out:
                start, reused = time.perf_counter(), len(prompt)
            draws = [self._draw(replace(request, seed=seed), budget) for seed in chunk]
            self._llm.n_tokens = len(prompt)
            decode_start = time.perf_counter()
            self._batched.decode(draws, len(prompt), first)
            share = (time.perf_counter() - decode_start) * 1000.0 / len(draws)
            lead = (decode_start - start) * 1000.0
            for i, draw in enumerate(draws):
                cached = reused if i == 0 else len(prompt)
                wall = share + (lead if i == 0 else 0.0)
                out.append(self._completion(draw, prompt, cached, wall))
        return [self._finish(request, c) for c in out]

    def _budget(self, request: CompletionRequest, prompt: list[int]) -> int:
        return min(request.max_tokens, self._llm.n_ctx() - len(prompt) - 1)

    def _draw(self, request: CompletionRequest, budget: int) -> Draw:
        schema = _reply_schema(request) if self.constrain else None
        constraint = None
        stops = [*self._stop_text, *request.stop]
        if schema is not None:
            gbnf = _gbnf(json.dumps(schema, sort_keys=True))
            constraint = grammar.GrammarConstraint(self._llm, gbnf)
            # the grammar ends the reply; a template's stop text could cut a JSON string
            stops = list(request.stop)
        return Draw(
            seed=request.seed,
            temperature=request.temperature,
            budget=budget,
            stop_ids=self._stop_ids,
            stops=stops,
            detokenize=lambda tokens: self._llm.detokenize(tokens).decode(errors="ignore"),
            constraint=constraint,
        )

    def _finish(self, request: CompletionRequest, completion: Completion) -> Completion:
        """With tools, the reply read as a final answer or a tool call."""
        if not request.tools:
            return completion
        call_id = grammar.next_call_id(request.messages)
        text, calls = grammar.read_tool_reply(completion.text, request.tools, call_id=call_id)
        return replace(completion, text=text, tool_calls=calls)

    def _generate(
        self,
        request: CompletionRequest,
        prompt: list[int],
        logits: np.ndarray,
        reused: int,
        start: float,
    ) -> Completion:
        draw = self._draw(request, self._budget(request, prompt))
        return self._run(draw, prompt, logits, reused, start)

    def _run(
        self, draw: Draw, prompt: list[int], logits: np.ndarray, reused: int, start: float
    ) -> Completion:
        """Generate `draw` one token at a time from the state after `prompt`."""
        token = None if draw.done else draw.push(logits)
        while token is not None:
            self._llm.eval([token])
            token = draw.push(self._logits())
        return self._completion(draw, prompt, reused, (time.perf_counter() - start) * 1000.0)

    def _completion(self, draw: Draw, prompt: list[int], reused: int, wall: float) -> Completion:
        usage = Usage(len(prompt), len(draw.tokens), wall, self.model, cached_prompt_tokens=reused)
        return Completion(draw.text(), usage, tuple(draw.logprobs))

    def score(self, messages: tuple[Message, ...], options: tuple[str, ...]) -> OptionScores:
        """Sum of token log-probs of each option as the assistant's reply."""
        start = time.perf_counter()
        prompt = self._prompt_tokens(messages)
        fed, reused = self._feed(prompt)
        first = _log_softmax(fed)
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
        usage = Usage(len(prompt) + sum(lengths), 0, wall, self.model, cached_prompt_tokens=reused)
        return OptionScores(tuple(results), usage, tuple(lengths))
