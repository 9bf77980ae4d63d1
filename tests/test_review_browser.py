"""`grade review` in a real browser: Debian's headless Chromium driven by Selenium through Debian's chromedriver.

The test starts `grade review` as a user would (a subprocess, its printed address), reviews one answer with the
keyboard only (Enter opens it, ↓ selects a concept, 1 marks it covered, Enter confirms), stops the server with
Ctrl-C (SIGINT), and checks that `grade report` rendered afterwards shows the corrected score.
CI installs chromium and chromium-driver (.ci/run); elsewhere the test is skipped when they are missing.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from review_support import REPO, graded_results, record_of
from typer.testing import CliRunner

from grader.cli import app
from grader.cohort.corrections import rescore
from grader.cohort.overrides import overrides_path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--window-size=1400,1000",
)  # fmt: skip

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install chromium and chromium-driver (see .ci/run)")
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="review-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def start_review(results: Path) -> tuple[subprocess.Popen[str], str]:
    """`grade review RESULTS --no-browser` in a subprocess, and the address it printed."""
    server = subprocess.Popen(
        [sys.executable, "-m", "grader", "--bank", str(REPO), "review", str(results), "--no-browser",
         "--reviewer", "sam"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()  # type: ignore[union-attr]
    while True:
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            server.kill()
            raise AssertionError("grade review printed no address in 30 s") from None
        if line.startswith("http://127.0.0.1:"):
            return server, line.strip()


def press(driver: webdriver.Chrome, *keys: str) -> None:
    for key in keys:
        driver.find_element(By.TAG_NAME, "body").send_keys(key)


def test_review_an_answer_with_the_keyboard_then_the_report_shows_it(tmp_path: Path,
                                                                     browser: webdriver.Chrome) -> None:  # fmt: skip
    results = graded_results(tmp_path)
    record = record_of(results, "bob", "cicd-3")
    concepts = record["grade"]["concepts"]
    target = next(i for i, c in enumerate(concepts) if c["status"] == "missing")
    corrected = rescore(record["grade"], {concepts[target]["id"]: "covered"})
    assert corrected != record["grade"]["score"]
    server, url = start_review(results)
    try:
        wait = WebDriverWait(browser, 20, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
        browser.get(url)  # the printed address: the token becomes a cookie, the address loses it
        wait.until(lambda d: d.find_elements(By.ID, "queue-count"))
        assert "token=" not in browser.current_url
        browser.get(url.split("/?")[0] + "/?candidate=bob&question=cicd-3")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.queue tr.selected"))
        press(browser, Keys.ENTER)  # open the selected answer
        wait.until(lambda d: d.find_elements(By.ID, "score"))
        assert browser.find_element(By.ID, "candidate").text == "bob"
        assert browser.find_element(By.ID, "score").text == f"{record['grade']['score']:.1f}"
        press(browser, *[Keys.ARROW_DOWN] * target)
        selected = browser.find_element(By.CSS_SELECTOR, "tbody.concept.selected")
        assert selected.get_attribute("data-concept") == concepts[target]["id"]
        press(browser, "1")  # covered
        wait.until(lambda d: d.find_element(By.ID, "score").text == f"{corrected:.1f}")
        assert browser.find_element(By.CSS_SELECTOR, "tbody.concept.selected").get_attribute("data-concept") == \
            concepts[target]["id"]  # the selection survives the reload  # fmt: skip
        press(browser, Keys.ENTER)  # confirm the rest as they stand; the queue holds no other answer
        wait.until(lambda d: d.find_elements(By.ID, "queue-count"))
        assert "bob" in browser.find_element(By.CSS_SELECTOR, "table.queue tr.reviewed").text
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "stopped" in stderr

    lines = overrides_path(results).read_text().splitlines()
    assert len(lines) == len(concepts)  # the one correction, then each other concept confirmed
    report = tmp_path / "report.csv"
    outcome = CliRunner().invoke(app, ["report", str(results), "--out", str(report), "--out", str(tmp_path / "r.html")])
    assert outcome.exit_code == 0, outcome.output
    rows = {(r["candidate"], r["question_id"]): r for r in csv.DictReader(io.StringIO(report.read_text()))}
    assert rows[("bob", "cicd-3")]["score"] == f"{corrected:.1f}" and rows[("bob", "cicd-3")]["reviewed"] == "yes"
    bob_total = corrected + record_of(results, "bob", "security-3")["grade"]["score"]
    page = (tmp_path / "r.html").read_text()
    bob_row = next(line for line in page.splitlines() if line.startswith("<tr><td>bob</td>"))
    assert f'data-sort="{corrected:.3f}"' in bob_row and f">{bob_total:.1f} / 20</td>" in bob_row
    assert '<span class="muted">reviewed</span>' in page
