"""The cost model: money from a per-model price table, FLOPs from parameter counts.

Money is what a provider bills: prompt tokens a server reported as read from its prompt cache
(`cached_prompt_tokens`, e.g. OpenAI's `usage.prompt_tokens_details.cached_tokens`) are
priced at the model's cached-input price, the rest of the prompt at the input price, and
completion tokens at the output price. A model without a cached-input price bills cached
tokens as ordinary input (the local backends' reused prompt states then cost what they did).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens (input, output, cached input) and the model's parameter count.

    `cached_prompt_usd_per_mtok` None means cached input costs the input price.
    """

    prompt_usd_per_mtok: float = 0.0
    completion_usd_per_mtok: float = 0.0
    parameters: float | None = None
    cached_prompt_usd_per_mtok: float | None = None

    @property
    def cached_rate(self) -> float:
        """USD per million cached prompt tokens."""
        if self.cached_prompt_usd_per_mtok is None:
            return self.prompt_usd_per_mtok
        return self.cached_prompt_usd_per_mtok


_FREE = Price()  # an unknown model's price

DEFAULT_PRICES: dict[str, Price] = {
    "smollm2-135m": Price(parameters=135e6),
    "gemma3-270m": Price(parameters=270e6),
    "scripted": Price(),
}


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices by model name; unknown models cost nothing but are still counted in tokens."""

    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def with_overrides(self, overrides: Mapping[str, Price]) -> PriceTable:
        """A table with `overrides` replacing or adding entries."""
        return PriceTable({**self.prices, **overrides})

    def usd(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_prompt_tokens: int = 0,
    ) -> float:
        """Money billed for the given tokens on `model`; `cached_prompt_tokens` are part of
        `prompt_tokens` and priced at the cached-input price."""
        price = self.prices.get(model, _FREE)
        cached = min(max(cached_prompt_tokens, 0), prompt_tokens)
        return (
            (prompt_tokens - cached) * price.prompt_usd_per_mtok
            + cached * price.cached_rate
            + completion_tokens * price.completion_usd_per_mtok
        ) / 1e6

    def flops(self, model: str, tokens: int) -> float | None:
        """Forward-pass FLOPs, 2 x parameters x tokens, for models with a known size."""
        price = self.prices.get(model)
        if price is None or price.parameters is None:
            return None
        return 2.0 * price.parameters * tokens
