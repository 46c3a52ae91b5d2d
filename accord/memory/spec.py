"""The `memory:` section of a crew file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MemorySpec(BaseModel):
    """Per-crew memory controls: on/off, prompt budget, retrieval and retention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    budget_tokens: int = Field(
        default=200, ge=0, le=8192, description="tokens of memory allowed in each prompt"
    )
    top_k: int = Field(default=5, ge=0, le=100, description="long-term memories retrieved")
    min_similarity: float = Field(default=0.35, ge=-1.0, le=1.0)
    embedder: str = Field(default="llama", description="hash, llama or llama-only")
    long_term: bool = Field(default=True, description="remember across runs")
    max_items: int | None = Field(default=10_000, ge=0, description="kept per crew")
    max_age_days: float | None = Field(default=None, gt=0)
    goals: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _embedder_exists(self) -> MemorySpec:
        from accord.models.embed import embedders

        embedders.get(self.embedder)
        return self
