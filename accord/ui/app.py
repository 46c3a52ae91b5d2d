"""The web app: read-only pages over one ledger file (runs, a run, a decision, cost, bench).

Each page opens the file read-only for its queries and closes it before rendering
(`accord.ui.store`). Only GET and HEAD are served; every other method is refused with 405
before it reaches a page, and nothing in the app holds a connection that could write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.ui import audit, bench, charts, costs, graph, queries
from accord.ui.fmt import FILTERS
from accord.ui.fmt import usd as money
from accord.ui.store import LEDGER_TABLES, LedgerBusy, Reader, reading

READ_METHODS = ("GET", "HEAD")
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
PATHS = ("single", "vote", "escalated", "unresolved")
# no inline script or style, nothing from elsewhere: a model's answer cannot run as code
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class ReadOnly:
    """Refuses every request that is not GET or HEAD (405), and sets the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in READ_METHODS:
            refused = PlainTextResponse(
                "accord ui is read-only: only GET and HEAD are served\n",
                status_code=405,
                headers={"Allow": ", ".join(READ_METHODS)},
            )
            await refused(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("accord.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def _int(request: Request, name: str, default: int = 0) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name}={raw!r}: expected a whole number") from None
    if value < 0:
        raise HTTPException(400, f"{name}={raw!r}: expected 0 or more")
    return value


def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, f"{name}={raw!r}: expected a date such as 2026-01-31") from None


def run_filter(request: Request, now: datetime) -> queries.RunFilter:
    """The crew and time window asked for in the query string."""
    period = request.query_params.get("period", "")
    if period and period not in PERIODS:
        raise HTTPException(400, f"period={period!r}: expected one of {', '.join(PERIODS)}")
    start, end = _date(request, "from"), _date(request, "to")
    bounds = [now - PERIODS[period]] if period else []
    if start is not None:
        bounds.append(datetime.combine(start, datetime.min.time()))
    since = max(bounds) if bounds else None
    until = datetime.combine(end + timedelta(days=1), datetime.min.time()) if end else None
    return queries.RunFilter(request.query_params.get("crew") or None, since, until)


