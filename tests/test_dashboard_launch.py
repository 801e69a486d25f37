"""`polybench dashboard` says which database and address it serves, with usage statistics off."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from polybench.dashboard import serving_line, streamlit_command
from polybench.db import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_prints_the_url_it_serves_and_turns_usage_statistics_off(sqlite_url):
    open_store(sqlite_url).close()  # an existing, empty polybench database
    port = _free_port()
    command = streamlit_command(port=port, headless=True)
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"
    env = {k: v for k, v in os.environ.items() if k != "POLYBENCH_STORAGE"}
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "polybench", "dashboard", "--headless"),
            *("--port", str(port), "--storage", sqlite_url, "--address", "127.0.0.1"),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline().strip()
        assert first == serving_line(sqlite_url, port=port, address="127.0.0.1")
        assert first.startswith(f"polybench dashboard: {sqlite_url} at http://127.0.0.1:{port} ")
        deadline = time.monotonic() + 120
        while True:  # the address it printed answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the dashboard did not answer in 120 s"
                time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
