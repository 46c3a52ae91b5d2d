"""OpenTelemetry traces of ledger runs, in the GenAI semantic conventions, over OTLP/HTTP.

A run becomes one trace: an `invoke_workflow` span for the run, an `invoke_agent` span per
decision and a `chat` span per attempt, with the GenAI attributes tracing back-ends read
(`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...) and accord's
own (`accord.path`, `accord.stop_reason`, `accord.confidence`, `accord.cost_usd`, ...).

Spans are built from the ledger's rows, not recorded while the run works, so the same code
exports a run that just finished (`accord run` with `OTEL_EXPORTER_OTLP_ENDPOINT` set) and any
earlier run (`accord traces RUN`). Times come from the ledger: a decision ends at its
`decided_at` and lasts its `wall_ms`; the ledger keeps no start time per attempt, so an
attempt's span starts with its decision and lasts the attempt's recorded model time.

Needs the `otel` extra (`pip install 'accord[otel]'`: opentelemetry-sdk and the OTLP/HTTP
exporter); nothing is imported from OpenTelemetry until a run is exported.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.errors import ConfigError
from accord.ledger.reader import open_readonly, rows

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_INSTALL = "pip install 'accord[otel]'"

Attributes = dict[str, str | bool | int | float]


@dataclass(frozen=True, slots=True)
class SpanData:
    """One span to export: its name, times (ns since the epoch), parent and attributes."""

    name: str
    start_ns: int
    end_ns: int
    attributes: Attributes
    parent: int | None = None  # index of the parent in the run's span list
    error: str | None = None
    children: list[int] = field(default_factory=list, compare=False)


def endpoint_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL the standard variables name, or None when none is set.

    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is; `OTEL_EXPORTER_OTLP_ENDPOINT` is a
    base URL that gets `/v1/traces` appended, as the OpenTelemetry specification says.
    """
    env = os.environ if env is None else env
    if env.get(ENDPOINT_VARS[0]):
        return env[ENDPOINT_VARS[0]]
    base = env.get(ENDPOINT_VARS[1])
    return f"{base.rstrip('/')}/v1/traces" if base else None


def _ns(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() * 1e9)


def _clean(attrs: Mapping[str, Any]) -> Attributes:
    """Attributes without the unset ones (OpenTelemetry has no null)."""
    return {k: v for k, v in attrs.items() if v is not None}


def _run_span(run: Mapping[str, Any], decisions: Sequence[Mapping[str, Any]]) -> SpanData:
    start = _ns(run["started_at"])
    ends = [_ns(d["decided_at"]) for d in decisions]
    end = _ns(run["finished_at"]) if run["finished_at"] is not None else max(ends, default=start)
    return SpanData(
        name=f"invoke_workflow {run['crew']}",
        start_ns=start,
        end_ns=max(end, start),
        attributes=_clean(
            {
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.conversation.id": run["run_id"],
                "gen_ai.provider.name": run["backend"],
                "accord.run_id": run["run_id"],
                "accord.crew": run["crew"],
                "accord.status": run["status"],
                "accord.policy": run["policy"],
                "gen_ai.usage.input_tokens": sum(int(d["prompt_tokens"]) for d in decisions),
                "gen_ai.usage.output_tokens": sum(int(d["completion_tokens"]) for d in decisions),
                "accord.cost_usd": sum(float(d["cost_usd"]) for d in decisions),
            }
        ),
    )


def _decision_span(d: Mapping[str, Any], role: str | None) -> SpanData:
    end = _ns(d["decided_at"])
    return SpanData(
        name=f"invoke_agent {role}" if role else f"invoke_agent {d['task_id']}",
        start_ns=end - int(float(d["wall_ms"]) * 1e6),
        end_ns=end,
        parent=0,
        error=None if d["status"] == "accepted" else f"unresolved: {d['stop_reason']}",
        attributes=_clean(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": role,
                "gen_ai.usage.input_tokens": int(d["prompt_tokens"]),
                "gen_ai.usage.output_tokens": int(d["completion_tokens"]),
                "accord.task_id": d["task_id"],
                "accord.path": d["path"],
                "accord.stop_reason": d["stop_reason"],
                "accord.status": d["status"],
                "accord.attempts": int(d["n_attempts"]),
                "accord.confidence": d["confidence"],
                "accord.cost_usd": float(d["cost_usd"]),
                "accord.correct": d["correct"],
            }
        ),
    )


