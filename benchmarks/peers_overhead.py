"""Orchestration overhead and prompt economy: CrewAI, AutoGen and accord on the same LLM.

The same N arithmetic tasks go through a CrewAI sequential crew (one `kickoff` each), an AutoGen
`AssistantAgent` (reset between tasks) and an accord crew (in-process agents, and Ray actors),
all answering from ONE scripted zero-latency LLM: an accord `ScriptedBackend` behind accord's
CrewAI `BaseLLM` and AutoGen `ChatCompletionClient` adapters. Per framework it prints:

- overhead per task: (wall time of the run - time inside the LLM) / N, in ms; each framework
  is run at least `--repeats` times and until its timed runs add up to `--min-seconds` (a
  fast row gets more runs, so its median is as steady as a slow row's), and the median is
  reported with the min-max range and the number of runs;
- prompt tokens sent per task, counted with SmolLM2's tokenizer over every message sent;
- LLM calls per task and how many answers were right (so the work was really done).

    python benchmarks/peers_overhead.py [--n 100] [--repeats 5] [--min-seconds 1] [--no-ray]

Each row (each framework, each accord variant) is measured in a fresh Python process of its
own: the script re-runs itself with a hidden `--only ROW`, which measures that one row and
prints it as one JSON line, and the parent prints the table. In one shared process a row
measured later pays for what earlier rows left behind (CrewAI's background threads and event
bus, every module imported, garbage-collector pressure from their objects): accord in-process
measured ~0.48 ms/task in a process of its own but ~0.66 ms/task after CrewAI and AutoGen had
run in the same process. Each row's process also has a ledger file of its own.

Wall time includes everything a user pays per run (CrewAI: kickoff, its events and the
SQLite row it commits per kickoff; accord: coordinator, ledger writes to one DuckDB file that
persists across the row's runs, as `.accord/` does). Each accord run opens that file once
(attached to the process's DuckDB instance, ~1 ms) and closes it at the end (a checkpoint,
~7 ms for 100 decisions on a quiet machine), so that the file alone holds the run when
`crew.run` returns; `of which ledger` is the time spent inside accord's Ledger calls (~0.17 ms
of the per-task figure at N=100). Ray actor start-up is excluded (the pool is started once, before
timing), as CrewAI and AutoGen start nothing comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

os.environ.setdefault("CREWAI_TELEMETRY_OPT_OUT", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from accord.crews.crew import Crew
from accord.crews.spec import RoleSpec, TaskSpec
from accord.models.base import Completion, CompletionRequest, backends
from accord.models.gguf import locate
from accord.models.pricing import PriceTable
from accord.models.scripted import Scripted, ScriptedBackend

QUESTION = re.compile(r"What is (\d+) plus (\d+)\?")
# the rows, in the order they are measured and printed: `--only` key -> name in the table
ROWS: dict[str, str] = {
    "crewai": "CrewAI (sequential crew)",
    "autogen": "AutoGen (AssistantAgent)",
    "accord": "accord (in-process)",
    "ray": "accord (Ray actors)",
    "kept-open": "accord, ledger kept open",
    "no-ledger": "accord, no ledger (diag.)",
}
RESULT = "peers-row: "  # prefix of the one stdout line on which a row's process reports it
MAX_REPEATS = 100  # timed runs per row at the most, whatever --min-seconds asks


@dataclass
class Meter:
    """Counts what reaches the LLM: calls, time inside it, and every prompt sent."""

    calls: int = 0
    llm_s: float = 0.0
    ledger_s: float = 0.0
    prompts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.calls, self.llm_s, self.ledger_s, self.prompts = 0, 0.0, 0.0, []


class MeteredScripted(ScriptedBackend):
    """The one scripted LLM: answers the last arithmetic question in the prompt, instantly."""

    def __init__(self, meter: Meter) -> None:
        super().__init__(script=self._answer, model="scripted", name="peers-scripted")
        self.meter = meter

    @staticmethod
    def _answer(request: CompletionRequest) -> Scripted:
        found = QUESTION.findall("\n".join(m.content for m in request.messages))
        total = int(found[-1][0]) + int(found[-1][1]) if found else 0
        return Scripted(f"Thought: I now know the final answer\nFinal Answer: {total}", 0.95)

    def complete(self, request: CompletionRequest) -> Completion:
        start = time.perf_counter()
        out = super().complete(request)
        elapsed = time.perf_counter() - start
        with self.meter.lock:
            self.meter.calls += 1
            self.meter.llm_s += elapsed
            self.meter.prompts.append("\n".join(m.content for m in request.messages))
        return out


def make_tasks(n: int) -> list[tuple[str, int]]:
    return [(f"What is {17 + 3 * i} plus {5 + 7 * i}?", 22 + 10 * i) for i in range(n)]


def right(answer: str, expected: int) -> bool:
    numbers = re.findall(r"-?\d+", answer)
    return bool(numbers) and int(numbers[-1]) == expected


def run_crewai(backend: MeteredScripted, tasks: list[tuple[str, int]]) -> int:
    from crewai import Agent, Crew, Process, Task

    from accord.interop.crewai_llm import crewai_llm

    agent = Agent(
        role="Calculator",
        goal="Answer arithmetic questions correctly",
        backstory="You are careful with numbers.",
        llm=crewai_llm(backend),
        allow_delegation=False,
        verbose=False,
    )
    task = Task(
        description="{question} Answer with just the number.",
        expected_output="The number",
        agent=agent,
    )
    crew = Crew(agents=[agent], tasks=[task], process=Process.sequential, verbose=False)
    # one kickoff per task on the same crew: cheaper than kickoff_for_each, which copies the
    # crew for every input, so CrewAI's overhead is not overstated
    outputs = [crew.kickoff(inputs={"question": q}) for q, _ in tasks]
    return sum(right(o.raw, e) for o, (_, e) in zip(outputs, tasks, strict=True))


def run_autogen(backend: MeteredScripted, tasks: list[tuple[str, int]]) -> int:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core import CancellationToken

    from accord.interop.autogen_client import autogen_client

    agent = AssistantAgent(
        "calculator",
        model_client=autogen_client(backend),
        system_message="You answer arithmetic questions correctly.",
    )

    async def go() -> int:
        correct = 0
        for question, expected in tasks:
            await agent.on_reset(CancellationToken())
            result = await agent.run(task=f"{question} Answer with just the number.")
            correct += right(str(result.messages[-1].content), expected)
        return correct

    return asyncio.run(go())


def accord_crew(tasks: list[tuple[str, int]]) -> Crew:
    return Crew(
        name="peers",
        roles=[RoleSpec(name="calculator", goal="Answer arithmetic questions correctly")],
        tasks=[
            TaskSpec(id=f"t{i}", question=q, answer_type="number", expected=[str(e)])
            for i, (q, e) in enumerate(tasks)
        ],
    )


class NullLedger:
    """Diagnostic only: a ledger that writes nothing, to show what the ledger costs."""

    path = ":null:"
    prices = PriceTable()

    @contextmanager
    def run(self, crew: str, **_: object) -> Iterator[NullLedger]:
        yield self

    id = "null-run"

    @property
    def ledger(self) -> NullLedger:
        return self

    def record(self, *_: object, **__: object) -> None:
        pass


def run_accord_without_ledger(backend: MeteredScripted, tasks: list[tuple[str, int]]) -> int:
    result = accord_crew(tasks).run(backend="peers-scripted", pool="local", ledger=NullLedger())  # type: ignore[arg-type]
    return sum(bool(c) for c in result.correct.values())


def run_accord(pool: object, db: Path) -> Callable[[MeteredScripted, list[tuple[str, int]]], int]:
    def run(backend: MeteredScripted, tasks: list[tuple[str, int]]) -> int:
        result = accord_crew(tasks).run(db=db, backend="peers-scripted", pool=pool)  # type: ignore[arg-type]
        return sum(bool(c) for c in result.correct.values())

    return run


def run_accord_kept_open(db: Path) -> Callable[[MeteredScripted, list[tuple[str, int]]], int]:
    """accord in-process, every run on one `Ledger(keep_open=True)`: a process that runs crews
    back to back keeps the DuckDB file open between runs (no per-run open and close)."""
    from accord.ledger.writer import Ledger

    ledger = Ledger(db, keep_open=True)

    def run(backend: MeteredScripted, tasks: list[tuple[str, int]]) -> int:
        result = accord_crew(tasks).run(backend="peers-scripted", pool="local", ledger=ledger)
        return sum(bool(c) for c in result.correct.values())

    return run


@dataclass
class Row:
    name: str
    overhead_ms: list[float]
    calls: float
    prompt_tokens: float
    correct: int
    ledger_ms: list[float] = field(default_factory=list)
    # overhead of whole runs of the half-size task list (ms per run): with the full runs it
    # splits the overhead into a fixed part per run and a part per task
    half_run_ms: list[float] = field(default_factory=list)

    def split(self, n: int) -> tuple[float, float]:
        """(fixed ms per run, ms per task) from runs of `n` and of `n // 2` tasks."""
        full = statistics.median(self.overhead_ms) * n
        half = statistics.median(self.half_run_ms)
        per_task = (full - half) / (n - n // 2)
        return full - per_task * n, per_task


def measure(
    name: str,
    run: Callable[[MeteredScripted, list[tuple[str, int]]], int],
    backend: MeteredScripted,
    tasks: list[tuple[str, int]],
    repeats: int,
    count_tokens: Callable[[str], int],
    min_seconds: float = 0.0,
) -> Row:
    """Time `run` at least `repeats` times and until the timed runs add up to `min_seconds`
    (at most MAX_REPEATS): a short run (accord's, ~30 ms) is then sampled as often as a long
    one (CrewAI's, ~350 ms) is sampled for its duration, and its median is as steady."""
    run(backend, tasks[:5])  # warm-up: imports, caches, first-call set-up
    overheads, ledger, correct, spent = [], [], 0, 0.0
    while len(overheads) < repeats or (spent < min_seconds and len(overheads) < MAX_REPEATS):
        backend.meter.reset()
        start = time.perf_counter()
        correct = run(backend, tasks)
        wall = time.perf_counter() - start
        spent += wall
        overheads.append((wall - backend.meter.llm_s) * 1000.0 / len(tasks))
        ledger.append(backend.meter.ledger_s * 1000.0 / len(tasks))
    meter = backend.meter
    calls = meter.calls / len(tasks)
    tokens = sum(count_tokens(p) for p in meter.prompts) / len(tasks) if meter.prompts else 0.0
    halves = []
    for _ in overheads:  # as many runs on half the tasks, for the fixed/per-task split
        backend.meter.reset()
        start = time.perf_counter()
        run(backend, tasks[: len(tasks) // 2])
        halves.append((time.perf_counter() - start - backend.meter.llm_s) * 1000.0)
    return Row(name, overheads, calls, tokens, correct, ledger, halves)


def time_ledger(meter: Meter) -> None:
    """Instrument (not change) accord's ledger: time spent in it (opening the DuckDB file,
    recording the run, buffering, writing batches, closing)."""
    from accord.ledger.writer import Ledger

    def timed(method: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                meter.ledger_s += time.perf_counter() - start

        return wrapper

    for name in ("__init__", "start_run", "record", "finish_run", "close"):
        setattr(Ledger, name, timed(getattr(Ledger, name)))


@functools.cache
def tokenizer() -> Callable[[str], int]:
    """SmolLM2's tokenizer (vocabulary only, no weights loaded)."""
    from llama_cpp import Llama

    vocab = Llama(model_path=str(locate("smollm2")[1]), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False, special=False))


def count_tokens(text: str) -> int:
    """Loads the tokenizer at first use, after a row's timed runs: llama.cpp is not loaded
    into the process while it is being measured."""
    return tokenizer()(text)


def table(rows: list[Row], n: int) -> str:
    head = (
        f"{'framework':<26} {'overhead ms/task (median, min-max)':>36} "
        f"{'prompt tok/task':>16} {'LLM calls/task':>15} {'correct':>9} "
        f"{'of which ledger ms/task':>24} {'runs':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        med = statistics.median(r.overhead_ms)
        spread = f"{med:8.3f} ({min(r.overhead_ms):.3f}-{max(r.overhead_ms):.3f})"
        ledger = f"{statistics.median(r.ledger_ms):.3f}" if any(r.ledger_ms) else "-"
        lines.append(
            f"{r.name:<26} {spread:>36} {r.prompt_tokens:16.1f} {r.calls:15.2f} "
            f"{r.correct:>5}/{n} {ledger:>24} {len(r.overhead_ms):>5}"
        )
    return "\n".join(lines)


def measure_ray(
    backend: MeteredScripted,
    tasks: list[tuple[str, int]],
    repeats: int,
    count: Callable[[str], int],
    db: Path,
    min_seconds: float,
) -> Row:
    """accord on Ray actors; the scripted backend runs in the actor, so the LLM time and
    prompts are taken from the same prompts as in-process (they are identical)."""
    import ray

    from accord.crews.plan import agent_specs
    from accord.roles.actor import ensure_ray
    from accord.roles.pool import RayPool

    ensure_ray(num_cpus=2)
    specs = agent_specs(
        accord_crew(tasks).spec,
        backend="scripted",
        backend_options={"script": MeteredScripted._answer},
    )
    pool = RayPool(specs)
    try:

        def run(_: MeteredScripted, items: list[tuple[str, int]]) -> int:
            result = accord_crew(items).run(db=db, pool=pool)
            return sum(bool(c) for c in result.correct.values())

        local = measure("accord (Ray actors)", run, backend, tasks, repeats, count, min_seconds)
    finally:
        pool.close()
        ray.shutdown()  # now: this process leaves without running exit hooks (`print_row`)
    # the actors' LLM time is not visible here; it is ~0 (scripted), so overhead ~= wall
    reference = measure("-", run_accord("local", db), backend, tasks, 1, count)
    local.prompt_tokens, local.calls = reference.prompt_tokens, reference.calls
    return local


def runner(key: str, db: Path) -> Callable[[MeteredScripted, list[tuple[str, int]]], int]:
    if key == "kept-open":
        return run_accord_kept_open(db)
    runners = {
        "crewai": run_crewai,
        "autogen": run_autogen,
        "accord": run_accord("local", db),
        "no-ledger": run_accord_without_ledger,
    }
    return runners[key]


def measure_row(key: str, n: int, repeats: int, min_seconds: float) -> Row:
    """One row, in this process (which should run nothing else). One ledger file for every
    accord run of the row, as in a project (`.accord/`): the warm-up run creates it, so timed
    runs pay for their writes, not for creating the schema."""
    meter = Meter()
    backend = MeteredScripted(meter)
    backends.add("peers-scripted", lambda **_: backend)
    time_ledger(meter)
    tasks = make_tasks(n)
    with tempfile.TemporaryDirectory(prefix="peers-", ignore_cleanup_errors=True) as tmp:
        db = Path(tmp) / "ledger.duckdb"
        if key == "ray":
            return measure_ray(backend, tasks, repeats, count_tokens, db, min_seconds)
        run = runner(key, db)
        return measure(ROWS[key], run, backend, tasks, repeats, count_tokens, min_seconds)


def print_row(row: Row) -> NoReturn:
    """Prints the row for the parent, then leaves at once, without exit hooks: CrewAI's event
    handlers queue a 5 s wait per kickoff (for a console tree it draws only when verbose) on
    non-daemon threads that the interpreter would join at exit, ~2.5 min after 300 kickoffs of
    waiting that measures nothing."""
    print(RESULT + json.dumps(asdict(row)), flush=True)
    sys.stderr.flush()
    os._exit(0)


def run_row(key: str, n: int, repeats: int, min_seconds: float) -> Row:
    """Measures one row in a fresh Python process (this script with `--only KEY`); its stderr
    goes to ours, anything else it prints on stdout goes to our stderr."""
    command = [sys.executable, str(Path(__file__).resolve()), "--only", key]
    command += ["--n", str(n), "--repeats", str(repeats), "--min-seconds", str(min_seconds)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"peers_overhead: row {ROWS[key]!r} (--only {key}) failed with exit code "
            f"{done.returncode}; its stderr is above"
        )
    lines = done.stdout.splitlines()
    results = [line.removeprefix(RESULT) for line in lines if line.startswith(RESULT)]
    sys.stderr.writelines(f"{line}\n" for line in lines if not line.startswith(RESULT))
    if not results:
        raise SystemExit(f"peers_overhead: row {ROWS[key]!r} (--only {key}) printed no result")
    return Row(**json.loads(results[-1]))


def report(rows: dict[str, Row], n: int, repeats: int, min_seconds: float) -> None:
    print(
        f"{n} tasks, one scripted zero-latency LLM, at least {repeats} timed runs per row and "
        f"{min_seconds:g} s of them (after a 5-task warm-up), each framework in its own fresh "
        f"process; tokens counted with SmolLM2's tokenizer\n"
    )
    print(table(list(rows.values()), n))
    print(
        f"\nthe same overhead as a cost model, from runs of {n} and {n // 2} tasks "
        "(fixed ms per run + ms per task):"
    )
    for row in rows.values():
        fixed, per_task = row.split(n)
        print(f"  {row.name:<26} {fixed:8.1f} ms per run + {per_task:6.3f} ms per task")
    print(
        "  (a negative fixed part: the cost per task grows with the run's length; "
        "fixed parts near 0 are within the noise)"
    )
    crewai, accord = rows["crewai"], rows["accord"]
    ratio = statistics.median(crewai.overhead_ms) / statistics.median(accord.overhead_ms)
    share = accord.prompt_tokens / crewai.prompt_tokens
    print(
        f"\naccord (in-process) vs CrewAI: overhead {ratio:.1f}x lower (target >= 10x), "
        f"prompt tokens {share:.2f} of CrewAI's (target <= 0.33)"
    )
    marginal = crewai.split(n)[1] / accord.split(n)[1]
    print(f"  per task beyond the fixed per-run cost: {marginal:.1f}x lower")
    print(
        "(the `no ledger` row writes nothing: a diagnostic of where accord's time goes, "
        "not a configuration anyone should run; `ledger kept open` records everything, on one "
        "Ledger(keep_open=True) that keeps the file open between back-to-back runs)"
    )
    for key, row in rows.items():
        if key not in ("crewai", "autogen", "accord"):
            r = statistics.median(crewai.overhead_ms) / statistics.median(row.overhead_ms)
            print(f"{row.name} vs CrewAI: overhead {r:.1f}x lower")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="tasks per framework")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row, at least")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="a row's timed runs add up to this at least (more runs for fast rows)",
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray-actor accord row")
    # internal: measure one row in this process and print it as one JSON line
    parser.add_argument("--only", choices=list(ROWS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print_row(measure_row(args.only, args.n, args.repeats, args.min_seconds))
    locate("smollm2")  # fail now, not after minutes of measuring, if the tokenizer is missing
    keys = [key for key in ROWS if not (args.no_ray and key == "ray")]
    rows = {key: run_row(key, args.n, args.repeats, args.min_seconds) for key in keys}
    report(rows, args.n, args.repeats, args.min_seconds)


if __name__ == "__main__":
    main()
