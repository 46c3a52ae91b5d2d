"""`accord ui` in a real headless browser: Debian's chromium driven through its chromedriver
(nothing is downloaded), clicking from the run list to a decision and checking what the page
shows against the ledger's rows. A screenshot of each main page goes to the test's tmp dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from accord.ui.fmt import clip
from accord.ui.fmt import usd as usd_text
from tests.ui.conftest import UNTRUSTED, Filled

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "chromium and chromedriver are not installed (`make system-deps` installs Debian's "
        "chromium and chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="accord-ui-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, folder: Path, name: str) -> Path:
    """The whole page, as tall as its content."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height + 160, 700), 4000))  # + the window's frame
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def ledger_rows(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def cells(row) -> list[str]:
    return [c.text.strip() for c in row.find_elements(By.TAG_NAME, "td")]


def test_click_from_the_run_list_to_a_decision(
    browser, filled: Filled, ui_url: str, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    browser.get(ui_url)
    assert browser.title.startswith("Runs")
    screenshot(browser, shots, "runs")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{filled.run_id}"]')
    assert cells(row)[1:3] == ["ui-crew", "finished"]

    row.find_element(By.LINK_TEXT, filled.run_id).click()
    assert browser.current_url.endswith(f"/runs/{filled.run_id}")
    stored = ledger_rows(
        filled.db,
        "SELECT task_id, path, n_attempts, answer FROM decisions WHERE run_id = ? "
        "ORDER BY decided_at, task_id",
        [filled.run_id],
    )
    shown = browser.find_elements(By.CSS_SELECTOR, "#decision-rows tbody tr")
    assert len(shown) == len(stored) == 5
    for tr, (task, path, n_attempts, answer) in zip(shown, stored, strict=True):
        values = cells(tr)
        assert values[0] == task and values[1] == path and values[3] == str(n_attempts)
        assert values[7] == clip(answer, 60)  # the <script> answer as text (cut to a line)
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.graph .edge")) == 4
    screenshot(browser, shots, "run")

    browser.find_element(By.LINK_TEXT, "sum").click()
    assert browser.find_element(By.ID, "task-id").text == "sum"
    attempts = ledger_rows(
        filled.db,
        "SELECT attempt_no, kind, role, model, answer, verdict_ok FROM attempts "
        "WHERE run_id = ? AND task_id = 'sum' ORDER BY attempt_no",
        [filled.run_id],
    )
    shown = browser.find_elements(By.CSS_SELECTOR, "#attempts tr.attempt")
    assert len(shown) == len(attempts) == 5
    for tr, (no, kind, role, model, answer, ok) in zip(shown, attempts, strict=True):
        assert cells(tr)[:6] == [str(no), kind, role, model, answer, "valid" if ok else "rejected"]
    ((stop, usd),) = ledger_rows(
        filled.db,
        "SELECT stop_reason, cost_usd FROM decisions WHERE run_id = ? AND task_id = 'sum'",
        [filled.run_id],
    )
    assert browser.find_element(By.ID, "stop-reason").text == stop
    assert browser.find_element(By.ID, "cost").text == usd_text(usd)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".verdict.checked"))
    assert browser.find_element(By.CSS_SELECTOR, ".verdict .badge").text == "verified"
    screenshot(browser, shots, "decision")

    browser.get(f"{ui_url}runs/{filled.run_id}/decisions/html")
    assert browser.find_element(By.ID, "answer").text == UNTRUSTED
    assert browser.execute_script("return window.pwned === undefined")  # it never ran

    browser.get(ui_url + "cost")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.mark")
    screenshot(browser, shots, "cost")

    browser.get(f"{ui_url}bench/{filled.bench_run_id}")
    point = browser.find_element(By.CSS_SELECTOR, 'g.point[data-strategy="adaptive"] circle')
    ActionChains(browser).move_to_element(point).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    assert "adaptive" in tip.text and "95% interval 64.0%-81.0%" in tip.text
    assert "tokens/item" in tip.text
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-strategy="adaptive"]')
    assert "hl" in row.get_attribute("class")  # the table row lights up with the point
    screenshot(browser, shots, "bench")
    assert sorted(p.name for p in shots.iterdir()) == [
        "bench.png",
        "cost.png",
        "decision.png",
        "run.png",
        "runs.png",
    ]
    print(f"screenshots in {shots}")


def test_a_running_run_refreshes_by_itself(browser, tmp_path: Path) -> None:
    from accord import Ledger
    from accord.consensus.records import Attempt, Decision
    from tests.ui.conftest import serve_ui

    db = tmp_path / "live.duckdb"
    ledger = Ledger(db)
    run_id = ledger.start_run("live-crew")
    ledger.flush()
    ledger.release()
    with serve_ui(db) as url:
        browser.get(f"{url}runs/{run_id}")
        assert browser.find_element(By.ID, "n-decisions").text == "0"
        assert browser.find_element(By.ID, "live").is_selected()  # on while the run runs
        attempt = Attempt("t0", "a", "m", "yes", "yes", 5, 1, 1.0, 0, 0.0, confidence=0.9)
        ledger.record(
            run_id,
            Decision("t0", "yes", 0.9, "single", "confident", "accepted", "p", (attempt,), 1.0),
        )
        ledger.finish_run(run_id)
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "n-decisions").text == "1")
        assert browser.find_element(By.CSS_SELECTOR, "#decision-rows td a").text == "t0"
    ledger.close()