class Pages:
    """The page handlers, bound to one ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = _environment()
        self.verdicts = audit.Verdicts(path)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("live", False)
        html = self.env.get_template(name).render(
            request=request, ledger=str(self.path), query=request.query_params, **context
        )
        return HTMLResponse(html, status_code=status)

    def read(self, fn: Callable[[Reader], dict[str, Any]]) -> dict[str, Any]:
        """Run a page's queries on one short-lived read-only connection."""
        with reading(self.path) as db:
            return fn(db)

    def runs(self, request: Request) -> Response:
        def load(db: Reader) -> dict[str, Any]:
            if not db.has(*LEDGER_TABLES):
                return {"no_ledger": True, "has_bench": bench.available(db)}
            flt = run_filter(request, queries.now_of(db))
            page = _int(request, "page")
            found, total = queries.runs(db, flt, page=page)
            return {
                "runs": found,
                "total": total,
                "page": page,
                "page_size": queries.PAGE,
                "crews": queries.crews(db),
                "periods": list(PERIODS),
                "live": any(r["status"] == "running" for r in found),
            }

        return self.render(request, "runs.html", **self.read(load))

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        path = request.query_params.get("path") or None
        if path is not None and path not in PATHS:
            raise HTTPException(400, f"path={path!r}: expected one of {', '.join(PATHS)}")

        def load(db: Reader) -> dict[str, Any]:
            found = queries.run(db, run_id) if db.has(*LEDGER_TABLES) else None
            if found is None and run_id == "latest" and db.has(*LEDGER_TABLES):
                newest = queries.latest_run(db)
                if newest is not None:
                    return {"redirect": f"/runs/{quote(newest)}"}
            if found is None:
                raise HTTPException(404, f"no run {run_id!r} in this ledger")
            page = _int(request, "page")
            rows, total = queries.decisions(db, run_id, path=path, page=page)
            return {
                "run": found,
                "decisions": rows,
                "total": total,
                "page": page,
                "page_size": queries.PAGE,
                "path": path,
                "paths": PATHS,
                "graph": _task_graph(db, found),
                "audit": audit.available(db),
                "audit_counts": audit.counts(db, run_id) if audit.available(db) else {},
                "events": audit.events(db, run_id, seals=False) if audit.available(db) else [],
                "live": found["status"] == "running",
            }

        context = self.read(load)
        if "redirect" in context:
            return RedirectResponse(context["redirect"], status_code=302)
        return self.render(request, "run.html", **context)

    def decision(self, request: Request) -> Response:
        run_id, task_id = request.path_params["run_id"], request.path_params["task_id"]

        def load(db: Reader) -> dict[str, Any]:
            found = queries.run(db, run_id) if db.has(*LEDGER_TABLES) else None
            row = queries.decision(db, run_id, task_id) if found else None
            if found is None or row is None:
                raise HTTPException(404, f"no decision {task_id!r} in run {run_id!r}")
            spec = queries.task_specs(found["config"]).get(task_id)
            policy = found["config"].get("policy") or {}
            rows = queries.attempts(db, run_id, task_id)
            rebuilt = queries.tallies(rows, spec, weighted=bool(policy.get("weighted")))
            return {
                "run": found,
                "d": row,
                "spec": spec,
                "attempts": rows,
                "has_prompts": "prompt" in db.columns.get("attempts", set()),
                "tallies": rebuilt,
                "recorded": queries.recorded_tally(row, rebuilt, spec),
                "audit": audit.available(db),
                "events": audit.events_of(db, run_id, task_id) if audit.available(db) else [],
            }

        return self.render(request, "decision.html", **self.read(load))

    def audit(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]

        def load(db: Reader) -> dict[str, Any]:
            found = queries.run(db, run_id) if db.has(*LEDGER_TABLES) else None
            if found is None or not audit.available(db):
                raise HTTPException(404, f"no audit trail of run {run_id!r} in this ledger")
            page = _int(request, "page")
            kinds = audit.counts(db, run_id)
            return {
                "run": found,
                "verdict": self.verdicts.get(db, run_id),
                "events": audit.events(db, run_id, page=page),
                "audit_counts": kinds,
                "total": sum(kinds.values()),
                "page": page,
                "page_size": audit.PAGE,
            }

        return self.render(request, "audit.html", **self.read(load))

    def cost(self, request: Request) -> Response:
        split = request.query_params.get("split") or "crew"
        if split not in ("crew", "model"):
            raise HTTPException(400, f"split={split!r}: expected crew or model")

        def load(db: Reader) -> dict[str, Any]:
            if not db.has(*LEDGER_TABLES):
                return {"no_ledger": True, "has_bench": bench.available(db)}
            flt = run_filter(request, queries.now_of(db))
            days = costs.daily(db, flt, split)  # type: ignore[arg-type]
            return {
                "split": split,
                "crews": queries.crews(db),
                "periods": list(PERIODS),
                "totals": costs.totals(db, flt),
                "daily": days,
                "charts": _cost_charts(days),
                "tasks": costs.escalating_tasks(db, flt),
                "models": costs.models(db, flt),
            }

        return self.render(request, "cost.html", **self.read(load))

    def bench_list(self, request: Request) -> Response:
        def load(db: Reader) -> dict[str, Any]:
            return {"bench_runs": bench.bench_runs(db) if bench.available(db) else None}

        return self.render(request, "bench_list.html", **self.read(load))

    def bench_run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        axis = request.query_params.get("x") or "tokens"
        if axis not in ("tokens", "usd"):
            raise HTTPException(400, f"x={axis!r}: expected tokens or usd")

        def load(db: Reader) -> dict[str, Any]:
            found = bench.bench_run(db, run_id) if bench.available(db) else None
            if found is None:
                raise HTTPException(404, f"no bench run {run_id!r} in this file")
            rows = bench.summary(db, run_id)
            svg, front = bench.frontier(rows, axis, bool(found["simulated"]))  # type: ignore[arg-type]
            return {"b": found, "rows": rows, "pareto": svg, "front": front, "axis": axis}

        return self.render(request, "bench.html", **self.read(load))


