"""Registers the built-in backends; heavy imports happen only when one is built."""

from __future__ import annotations

from accord.models.base import Backend, backends


@backends.register("llama")
def _llama(**options: object) -> Backend:
    from accord.models.llama import LlamaBackend

    return LlamaBackend(**options)  # type: ignore[arg-type]


@backends.register("scripted")
def _scripted(**options: object) -> Backend:
    from accord.models.scripted import ScriptedBackend

    return ScriptedBackend(**options)  # type: ignore[arg-type]


@backends.register("simulated")
def _simulated(**options: object) -> Backend:
    from accord.models.simulated import SimulatedBackend

    return SimulatedBackend(**options)  # type: ignore[arg-type]


@backends.register("openai")
def _openai(**options: object) -> Backend:
    from accord.models.openai_http import OpenAIHTTPBackend

    return OpenAIHTTPBackend(**options)  # type: ignore[arg-type]


@backends.register("faulty")
def _faulty(**options: object) -> Backend:
    from accord.models.faulty import build_faulty

    return build_faulty(**options)  # type: ignore[arg-type]


@backends.register("retry")
def _retry(**options: object) -> Backend:
    from accord.models.retry import build_retry

    return build_retry(**options)  # type: ignore[arg-type]
