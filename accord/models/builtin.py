"""Registers the built-in backends; heavy imports happen only when one is built."""

from __future__ import annotations

from typing import Any

from accord.models.base import Backend, backends


@backends.register("llama")
def _llama(**options: Any) -> Backend:
    from accord.models.llama import LlamaBackend

    return LlamaBackend(**options)


@backends.register("scripted")
def _scripted(**options: Any) -> Backend:
    from accord.models.scripted import ScriptedBackend

    return ScriptedBackend(**options)


@backends.register("simulated")
def _simulated(**options: Any) -> Backend:
    from accord.models.simulated import SimulatedBackend

    return SimulatedBackend(**options)


@backends.register("openai")
def _openai(**options: Any) -> Backend:
    from accord.models.openai_http import OpenAIHTTPBackend

    return OpenAIHTTPBackend(**options)


@backends.register("faulty")
def _faulty(**options: Any) -> Backend:
    from accord.models.faulty import build_faulty

    return build_faulty(**options)


@backends.register("retry")
def _retry(**options: Any) -> Backend:
    from accord.models.retry import build_retry

    return build_retry(**options)