def _task_graph(db: Reader, run: dict[str, Any]) -> graph.Graph:
    """The run's task graph; of the tasks on no dependency only the first few are read."""
    specs = queries.task_specs(run["config"])
    deps = {t: tuple(s.get("depends_on") or ()) for t, s in specs.items()}
    linked = {d for ds in deps.values() for d in ds if d in specs} | {
        t for t, ds in deps.items() if any(d in specs for d in ds)
    }
    states, rest = queries.decision_states(
        db, run["run_id"], sorted(linked), others=graph.MAX_LISTED
    )
    order = list(specs) + [t for t in states if t not in specs]
    nodes = [_node(run["run_id"], t, deps.get(t, ()), states.get(t)) for t in order]
    drawn = graph.draw(nodes)
    pending = sum(1 for t in specs if t not in linked and t not in states)
    unlinked = rest + pending  # every task on no dependency, read or not
    left_out = unlinked - len(drawn.isolated) + len(linked) - drawn.drawn
    return replace(drawn, left_out=left_out)


def _node(
    run_id: str, task: str, deps: tuple[str, ...], state: dict[str, Any] | None
) -> graph.Node:
    if state is None:
        kind, tip = "pending", f"{task}\nnot decided yet"
    else:
        kind = state["path"] if state["status"] == "accepted" else "unresolved"
        tip = (
            f"{task}\n{state['path']} · {state['status']} · {state['n_attempts']} attempt(s)"
            f"\nanswer: {' '.join(str(state['answer'] or '').split())[:80]}"
        )
    if deps:
        tip += f"\ndepends on {', '.join(deps)}"
    href = f"/runs/{quote(run_id)}/decisions/{quote(task)}" if state else None
    return graph.Node(task, deps, kind, href, tip)


def _cost_charts(days: costs.Daily) -> dict[str, Any]:
    labels = [d.strftime("%m-%d") for d in days.days]
    usd = charts.top_series(days.usd)
    tokens = charts.top_series(days.tokens)
    return {
        "usd": charts.stacked_bars(labels, usd, unit="USD", fmt=money),
        "usd_legend": charts.legend_of(list(usd)),
        "tokens": charts.stacked_bars(labels, tokens, unit="tokens"),
        "tokens_legend": charts.legend_of(list(tokens)),
        "rate": charts.rate_line(labels, days.rates, days.decisions),
        "any_usd": any(v > 0 for s in days.usd.values() for v in s),
    }


def create_app(path: str | Path, *, hosts: list[str] | None = None) -> Starlette:
    """The UI over the ledger at `path`; `hosts` are the Host headers it answers to."""
    pages = Pages(Path(path))

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LedgerBusy):
            return pages.render(request, "error.html", 503, title="ledger busy", message=str(exc))
        assert isinstance(exc, HTTPException)
        return pages.render(
            request, "error.html", exc.status_code, title=str(exc.status_code), message=exc.detail
        )

    def home(request: Request) -> Response:
        return RedirectResponse("/runs", status_code=302)

    routes = [
        Route("/", home),
        Route("/runs", pages.runs),
        Route("/runs/{run_id}", pages.run),
        Route("/runs/{run_id}/audit", pages.audit),
        Route("/runs/{run_id}/decisions/{task_id:path}", pages.decision),
        Route("/cost", pages.cost),
        Route("/bench", pages.bench_list),
        Route("/bench/{run_id}", pages.bench_run),
        Mount("/static", StaticFiles(packages=[("accord.ui", "static")]), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: on_error,
        LedgerBusy: on_error,
    }
    middleware = [
        Middleware(ReadOnly),
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts or ["127.0.0.1", "localhost"]),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