def _attempt_span(a: Mapping[str, Any], parent: int, start_ns: int, end_ns: int) -> SpanData:
    end = min(start_ns + int(float(a["model_ms"]) * 1e6), end_ns)
    return SpanData(
        name=f"chat {a['model']}",
        start_ns=start_ns,
        end_ns=max(end, start_ns),
        parent=parent,
        error=None if a["verdict_ok"] else (a["verdict_reason"] or "invalid answer"),
        attributes=_clean(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": a["model"],
                "gen_ai.response.model": a["model"],
                "gen_ai.agent.name": a["role"],
                "gen_ai.request.temperature": float(a["temperature"]),
                "gen_ai.request.seed": int(a["seed"]),
                "gen_ai.usage.input_tokens": int(a["prompt_tokens"]),
                "gen_ai.usage.output_tokens": int(a["completion_tokens"]),
                "gen_ai.usage.cache_read.input_tokens": a.get("cached_prompt_tokens"),
                "accord.attempt.kind": a["kind"],
                "accord.attempt.no": int(a["attempt_no"]),
                "accord.confidence": a["confidence"],
                "accord.verdict.ok": bool(a["verdict_ok"]),
                "accord.cost_usd": float(a["cost_usd"]),
            }
        ),
    )


def run_spans(path: str | Path, run_id: str) -> list[SpanData]:
    """The spans of ledger run `run_id`: the run first, then each decision and its attempts."""
    with open_readonly(path) as db:
        runs = rows(db, "SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not runs:
            raise ConfigError(f"no run {run_id!r} in the ledger", path=Path(path))
        decisions = rows(
            db, "SELECT * FROM decisions WHERE run_id = ? ORDER BY decided_at, task_id", [run_id]
        )
        attempts = rows(
            db, "SELECT * FROM attempts WHERE run_id = ? ORDER BY task_id, attempt_no", [run_id]
        )
    by_task: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by_task.setdefault(a["task_id"], []).append(a)
    spans = [_run_span(runs[0], decisions)]
    for d in decisions:
        own = by_task.get(d["task_id"], [])
        primary = next((a["role"] for a in own if a["kind"] == "primary"), None)
        spans.append(_decision_span(d, primary))
        index = len(spans) - 1
        for a in own:
            spans.append(_attempt_span(a, index, spans[index].start_ns, spans[index].end_ns))
    return spans


def _readable(spans: Sequence[SpanData]) -> list[Any]:
    """SDK span objects for `spans`, one trace, ids drawn at random."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import Status, StatusCode
    except ImportError:
        raise ConfigError("OpenTelemetry export needs the otel extra", hint=_INSTALL) from None
    from accord import __version__

    rng = random.SystemRandom()
    trace_id = rng.getrandbits(128) or 1
    ids = [rng.getrandbits(64) or 1 for _ in spans]
    contexts = [
        trace.SpanContext(trace_id, span_id, is_remote=False, trace_flags=trace.TraceFlags(1))
        for span_id in ids
    ]
    resource = Resource.create({"service.name": "accord", "service.version": __version__})
    scope = InstrumentationScope("accord", __version__)
    out = []
    for span, context in zip(spans, contexts, strict=True):
        status = Status(StatusCode.ERROR, span.error) if span.error else Status(StatusCode.OK)
        out.append(
            ReadableSpan(
                name=span.name,
                context=context,
                parent=None if span.parent is None else contexts[span.parent],
                resource=resource,
                attributes=span.attributes,
                kind=trace.SpanKind.CLIENT
                if span.attributes.get("gen_ai.operation.name") == "chat"
                else trace.SpanKind.INTERNAL,
                status=status,
                start_time=span.start_ns,
                end_time=span.end_ns,
                instrumentation_scope=scope,
            )
        )
    return out


def export_run(
    path: str | Path, run_id: str, *, endpoint: str | None = None, timeout_s: float = 5.0
) -> int:
    """Send run `run_id`'s spans to the OTLP/HTTP `endpoint` (default: from the environment).

    Returns the number of spans delivered; raises ConfigError when no endpoint is known, the
    otel extra is missing, or the receiver refused them.
    """
    url = endpoint or endpoint_from_env()
    if not url:
        raise ConfigError(
            "no OTLP endpoint",
            hint="pass --endpoint http://HOST:4318/v1/traces or set OTEL_EXPORTER_OTLP_ENDPOINT",
        )
    spans = _readable(run_spans(path, run_id))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter(endpoint=url, timeout=timeout_s)
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise ConfigError(
            f"the OTLP receiver at {url} did not take the run's {len(spans)} spans",
            hint="check that a collector listens there (OTLP over HTTP, protobuf)",
        )
    return len(spans)
