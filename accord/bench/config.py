"""What a bench run is told: `BenchConfig`, and where it reports progress (`ProgressSink`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from accord.bench.deciders import PoolKind
from accord.ledger.writer import DEFAULT_PATH

Mode = Literal["live", "replay"]


class ProgressSink(Protocol):
    """Where a bench reports progress (the CLI draws a rich bar; tests can ignore it)."""

    def start(self, phase: str, total: int) -> None:
        """A phase of `total` steps begins."""
        ...

    def advance(self, steps: int = 1, note: str = "") -> None:
        """`steps` more steps are done."""
        ...


class Silent:
    """A progress sink that shows nothing."""

    def start(self, phase: str, total: int) -> None:
        """Nothing to show."""

    def advance(self, steps: int = 1, note: str = "") -> None:
        """Nothing to show."""


@dataclass
class BenchConfig:
    """What to bench: tasks, strategies, backend and where results go."""

    tasks: str = "arithmetic__1_digit_addition"
    strategies: str = "single,vote@3,vote@5,early-stop,adaptive"
    limit: int | None = None
    seed: int = 0
    backend: str = "llama"
    backend_options: dict[str, object] = field(default_factory=dict)
    db: Path = DEFAULT_PATH
    out: Path | None = None
    replay: int = 0
    replay_seeds: int = 20
    pool: PoolKind = "local"
    command: str = ""
    ledger: bool | None = None  # ledger rows per decision; default: all but simulated runs
    fresh: bool = False  # re-run live rows even when cached (replay samples are still reused)
    rerecord: bool = False  # drop this backend's and seed's recorded samples and draw them again
    sources: str = ""  # replay the recorded file's sources as roles ("a,b;c": tiers by ';')

    @property
    def mode(self) -> Mode:
        """`replay` when recorded samples (K drawn per item, or `sources`) are replayed."""
        return "replay" if self.replay > 0 or self.sources else "live"
