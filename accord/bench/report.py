"""The bench report: a Markdown page and a Pareto plot, rendered from the stored run alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from accord.bench.stats import pareto_front
from accord.bench.store import BenchStore, PromptRow, SummaryRow
from accord.bench.strategies import BASELINE
from accord.errors import ConfigError


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _meta(run: dict[str, Any]) -> dict[str, Any]:
    meta = run.get("meta")
    return json.loads(meta) if isinstance(meta, str) else dict(meta or {})


def _label(run: dict[str, Any]) -> str:
    sources = _meta(run).get("sources")
    if sources:
        return f"replayed from the recorded answers of {sources} ({run['replay_seeds']} seeds)"
    if run["mode"] == "replay":
        return f"replayed from {run['samples_k']} recorded samples ({run['replay_seeds']} seeds)"
    return "live"


def is_peer(strategy: str) -> bool:
    """Whether a row is a peer framework (CrewAI, AutoGen, ...), not an accord strategy."""
    return strategy.startswith("peer:")


def _row_label(run: dict[str, Any], row: SummaryRow) -> str:
    if not is_peer(row.strategy):
        return _label(run)
    if run["mode"] == "replay":
        return "live peer (peers cannot be replayed: they run live)"
    return "live peer"


def headline_table(run: dict[str, Any], rows: list[SummaryRow]) -> str:
    """The per-strategy Markdown table."""
    sim = "simulated, " if run["simulated"] else ""
    head = (
        "| strategy | rows | items | accuracy % [95% CI] | Δ vs vote@5 [95% CI] | p (paired) | "
        "p Holm | "
        "prompt tok/item | completion tok/item | tokens vs vote@5 | wall ms/item | "
        "overhead ms/item | escalation % | cost USD/item | GFLOPs/item |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    base = next((r for r in rows if r.strategy == BASELINE), None)
    base_tokens = base.prompt_tokens + base.completion_tokens if base else None
    for r in rows:
        tokens = r.prompt_tokens + r.completion_tokens
        ratio = f"{tokens / base_tokens:.0%}" if base_tokens else "-"
        acc = f"{_pct(r.accuracy)} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]"
        if r.seed_low is not None:
            acc += f" (seeds {_pct(r.seed_low)}–{_pct(r.seed_high)})"
        delta = (
            "-"
            if r.delta is None
            else (
                f"{100 * r.delta:+.1f} [{100 * (r.delta_low or 0):+.1f}, "
                f"{100 * (r.delta_high or 0):+.1f}]"
            )
        )
        p = _p(r.p_value) + (f" ({r.test})" if r.test else "")
        gflops = None if r.flops is None else r.flops / 1e9
        lines.append(
            " | ".join(
                [
                    f"| {r.strategy}",
                    sim + _row_label(run, r),
                    str(r.n_items),
                    acc,
                    delta,
                    p,
                    _p(r.p_holm),
                    _num(r.prompt_tokens),
                    _num(r.completion_tokens),
                    ratio,
                    _num(r.wall_ms, 0),
                    _num(r.overhead_ms, 2),
                    _num(100 * r.escalation),
                    f"{r.cost_usd:.2g}",
                    _num(gflops, 1),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def plot_pareto(run: dict[str, Any], rows: list[SummaryRow], path: Path) -> Path:
    """Accuracy vs tokens per item, one point per strategy, the frontier drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(r.prompt_tokens + r.completion_tokens, r.accuracy) for r in rows]
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    labelled: set[str] = set()
    for r, (x, y) in zip(rows, points, strict=True):
        err = [[100 * (y - r.ci_low)], [100 * (r.ci_high - y)]]
        kind = (
            "peer (other framework, same backend)"
            if is_peer(r.strategy)
            else (f"baseline ({BASELINE})" if r.strategy == BASELINE else "accord")
        )
        ax.errorbar(
            x,
            100 * y,
            yerr=err,
            fmt="s" if is_peer(r.strategy) else "o",
            capsize=3,
            color="tab:orange"
            if is_peer(r.strategy)
            else ("tab:red" if r.strategy == BASELINE else "tab:blue"),
            label=None if kind in labelled else kind,
        )
        labelled.add(kind)
    _label_points(ax, [r.strategy for r in rows], [(x, 100 * y) for x, y in points])
    fx = [points[i][0] for i in front]
    fy = [100 * points[i][1] for i in front]
    ax.step(fx, fy, where="post", color="tab:green", label="Pareto frontier (all rows)")
    ax.set_xlabel("tokens per item (prompt + completion)")
    ax.set_ylabel("accuracy % (95% bootstrap CI)")
    title = f"{'SIMULATED · ' if run['simulated'] else ''}{run['backend']} · {_label(run)}"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _separate_labels(fig, ax)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _label_points(ax: Any, names: list[str], points: list[tuple[float, float]]) -> None:
    """One label per place: strategies at the same point share it ("single, validated")."""
    at: dict[tuple[float, float], list[str]] = {}
    for name, (x, y) in zip(names, points, strict=True):
        at.setdefault((round(x, 6), round(y, 6)), []).append(name)
    for (x, y), here in sorted(at.items()):
        ax.annotate(", ".join(here), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)


