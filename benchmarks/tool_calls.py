"""Tool-call validity on the embedded model: grammar-constrained decoding vs free decoding.

For each goal of the refund crew (configs/refund.yaml) and each seed, the llama backend is
asked once, with the shop's tools offered (accord/tools/shop.py), for its next step; the
same prompts, seeds and temperature run twice, decoded under the tool-reply grammar
(`constrain=True`, the default) and freely (`constrain=False`: same prompt, same reading of
the reply, which also accepts a JSON object inside other text). A reply counts as a valid
call when it parses, names an offered tool and its arguments pass that tool's validation
(`Tool.validate`); replies that are no call (a final answer, prose, JSON that does not read
as a call) are counted apart: every goal needs a call first. Also printed: how many valid
calls name the goal's own order, and the mean wall time per reply (the two modes take turns
going first, so each pays for evaluating half the prompts; on a shared machine the times are
indicative only).

    python benchmarks/tool_calls.py [--seeds 3] [--temperature 0.7] [--max-tokens 128] [--json F]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from accord.models.base import Completion, CompletionRequest, Message
from accord.models.llama import LlamaBackend
from accord.tools.base import ToolSet
from accord.tools.shop import shop_tools

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "You are a customer support agent of a shop. Resolve the request with the shop's tools."


@dataclass
class Tally:
    """Outcomes of one decoding mode."""

    attempts: int = 0
    valid: int = 0
    right_order: int = 0
    bad_arguments: int = 0
    no_call: int = 0
    wall_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def add(self, reply: Completion, shop: ToolSet, order: str | None) -> None:
        self.attempts += 1
        self.wall_ms.append(reply.usage.wall_ms)
        if not reply.tool_calls:
            self.no_call += 1
            if len(self.examples) < 2:
                self.examples.append(reply.text[:120])
            return
        call = reply.tool_calls[0]
        try:
            args = shop.tools[call.name].validate(call.arguments)
        except ValidationError:
            self.bad_arguments += 1
            return
        self.valid += 1
        self.right_order += args.get("order_id") == order

    def row(self, mode: str) -> str:
        mean = sum(self.wall_ms) / max(1, len(self.wall_ms))
        return (
            f"{mode:<12} valid calls {self.valid}/{self.attempts}  "
            f"(naming the goal's order {self.right_order})  "
            f"bad arguments {self.bad_arguments}  no call {self.no_call}  "
            f"mean {mean:.0f} ms/reply"
        )


def goals() -> list[tuple[str, str]]:
    """(id, goal) of each goal in configs/refund.yaml."""
    spec = yaml.safe_load((ROOT / "configs" / "refund.yaml").read_text())
    return [(g["id"], g["goal"]) for g in spec["goals"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        shop = shop_tools(db=str(Path(tmp) / "shop.duckdb"), reset=True)
        tools = tuple(shop.schemas())
        backend = LlamaBackend(seed=0)
        tallies = {"grammar": Tally(), "free": Tally()}
        start = time.perf_counter()
        turn = 0
        for _, goal in goals():
            order = (re.findall(r"\b[A-Z]\d{3}\b", goal) or [None])[0]
            messages = (Message("system", SYSTEM), Message("user", goal))
            for seed in range(args.seeds):
                request = CompletionRequest(
                    messages=messages,
                    tools=tools,
                    max_tokens=args.max_tokens,
                    temperature=args.temperature,
                    seed=seed,
                )
                modes = list(tallies) if turn % 2 == 0 else list(reversed(tallies))
                turn += 1
                for mode in modes:
                    backend.constrain = mode == "grammar"
                    tallies[mode].add(backend.complete(request), shop, order)
        backend.close()
    print(
        f"tool-call validity, embedded {backend.model}, {len(goals())} refund goals x "
        f"{args.seeds} seeds, temperature {args.temperature}, max_tokens {args.max_tokens}, "
        f"{len(tools)} shop tools offered ({time.perf_counter() - start:.0f} s)"
    )
    for mode, tally in tallies.items():
        print(tally.row(mode))
    for mode, tally in tallies.items():
        for text in tally.examples:
            print(f"  {mode} reply that is no call: {text!r}")
    if args.json:
        figures = {
            m: {k: v for k, v in vars(t).items() if k != "examples"} for m, t in tallies.items()
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
