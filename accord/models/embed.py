"""Text embedders, computed locally: hashed character n-grams, and the embedded GGUF model.

The `llama` embedder mean-pools SmolLM2's hidden states, removes the direction every sentence
shares (the mean of a fixed reference set; decoder embeddings are anisotropic and otherwise
score everything ~0.7 alike), and concatenates a weighted lexical part. The benchmark
(`make bench-memory`) reports recall@5 of each variant.
"""

from __future__ import annotations

import atexit
import os
import re
import zlib
from functools import lru_cache
from typing import Protocol

import numpy as np

from accord.registry import Registry

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    (
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "or",
        "not",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "does",
        "do",
        "did",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "as",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
    )
)
_REFERENCE = (
    "The weather was pleasant in the afternoon.",
    "She bought three apples at the market.",
    "The report was submitted before the deadline.",
    "How many students passed the exam?",
    "A train leaves the station every hour.",
    "The recipe needs flour, sugar and eggs.",
    "Which planet is closest to the sun?",
    "He fixed the bug in the parser yesterday.",
    "The museum opens at nine in the morning.",
    "Prices rose by two percent last year.",
    "What is the boiling point of water?",
    "The committee approved the new budget.",
    "Birds migrate south in the winter.",
    "Add the numbers and write the total.",
    "The library lends books for three weeks.",
    "Who wrote the famous novel?",
)


class Embedder(Protocol):
    """Turns texts into unit vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class HashEmbedder:
    """Hashed character trigrams of content words: fast, deterministic, lexical only."""

    def __init__(self, *, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hash{dim}"

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            if word in _STOP:
                continue
            padded = f"<{word}>"
            for i in range(len(padded) - 2):
                vec[zlib.crc32(padded[i : i + 3].encode()) % self.dim] += 1.0
        return vec

    def embed(self, texts: list[str]) -> np.ndarray:
        """Trigram counts, normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(np.stack([self._one(t) for t in texts]))


@lru_cache(maxsize=2)
def _llama(model: str, n_ctx: int) -> object:
    from llama_cpp import Llama

    from accord.models.gguf import locate

    _, path = locate(model)
    # One thread: short texts gain little from more, and llama.cpp's spinning workers slow
    # down ~8x when the CPUs are shared with the crew's own model calls.
    threads = int(os.environ.get("ACCORD_EMBED_THREADS", "1"))
    llm = Llama(
        model_path=str(path),
        embedding=True,
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    # Free it at exit while the modules llama.cpp's __del__ needs still exist.
    atexit.register(llm.close)
    return llm


class LlamaEmbedder:
    """The embedded GGUF model's mean-pooled, centred embedding, plus a lexical part.

    `lexical` is the share of the cosine that comes from `HashEmbedder` (0 disables it).
    """

    def __init__(self, *, model: str = "smollm2", lexical: float = 0.5, n_ctx: int = 512) -> None:
        if not 0.0 <= lexical < 1.0:
            from accord.errors import ConfigError

            raise ConfigError(f"lexical weight must be in [0, 1), got {lexical!r}")
        self.model = model
        self.lexical = lexical
        self.n_ctx = n_ctx
        self._hash = HashEmbedder()
        self._llm = _llama(model, n_ctx)
        self._mean = self._pooled(list(_REFERENCE)).mean(axis=0)
        lm_dim = int(self._mean.shape[0])
        self.dim = lm_dim + (self._hash.dim if lexical else 0)
        self.name = f"llama-{model}" + (f"+hash@{lexical:g}" if lexical else "")

    def _pooled(self, texts: list[str]) -> np.ndarray:
        rows = []
        chars = 3 * (self.n_ctx - 8)  # a token is at least ~3 characters of English
        for text in texts:
            out = np.asarray(
                self._llm.embed(text[:chars] or " "),  # type: ignore[attr-defined]
                dtype=np.float32,
            )
            rows.append(out.mean(axis=0) if out.ndim == 2 else out)
        return _unit(np.stack(rows))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Centred model embedding (and weighted lexical part), normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        semantic = _unit(self._pooled(texts) - self._mean)
        if not self.lexical:
            return semantic
        lexical = self._hash.embed(texts)
        return _unit(
            np.hstack([semantic * np.sqrt(1 - self.lexical), lexical * np.sqrt(self.lexical)])
        )


embedders: Registry[Embedder] = Registry("embedder")
embedders.add("hash", HashEmbedder)
embedders.add("llama", LlamaEmbedder)
embedders.add("llama-only", lambda **kw: LlamaEmbedder(lexical=0.0, **kw))


def _minilm(**options: object) -> Embedder:
    from accord.models.minilm import MiniLMEmbedder

    return MiniLMEmbedder(**options)  # type: ignore[arg-type]


embedders.add("minilm", _minilm)


@lru_cache(maxsize=8)
def get_embedder(name: str) -> Embedder:
    """A shared embedder instance by registered name (`hash`, `llama`, `llama-only`, `minilm`)."""
    return embedders.create(name)
