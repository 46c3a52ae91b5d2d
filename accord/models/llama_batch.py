"""Batched decoding on llama.cpp: K samples of one prompt as K sequences of one batch.

The prompt is evaluated once, as sequence 0; `llama_memory_seq_cp` then tags its KV cells
with the sequence ids 1..K-1 too (a unified KV cache shares the cells, nothing is copied),
and every decoding step evaluates the next token of each unfinished sample in one
`llama_decode` call: one pass over the weights serves K tokens, so K samples take about the
time of one.

Each sample draws from its own seeded generator over its own logits row, with the same
sampler and stopping rules as one-at-a-time generation (`Draw`), but its log-probs are not
bit-identical to `complete`'s, and so a sampled token can differ (measured on SmolLM2: 8 of
40 samples had the same text). The cause is llama.cpp's CPU arithmetic, not the sampler:
(1) a batch of more than one token goes through other matrix kernels than a single token
(tiled GEMM instead of GEMV: the same token at the same position after the same prompt got
logits up to 0.32 apart, while batches of 2 and of 5 gave that token bit-identical logits);
(2) even with every step padded to two tokens, only 14 of 40 samples matched, because the
attention sums run over the KV cells in cell order and the samples' generated cells
interleave differently with the batch's make-up. Exact identity would need the one-sample
path to take the batched path's arithmetic, i.e. to change every answer `complete` gives.
Batched samples are reproducible instead: the same prompt and the same list of seeds give the
same samples whatever ran before (the prompt state is exact, the cells a batch writes are
removed after it, so the next batch lays its cells out the same way); a seed's sample can
depend on which other seeds share its batch. `batch_sequences=1` keeps exact identity.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

SEQUENCES = 16  # the most samples one batch decodes (the context's n_seq_max)
_TOP_K = 40


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities from raw logits."""
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def sample(lp: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else seeded top-k sampling at `temperature`."""
    if temperature <= 0:
        return int(lp.argmax())
    top = np.argpartition(lp, -_TOP_K)[-_TOP_K:]
    weights = np.exp((lp[top] - lp[top].max()) / temperature)
    return int(top[rng.choice(len(top), p=weights / weights.sum())])


class Constraint(Protocol):
    """What may come next in a constrained generation (a grammar): masks logits, follows."""

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """`logits` with the tokens not allowed next at -inf."""
        ...

    def accept(self, token: int) -> None:
        """Follow the token chosen."""
        ...


class Draw:
    """One sample being generated: its generator, tokens and log-probs, and its end.

    With a `constraint`, each token is drawn from the logits it allows (its log-probs are
    those of the masked distribution); a generation the constraint allows no token for ends.
    """

    def __init__(
        self,
        *,
        seed: int | None,
        temperature: float,
        budget: int,
        stop_ids: set[int],
        stops: Sequence[str],
        detokenize: Callable[[list[int]], str],
        constraint: Constraint | None = None,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.temperature = temperature
        self.budget = max(0, budget)
        self.stop_ids = stop_ids
        self.stops = list(stops)
        self.detokenize = detokenize
        self.constraint = constraint
        self.tokens: list[int] = []
        self.logprobs: list[float] = []
        self.done = self.budget == 0

    def push(self, logits: np.ndarray) -> int | None:
        """Sample the next token from `logits`: the token to evaluate next, or None at the end."""
        if self.constraint is not None:
            logits = self.constraint.mask(logits)
            if not np.isfinite(logits.max()):
                self.done = True
                return None
        lp = log_softmax(logits)
        token = sample(lp, self.temperature, self.rng)
        if token in self.stop_ids:
            self.done = True
            return None
        if self.constraint is not None:
            self.constraint.accept(token)
        self.tokens.append(token)
        self.logprobs.append(float(lp[token]))
        text = self.detokenize(self.tokens)
        self.done = len(self.tokens) >= self.budget or any(s in text for s in self.stops)
        return None if self.done else token

    def text(self) -> str:
        """The sample's text, cut at the first stop string."""
        text = self.detokenize(self.tokens)
        for stop in self.stops:
            text = text.split(stop)[0]
        return text.strip()


def allow_sequences(llm: Any, n_seq: int) -> None:
    """Give `llm` a context whose unified KV cache holds `n_seq` sequences (same settings
    otherwise: one sequence computes exactly as in the default context)."""
    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = n_seq
    params.kv_unified = True
    old = llm._ctx
    llm._ctx = llm._stack.enter_context(
        contextlib.closing(_internals.LlamaContext(model=llm._model, params=params, verbose=False))
    )
    old.close()


class BatchDecoder:
    """Decodes several `Draw`s of one evaluated prompt together (see the module doc)."""

    def __init__(self, llm: Any, n_vocab: int) -> None:
        from llama_cpp import _internals

        self.llm = llm
        self.n_vocab = n_vocab
        self.sequences = int(llm.context_params.n_seq_max)
        self.steps = 0  # llama_decode calls made, each for every unfinished sample at once
        self._batch = _internals.LlamaBatch(n_tokens=self.sequences, embd=0, n_seq_max=1)

    def group_size(self, prompt_tokens: int, budget: int) -> int:
        """How many samples of `budget` tokens fit beside the prompt in the KV cache."""
        room = self.llm.n_ctx() - prompt_tokens - 1
        return max(1, min(self.sequences, room // max(budget, 1)))

    def decode(self, draws: Sequence[Draw], prompt_tokens: int, logits: np.ndarray) -> None:
        """Run `draws` (at most `sequences`) to their ends from the state after the prompt,
        which sequence 0 holds; afterwards the context holds the prompt alone again."""
        import llama_cpp

        ctx = self.llm._ctx
        # cells past the prompt (a sample generated after it, still in place) go first
        llama_cpp.llama_memory_seq_rm(ctx.memory, -1, prompt_tokens, -1)
        for j in range(1, len(draws)):
            ctx.kv_cache_seq_cp(0, j, 0, prompt_tokens)
        try:
            pending = {j: d.push(logits.copy()) for j, d in enumerate(draws) if not d.done}
            while active := [(j, t) for j, t in pending.items() if t is not None]:
                batch = self._batch.batch
                batch.n_tokens = len(active)
                for i, (j, token) in enumerate(active):
                    batch.token[i] = token
                    batch.pos[i] = prompt_tokens + len(draws[j].tokens) - 1
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = j
                    batch.logits[i] = True
                ctx.decode(self._batch)
                self.steps += 1
                pending = {j: draws[j].push(self._row(i)) for i, (j, _) in enumerate(active)}
        finally:
            for j in range(1, len(draws)):
                ctx.kv_cache_seq_rm(j, -1, -1)
            ctx.kv_cache_seq_rm(0, prompt_tokens, -1)
            self.llm.n_tokens = prompt_tokens

    def _row(self, i: int) -> np.ndarray:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, i)
        array = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(array, shape=(self.n_vocab,)).copy()

    def close(self) -> None:
        self._batch.close()
