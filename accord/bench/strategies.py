"""Bench strategies by name: `single`, `vote@5`, `adaptive@0.8`, `adaptive-sweep`, `cascade`, ...

A strategy is a policy (run by the real Coordinator), a cascade of tiers, or a *peer*: another
framework driven through an adapter. Peers register a factory in `peers`; the bench then runs them
on the same items and backend as the policies (see `Decider`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from accord.consensus.policy import PolicySpec
from accord.consensus.records import Decision, Task
from accord.errors import ConfigError
from accord.registry import Registry

N = TypeVar("N", int, float)

SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
DEFAULT_THRESHOLD = 0.8
BASELINE = "vote@5"


class Decider(Protocol):
    """Anything that decides one task: a coordinator with a policy, a cascade, a peer."""

    async def decide(self, task: Task) -> Decision:
        """The decision for `task`, with every attempt it cost."""
        ...


PeerFactory = Callable[..., Decider]
# Peers (CrewAI, AutoGen, ...) register here: a factory called with backend, backend_options
# and seed. The built-in ones import accord.bench.peers (and so the framework) only
# when a bench asks for them.
peers: Registry[Decider] = Registry("peer")
PEER_DESCRIPTIONS = {
    "crewai": "CrewAI Agent + Task + Crew.kickoff per item (peer, same backend)",
    "autogen": "AutoGen AssistantAgent.run per item (peer, same backend)",
}


def _builtin_peer(name: str) -> PeerFactory:
    def factory(**options: object) -> Decider:
        from accord.bench.peers import create_peer

        return create_peer(name, **options)

    return factory


for _name in PEER_DESCRIPTIONS:
    peers.add(_name, _builtin_peer(_name))


def check_peer(name: str) -> None:
    """Fail early, naming the pip extra, when a built-in peer's framework is not installed."""
    if name in PEER_DESCRIPTIONS:
        from accord.bench.peers import check_installed

        check_installed(name)


@dataclass(frozen=True, slots=True)
class Strategy:
    """One row of the bench: a name, and how it decides (policy, cascade tiers or a peer)."""

    name: str
    policy: PolicySpec | None = None
    tiers: int = 1
    peer: str | None = None
    description: str = ""

    @property
    def is_peer(self) -> bool:
        """Another framework driven through an adapter (always run live)."""
        return self.peer is not None


def _peer(peer: str) -> Strategy:
    peers.get(peer)  # an unknown peer lists the known ones
    description = PEER_DESCRIPTIONS.get(peer, f"{peer} (peer)")
    return Strategy(f"peer:{peer}", peer=peer, description=description)


def _adaptive(threshold: float) -> PolicySpec:
    return PolicySpec(kind="adaptive", threshold=threshold, k=5, stopping="beta@0.95")


def _fixed(name: str) -> list[Strategy]:
    if name == "adaptive-sweep":
        return [
            Strategy(
                f"adaptive@{t:g}", _adaptive(t), description=f"adaptive, threshold {t:g} (sweep)"
            )
            for t in SWEEP
        ]
    table = {
        "single": Strategy(
            "single", PolicySpec(kind="single"), description="one greedy answer from the primary"
        ),
        "validated": Strategy(
            "validated",
            PolicySpec(kind="adaptive", threshold=0.0, k=5, stopping="beta@0.95"),
            description="single; a vote only when validation fails",
        ),
        "early-stop": Strategy(
            "early-stop",
            PolicySpec(kind="vote", k=5, stopping="window@3"),
            description="vote of up to 5, stops on 3 unanimous (ESC)",
        ),
        "adaptive": Strategy(
            f"adaptive@{DEFAULT_THRESHOLD:g}",
            _adaptive(DEFAULT_THRESHOLD),
            description="single; Beta-rule vote (c=0.95, k<=5) when unsure",
        ),
        "cascade": Strategy(
            "cascade",
            _adaptive(DEFAULT_THRESHOLD),
            tiers=2,
            description="adaptive on tier 1, climb to tier 2 while unsure",
        ),
    }
    return [table[name]]


def parse_strategy(name: str) -> list[Strategy]:
    """The strategies a name stands for (a sweep stands for several)."""
    name = name.strip()
    if name.startswith("vote@"):
        k = _number(name, name[5:], int)
        return [
            Strategy(
                f"vote@{k}",
                PolicySpec(kind="vote", k=k, stopping="fixed"),
                description=f"majority of {k} sampled answers",
            )
        ]
    if name.startswith("adaptive@"):
        t = _number(name, name[9:], float)
        return [Strategy(f"adaptive@{t:g}", _adaptive(t), description=f"adaptive, threshold {t:g}")]
    if name == "peers":
        names = [*PEER_DESCRIPTIONS, *(n for n in peers.names() if n not in PEER_DESCRIPTIONS)]
        return [_peer(peer) for peer in names]
    if name.startswith("peer:") or name in peers:
        return [_peer(name.removeprefix("peer:"))]
    try:
        return _fixed(name)
    except KeyError:
        known = "single, validated, vote@K, early-stop, adaptive, adaptive@T, adaptive-sweep, "
        known += "cascade, peer:NAME (" + ", ".join(peers.names()) + "), peers"
        raise ConfigError(f"unknown strategy {name!r}", hint=f"known: {known}") from None


def parse_strategies(text: str) -> list[Strategy]:
    """Comma-separated names to strategies, in order, without duplicates."""
    seen: dict[str, Strategy] = {}
    for part in text.split(","):
        if part.strip():
            for strategy in parse_strategy(part):
                seen.setdefault(strategy.name, strategy)
    if not seen:
        raise ConfigError("no strategies given", hint="e.g. --strategies single,vote@5,adaptive")
    return list(seen.values())


def _number(name: str, text: str, kind: Callable[[str], N]) -> N:
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"bad strategy {name!r}", hint="e.g. vote@5 or adaptive@0.8") from None
    if value <= 0:
        raise ConfigError(f"bad strategy {name!r}: the number must be > 0")
    return value
