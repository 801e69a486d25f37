"""`polybench dashboard` in a real browser: headless Chromium (Debian's), driven by Playwright.

Starts the command on a free local port against the database of conftest's real tiny study, opens
every tab, waits for its Plotly charts to draw, asserts that the page shows no error or
exception element, and saves a screenshot of each tab under the test's temporary folder.
Needs `/usr/bin/chromium` (`apt-get install -y chromium`); CI runs it in the slow step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("POLYBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Marks Plotly draws: markers and bars (.point), lines, heat-map cells, the empty-chart message.
DRAWN = ":is(.point, .js-line, .hm, .annotation-text):visible"
TABS = ["Overview", "Trade-off", "Sensitivity", "Runs", "Across tasks", "Budget"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _polybench() -> str:
    beside = Path(sys.executable).with_name("polybench")
    found = str(beside) if beside.exists() else shutil.which("polybench")
    assert found, "the polybench console script is not installed"
    return found


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"polybench dashboard exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the dashboard at {url} did not answer within {timeout:.0f} s")


@pytest.fixture
def dashboard(tiny_study_url: str, tmp_path: Path):
    """The URL of `polybench dashboard` serving `tiny_study_url`; stopped afterwards by SIGTERM."""
    port = _free_port()
    log = (tmp_path / "dashboard.log").open("w")
    command = [_polybench(), "dashboard", "--storage", tiny_study_url, "--port", str(port)]
    command += ["--headless", "--address", "127.0.0.1"]
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
        # SIGTERM to the command alone (as a service manager sends it) stops the server too.
        server.terminate()
        assert server.wait(timeout=30) is not None
        _wait_closed(port)
    finally:
        # Whatever is left of the process group we started (the server, its streamlit child).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()


def _wait_closed(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"the streamlit server still listens on port {port} after SIGTERM")


def test_dashboard_renders_every_tab_in_headless_chromium(dashboard: str, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(dashboard, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Overview").wait_for(timeout=90_000)
            for name in TABS:
                page.get_by_role("tab", name=name).click()
                panel = page.locator("[data-testid='stTabPanel']:visible")
                # A drawn Plotly chart has its SVG and visible marks (points, lines, cells).
                panel.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(
                    timeout=60_000
                )
                panel.locator(".js-plotly-plot").locator(DRAWN).first.wait_for(timeout=30_000)
                page.wait_for_timeout(500)
                errors = page.locator(
                    "[data-testid='stException'], [data-testid='stAlertContentError']"
                )
                assert errors.count() == 0, f"tab {name}: {errors.all_inner_texts()}"
                shot = tmp_path / f"dashboard-{name.lower().replace(' ', '-')}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            assert page.get_by_role("heading", name="Study tiny", exact=True).is_visible()
        finally:
            browser.close()
