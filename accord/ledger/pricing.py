"""The cost model: money from a per-model price table, FLOPs from parameter counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, prompt and completion, and the model's parameter count."""

    prompt_usd_per_mtok: float = 0.0
    completion_usd_per_mtok: float = 0.0
    parameters: float | None = None


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

    def usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Money for the given tokens on `model`."""
        price = self.prices.get(model, _FREE)
        return (
            prompt_tokens * price.prompt_usd_per_mtok
            + completion_tokens * price.completion_usd_per_mtok
        ) / 1e6

    def flops(self, model: str, tokens: int) -> float | None:
        """Forward-pass FLOPs, 2 x parameters x tokens, for models with a known size."""
        price = self.prices.get(model)
        if price is None or price.parameters is None:
            return None
        return 2.0 * price.parameters * tokens