def _text_box(label: Any, renderer: Any) -> Any:
    """Where an annotation's text is drawn (without its line to the point)."""
    from matplotlib.text import Text

    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _separate_labels(fig: Any, ax: Any) -> None:
    """Move labels that would overlap another label up or down, nearest free place first."""
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    steps = [0, 10, -10, 20, -20, 30, -30, 40, -40]
    for label in sorted(ax.texts, key=lambda t: t.xy):
        base_x, base_y = label.xyann
        for step in steps:
            label.xyann = (base_x, base_y + step)
            box = _text_box(label, renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        else:
            step = 0
            label.xyann = (base_x, base_y)
        if step:  # a moved label gets a thin line to its point
            text, xy, offset = label.get_text(), label.xy, label.xyann
            label.remove()
            label = ax.annotate(
                text,
                xy,
                textcoords="offset points",
                xytext=offset,
                fontsize=8,
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 0},
            )
        placed.append(_text_box(label, renderer))


def _fence(text: str) -> str:
    return text.replace("```", "ʼʼʼ")


def peers_markdown(
    run: dict[str, Any],
    rows: list[SummaryRow],
    prompts: dict[str, list[PromptRow]],
    calls: dict[str, float],
) -> list[str]:
    """The section on peer rows: how they ran, and what each framework sent for one item."""
    from accord.bench.peers import FORMAT_TOKENS

    peer_rows = [r for r in rows if is_peer(r.strategy)]
    if not peer_rows:
        return []
    out = [
        "## Peers: CrewAI and AutoGen on the same backend and items",
        "",
        "Peer rows are other frameworks driven through accord's adapters (a CrewAI `BaseLLM`, "
        "an AutoGen `ChatCompletionClient`) on the same backend, model and items: `peer:crewai` "
        "builds one Agent + Task + Crew per item and calls `kickoff()`; `peer:autogen` builds "
        "one `AssistantAgent` per item and calls `run()`. Each gets accord's role (solver, goal "
        '"answer the question correctly"), the question as accord writes it (options and '
        "answer hint included), greedy decoding and accord's completion cap (CrewAI gets "
        f"{FORMAT_TOKENS} tokens more for the Thought/Final Answer lines its prompt asks for). "
        "Tokens and model time are the backend's own counts for every call the framework made; "
        "overhead is wall time minus model time. Answers are read with accord's parser "
        "(choices by whole words) and scored by the same scorer. Accord answers multiple-choice "
        "items by scoring the options; the peers can only generate text.",
        "",
    ]
    if run["mode"] == "replay":
        out += [
            "This run replays accord's strategies from recorded samples; peers cannot be "
            "replayed (they write their own prompts), so their rows ran live on the same items.",
            "",
        ]
    out += [
        "| strategy | LLM calls/item | prompt tok/item | overhead ms/item |",
        "|---|---|---|---|",
    ]
    for r in rows:
        if r.strategy in calls:
            out.append(
                f"| {r.strategy} | {calls[r.strategy]:.2f} | {_num(r.prompt_tokens)} "
                f"| {_num(r.overhead_ms, 2)} |"
            )
    shown = [s for s in ("accord", *(r.strategy for r in peer_rows)) if prompts.get(s)]
    if not shown:
        return [*out, ""]
    keys = set.intersection(*(set(p.item_key for p in prompts[s]) for s in shown))
    first = next((p for p in prompts[shown[0]] if p.item_key in keys), None)
    if first is None:
        return [*out, ""]
    out += ["", "What each sent the model for the same item (the first call):", ""]
    for name in shown:
        found = next(p for p in prompts[name] if p.item_key == first.item_key)
        head = "accord (each attempt, every strategy)" if name == "accord" else name
        calls_note = "" if name == "accord" else f", {found.calls} call(s) in all"
        out += [f"**{head}**{calls_note}:", "", "```"]
        for m in json.loads(found.messages):
            out.append(_fence(f"[{m['role']}] {m['content']}"))
        if found.reply:
            out.append(_fence(f"-> final reply: {found.reply!r}"))
        out += ["```", ""]
    return out


def _recorded_line(run: dict[str, Any]) -> list[str]:
    read = _meta(run).get("recorded")
    if not read:
        return []
    return [
        f"- recorded answers: {read['samples']:,} samples of the sources replayed, "
        f"{read['unread']:,} of them unreadable (no answer could be read: invalid votes)"
    ]


def write_summary_json(rows: list[SummaryRow], path: Path) -> Path:
    """Per strategy: label, items, accuracy, tokens per item, USD per item (for programs)."""
    data = [
        {
            "strategy": r.strategy,
            "label": r.description,
            "mode": r.mode,
            "items": r.n_items,
            "accuracy": r.accuracy,
            "ci": [r.ci_low, r.ci_high],
            "tokens_per_item": r.prompt_tokens + r.completion_tokens,
            "usd_per_item": r.cost_usd,
            "escalation": r.escalation,
        }
        for r in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"strategies": data}, indent=2) + "\n", encoding="utf-8")
    return path


