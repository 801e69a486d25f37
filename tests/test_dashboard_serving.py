"""`polybench dashboard` starts anywhere and serves this machine only unless told otherwise.

Started the way a script, a service or a container starts it: standard input from /dev/null,
a fresh HOME where Streamlit never ran (so no credentials file: Streamlit's first-run e-mail
prompt would stop it), no --headless. The listening sockets are read with `ss -ltn`, and the
page is opened in headless Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _free_port,
    _polybench,
    _wait_closed,
    _wait_healthy,
)

from polybench.db import open_store

pytestmark = pytest.mark.slow


def listening(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port`, from `ss -ltn`."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    table = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    found = set()
    for row in table.splitlines():
        local = row.split()[3]
        address, _, bound = local.rpartition(":")
        if bound == str(port):
            found.add(address)
    return found


@contextlib.contextmanager
def serve(tmp_path: Path, *args: str):
    """`polybench dashboard ARGS` with stdin from /dev/null and a fresh HOME; yields (process,
    port, log path) once it answers; SIGTERM afterwards."""
    url = f"sqlite:///{tmp_path / 'results.db'}"
    open_store(url).close()
    port = _free_port()
    home = tmp_path / "home"
    home.mkdir()
    log_path = tmp_path / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["HOME"] = str(home)
    with log_path.open("w") as log, open(os.devnull) as nothing:
        server = subprocess.Popen(
            [_polybench(), "dashboard", "--storage", url, "--port", str(port), *args],
            stdin=nothing,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", server)
            yield server, port, log_path
            server.terminate()
            assert server.wait(timeout=30) is not None
            _wait_closed(port)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_dashboard_without_a_terminal_serves_on_127_0_0_1_only(tmp_path: Path):
    with serve(tmp_path) as (_, port, log_path):
        assert listening(port) == {"127.0.0.1"}
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} not found: install Debian's chromium")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                page.get_by_text("has no studies yet").first.wait_for(timeout=60_000)
                assert page.title() == "polybench dashboard"
            finally:
                browser.close()
    log = log_path.read_text()
    assert "Email" not in log and "Network URL" not in log, log
    # Streamlit never ran here before, and still wrote no credentials (it never prompted).
    assert not (tmp_path / "home" / ".streamlit" / "credentials.toml").exists()


def test_dashboard_on_every_interface_warns_that_anyone_can_read_the_results(tmp_path: Path):
    with serve(tmp_path, "--address", "0.0.0.0") as (_, port, log_path):
        assert "0.0.0.0" in listening(port)
        time.sleep(0.5)
    log = log_path.read_text()
    assert "Warning: the dashboard listens on 0.0.0.0" in log
    assert "reverse proxy with authentication" in log
