"""`accord ui` as a user runs it: a real server subprocess on 127.0.0.1 over a real ledger."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import threading
import time
from html import unescape
from pathlib import Path

import duckdb
import httpx
import pytest

from accord.ui.fmt import usd as usd_text
from tests.conftest import ROOT
from tests.ui.conftest import UNTRUSTED, Filled, accord_cmd, serve_ui


def get(url: str, **kw) -> httpx.Response:
    return httpx.get(url, timeout=30, **kw)


def text_of(html: str) -> str:
    """The page's text with tags dropped and entities decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_page_lists_the_run_with_its_totals(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + "runs")
    assert page.status_code == 200
    ((decisions, escalated, usd),) = rows(
        filled.db,
        "SELECT count(*), sum(CASE WHEN path <> 'single' THEN 1 ELSE 0 END), sum(cost_usd) "
        "FROM decisions WHERE run_id = ?",
        [filled.run_id],
    )
    row = re.search(rf'<tr data-run="{filled.run_id}">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    cells = [c.strip() for c in text_of(row.group(1)).split("\n") if c.strip()]
    assert cells[:3] == [filled.run_id, "ui-crew", "finished"]
    assert cells[4] == str(decisions) == "5"
    assert cells[5] == f"{100 * escalated / decisions:.0f}%"
    assert cells[8] == usd_text(usd)


def test_filters_by_crew_and_time(filled: Filled, ui_url: str) -> None:
    assert filled.run_id in get(ui_url + "runs?crew=ui-crew&period=24h").text
    assert filled.run_id not in get(ui_url + "runs?crew=nobody").text
    assert filled.run_id not in get(ui_url + "runs?to=2001-01-01").text
    bad = get(ui_url + "runs?from=yesterday")
    assert bad.status_code == 400 and "expected a date such as" in bad.text


def test_an_answer_holding_html_is_shown_as_text(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + f"runs/{filled.run_id}/decisions/html")
    assert page.status_code == 200
    assert "<script>window.pwned" not in page.text and "<b>bold?</b>" not in page.text
    assert "&lt;script&gt;window.pwned" in page.text
    assert UNTRUSTED in unescape(page.text)
    # and in the run's table and the task graph's hover text
    run_page = get(ui_url + f"runs/{filled.run_id}")
    assert "<script>window" not in run_page.text and "&lt;script&gt;" in run_page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_decision_page_shows_the_ledger_rows(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + f"runs/{filled.run_id}/decisions/sum").text
    attempts = rows(
        filled.db,
        "SELECT attempt_no, kind, role, model, answer FROM attempts "
        "WHERE run_id = ? AND task_id = 'sum' ORDER BY attempt_no",
        [filled.run_id],
    )
    assert len(attempts) == 5
    shown = re.findall(r'<tr class="attempt" data-attempt="(\d+)">(.*?)</tr>', page, re.S)
    assert [int(n) for n, _ in shown] == [a[0] for a in attempts]
    for (_, cells), (_, kind, role, model, answer) in zip(shown, attempts, strict=True):
        words = text_of(cells).split()
        assert words[1:5] == [kind, role, model, answer]
    ((path, stop),) = rows(
        filled.db,
        "SELECT path, stop_reason FROM decisions WHERE run_id = ? AND task_id = 'sum'",
        [filled.run_id],
    )
    assert f'<dd id="path">{path}</dd>' in page and f'<dd id="stop-reason">{stop}</dd>' in page
    # the vote rebuilt from the attempts: 42 four times, 41 once
    groups = re.findall(r'<tr class="group[^"]*">(.*?)</tr>', page, re.S)
    assert [text_of(cells).split()[:3] for cells in groups] == [
        ["42", "4", "1.80"],
        ["41", "1", "0.45"],
    ]
    assert "as the coordinator recorded it" in page
    assert re.search(r"#0 #1 #3 #4\s*</td>", page)  # the recorded answer's attempts
    # the prompt each attempt sent, as the ledger kept it
    assert "You are the analyst." in page and "What is 17 plus 25?\nAnswer with just" in page
    # the audit events that name this decision (its seal, and the tool call), and where the
    # page fetches the verdict on the run's audit trail from
    assert "2 event(s) name this decision" in page and "plan=sum" in page
    assert f'data-verdict="/runs/{filled.run_id}/audit"' in page
    trail = get(ui_url + f"runs/{filled.run_id}/audit").text
    assert '<span class="badge ok">verified</span>' in trail and "0 finding(s)" in trail


def test_a_ledger_without_tallies_or_prompts_gets_the_vote_rebuilt(
    filled: Filled, tmp_path: Path
) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copy(filled.db, old)
    with duckdb.connect(str(old)) as conn:  # as a ledger written before migration m005
        conn.execute("ALTER TABLE decisions DROP COLUMN votes")
        conn.execute("ALTER TABLE attempts DROP COLUMN prompt")
    with serve_ui(old) as url:
        page = get(url + f"runs/{filled.run_id}/decisions/sum").text
    assert "Rebuilt from the stored attempts" in page and "does not store prompts" in page
    groups = re.findall(r'<tr class="group[^"]*">(.*?)</tr>', page, re.S)
    assert [text_of(cells).split()[:3] for cells in groups] == [
        ["42", "4", "1.80"],
        ["41", "1", "0.45"],
    ]


def test_a_tampered_decision_shows_in_the_audit_verdict(filled: Filled, tmp_path: Path) -> None:
    db = tmp_path / "tampered.duckdb"
    shutil.copy(filled.db, db)
    shutil.copy(f"{filled.db}.heads", f"{db}.heads")
    with duckdb.connect(str(db)) as conn:  # someone lowers a decision's cost after the fact
        conn.execute(
            "UPDATE decisions SET cost_usd = 0 WHERE run_id = ? AND task_id = 'sum'",
            [filled.run_id],
        )
    with serve_ui(db) as url:
        page = get(url + f"runs/{filled.run_id}/audit").text
        assert "tampered</span>" in page and "verified</span>" not in page
        assert "cost" in text_of(re.search(r'<p class="error small">(.*?)</p>', page).group(1))
    with serve_ui(filled.db, env={"ACCORD_AUDIT_KEY_FILE": str(tmp_path / "no.key")}) as url:
        page = get(url + f"runs/{filled.run_id}/audit").text
        assert "not verified</span>" in page and "no audit key here" in page


def test_task_graph_draws_every_dependency(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + f"runs/{filled.run_id}").text
    assert page.count('class="edge"') == 4  # report depends on capital, sum, planet, html
    for task in ("capital", "sum", "planet", "html", "report"):
        assert f'href="/runs/{filled.run_id}/decisions/{task}"' in page


def test_cost_page_splits_by_crew_and_model(filled: Filled, ui_url: str) -> None:
    by_crew = get(ui_url + "cost").text
    assert "ui-crew" in by_crew and "USD per day, by crew" in by_crew
    assert re.search(r'id="escalating".*?planet.*?</table>', by_crew, re.S)
    by_model = get(ui_url + "cost?split=model").text
    assert "scripted" in by_model and "by model" in by_model
    assert get(ui_url + "cost?split=nonsense").status_code == 400


def test_bench_page_draws_the_frontier_with_hover_details(filled: Filled, ui_url: str) -> None:
    listing = get(ui_url + "bench").text
    assert filled.bench_run_id in listing and "SIMULATED" in listing
    page = get(ui_url + f"bench/{filled.bench_run_id}").text
    tips = [unescape(t) for t in re.findall(r'data-tip="([^"]*)"', page)]
    adaptive = next(t for t in tips if "adaptive" in t)
    assert "accuracy 73.0% (95% interval 64.0%-81.0%)" in adaptive
    assert "90 tokens/item" in adaptive and "SIMULATED" in adaptive
    # vote@5 costs more than adaptive for more accuracy: all three are on the frontier
    assert page.count('class="mark point front"') == 3
    assert "USD per item" in get(ui_url + f"bench/{filled.bench_run_id}?x=usd").text


def test_latest_redirects_to_the_newest_run(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + "runs/latest", follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith(f"/runs/{filled.run_id}")


def test_unknown_pages_are_404_with_a_message(filled: Filled, ui_url: str) -> None:
    page = get(ui_url + "runs/nope")
    assert page.status_code == 404 and "no run &#39;nope&#39; in this ledger" in page.text
    assert get(ui_url + f"runs/{filled.run_id}/decisions/nope").status_code == 404


def test_it_refuses_to_write(filled: Filled, ui_url: str) -> None:
    before = digest(filled.db)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        reply = httpx.request(method, ui_url + "runs", content=b"x", timeout=30)
        assert reply.status_code == 405, method
        assert reply.headers["allow"] == "GET, HEAD"
    refused = httpx.post(ui_url + f"runs/{filled.run_id}", data={"status": "x"})
    assert refused.status_code == 405 and "read-only" in refused.text
    assert httpx.post(ui_url + "any/path", content=b"x").status_code == 405  # not even a 404
    assert digest(filled.db) == before


def test_a_foreign_host_header_is_refused(ui_url: str) -> None:
    # a page elsewhere that rebinds its name to 127.0.0.1 must not read the ledger
    assert get(ui_url + "runs", headers={"host": "evil.example"}).status_code == 400


def test_it_serves_a_copy_of_a_ledger(filled: Filled, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(filled.db, copy)
    copy.chmod(0o444)
    with serve_ui(copy) as url:
        assert filled.run_id in get(url + "runs").text


def test_a_held_lock_is_waited_for_then_reported(filled: Filled, tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    shutil.copy(filled.db, db)
    with serve_ui(db) as url:
        writer = duckdb.connect(str(db))  # another process's writer, as DuckDB sees it
        release = threading.Timer(0.8, writer.close)
        release.start()
        assert get(url + "runs").status_code == 200  # waited for the writer's gap
        release.join()
        writer = duckdb.connect(str(db))
        try:
            busy = get(url + "runs")
        finally:
            writer.close()
        assert busy.status_code == 503
        assert "stayed locked by another process" in busy.text
        assert get(url + "runs").status_code == 200


def test_a_running_crew_is_shown_live_and_never_locked_out(tmp_path: Path) -> None:
    from accord import Ledger
    from accord.consensus.records import Attempt, Decision

    db = tmp_path / "live.duckdb"
    ledger = Ledger(db)
    run_id = ledger.start_run("live-crew")
    ledger.flush()
    ledger.release()
    with serve_ui(db) as url:
        page = get(url + f"runs/{run_id}").text
        assert '<b id="n-decisions">0</b>' in page and "running" in page
        for n in range(4):
            attempt = Attempt(f"t{n}", "a", "m", "x", "x", 5, 1, 1.0, n, 0.0, confidence=0.9)
            ledger.record(
                run_id,
                Decision(
                    f"t{n}", "x", 0.9, "single", "confident", "accepted", "p", (attempt,), 1.0
                ),
            )
            ledger.flush()  # the writer holds the file between these writes
            seen = get(url + f"runs/{run_id}").text
            shown = int(re.search(r'<b id="n-decisions">(\d+)</b>', seen).group(1))
            assert shown == n + 1
            time.sleep(0.05)
        ledger.finish_run(run_id)
        assert "finished" in get(url + f"runs/{run_id}").text
    ledger.close()


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    missing = subprocess.run(
        accord_cmd("ui", "--db", str(tmp_path / "none.duckdb")),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: ") and "no ledger here" in missing.stderr
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INT)").close()
    wrong = subprocess.run(
        accord_cmd("ui", "--db", str(other)), capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert wrong.returncode == 2 and "not an accord ledger" in wrong.stderr


def test_a_taken_port_is_a_one_line_error(filled: Filled, ui_url: str) -> None:
    port = ui_url.rsplit(":", 1)[1].strip("/")
    taken = subprocess.run(
        accord_cmd("ui", "--db", str(filled.db), "--port", port),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert taken.returncode == 2 and "Traceback" not in taken.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr


@pytest.mark.parametrize("page", ["runs", "cost", "bench"])
def test_head_is_served(ui_url: str, page: str) -> None:
    assert httpx.head(ui_url + page, timeout=30).status_code == 200