def markdown(
    run: dict[str, Any],
    rows: list[SummaryRow],
    sources: list[tuple[str, int]],
    per_source: list[tuple[str, str, float, float]],
    plot_name: str,
    peers: list[str] | None = None,
) -> str:
    """The whole report page."""
    sim = run["simulated"]
    title = "Bench report" + (" (SIMULATED)" if sim else "")
    tasks = ", ".join(f"{name} ({n})" for name, n in sources)
    out = [f"# {title}: run `{run['run_id']}`", ""]
    if run.get("command"):
        out += ["Produced by:", "", "```", run["command"], "```", ""]
    out += [
        f"- backend: `{run['backend']}`{' — every figure here is simulated' if sim else ''}",
        f"- mode: {_label(run)}; seed {run['seed']}",
        f"- items: {run['n_items']} ({tasks})",
        *_recorded_line(run),
        f"- started {run['started_at']:%Y-%m-%d %H:%M} UTC, status {run['status']}",
        "",
        headline_table(run, rows),
        "",
        f"![Pareto plot]({plot_name})",
        "",
        "## Per task (accuracy %, tokens per item)",
        "",
    ]
    names = [r.strategy for r in rows]
    out.append("| task | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for source, strategy, acc, tokens in per_source:
        table.setdefault(source, {})[strategy] = (acc, tokens)
    for source, cells in table.items():
        values = [
            f"{100 * cells[n][0]:.1f} ({cells[n][1]:.0f})" if n in cells else "-" for n in names
        ]
        out.append(f"| {source} | " + " | ".join(values) + " |")
    out += ["", *(peers or [])]
    out += [
        "## How to read this",
        "",
        "- Accuracy intervals: percentile bootstrap over items (2,000 resamples); Wilson's "
        "binomial interval when every item is right (or every item wrong), where the "
        "bootstrap would collapse to a point. Replayed rows also show the 2.5–97.5% spread "
        "of accuracy over replay seeds.",
        "- Δ and p compare each strategy with vote@5 on the same items: exact McNemar for "
        "live rows, a sign-flip permutation test on per-item accuracy rates for replayed "
        "rows (exact enumeration up to 20 differing items, else 20,000 random flips).",
        "- p Holm: the p-values adjusted (Holm) for the family of every comparison with "
        "vote@5 in this run; read a single row's unadjusted p as one of that family. A "
        "threshold picked from the adaptive sweep is picked in-sample, on these same items: "
        "its Δ and p are optimistic for new items.",
        "- Overhead is wall time minus model time: the coordinator plus the call path "
        "(prompt building, parsing, normalisation). Replayed rows charge each drawn attempt "
        "its recorded call latency (model and call path, measured when it was recorded) "
        "and measure the coordinator while replaying.",
        "- Escalation: share of decisions that needed more than the first answer.",
        "- Cost: the ledger's price table (local models cost $0; FLOPs = 2 x params x tokens).",
        "- `peer:` rows are other frameworks on the same backend and items, always run live.",
        "",
    ]
    return "\n".join(out)


def _resolve(store: BenchStore, run_id: str, db: str | Path) -> dict[str, Any]:
    if run_id == "latest":
        run_id = store.latest_run() or run_id
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"no bench run {run_id!r} in {db}", hint="`accord bench` makes one")
    return run


def write_report(
    db: str | Path, run_ids: str | list[str], out: str | Path, *, page: str = "report.md"
) -> tuple[Path, list[Path]]:
    """Render bench runs from the database into `out`/`page` with one Pareto PNG per run.

    Several runs make one page with a section per run (how docs/RESULTS.md is made).
    """
    store = BenchStore(db)
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    runs = [_resolve(store, run_id, db) for run_id in ids]
    out = Path(out)
    stem = Path(page).stem
    sections, pngs = [], []
    for n, run in enumerate(runs, start=1):
        rows = store.summary(run["run_id"])
        name = (
            "pareto.png"
            if page == "report.md" and len(runs) == 1
            else (f"{stem}-pareto-{n}.png" if len(runs) > 1 else f"{stem}-pareto.png")
        )
        pngs.append(plot_pareto(run, rows, out / name))
        peers = peers_markdown(
            run, rows, store.prompts(run["run_id"]), store.calls_per_item(run["run_id"])
        )
        text = markdown(
            run, rows, store.sources(run["run_id"]), store.per_source(run["run_id"]), name, peers
        )
        if len(runs) > 1:
            text = text.replace("\n## ", "\n### ").replace("# Bench report", "## Bench report", 1)
        sections.append(text)
    header = ""
    if len(runs) > 1:
        names = " ".join(r["run_id"] for r in runs)
        header = (
            f"# Bench results\n\nThis page is generated by `accord report {names} --db {db} "
            f"--out {out} --page {page}`; each section gives the command that ran it.\n\n"
        )
    if len(runs) > 1:
        from accord.bench.agreement import agreement_markdown

        extra = agreement_markdown(store, runs)
        if extra:
            sections.append(extra + "\n")
    md = out / page
    md.write_text(header + "\n\n".join(sections), encoding="utf-8")
    return md, pngs
