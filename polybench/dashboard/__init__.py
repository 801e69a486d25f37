"""The Streamlit dashboard: where a user sees how accuracy and throughput trade off per loss.

The app ships inside the package (`polybench/dashboard/streamlit_app.py`), so `polybench
dashboard` works from an installed wheel as well as from a checkout; `app/dashboard.py` in a
checkout is the same two-line entry for people who prefer `streamlit run`. The app reads the
results database only through `polybench.report` and `polybench.stats`.

Example::

    from polybench.dashboard import launch
    launch("sqlite:///polybench.db", port=8501, headless=True)   # blocks until Ctrl-C
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

APP_SCRIPT = Path(__file__).with_name("streamlit_app.py")
"""The Streamlit script that `polybench dashboard` runs."""

STORAGE_ENV = "POLYBENCH_STORAGE"
"""The app reads its storage URL from this variable, which the launcher sets."""


LOCAL_ADDRESSES = ("127.0.0.1", "::1", "localhost")
"""Addresses only this machine reaches; any other makes `launch` warn."""


def streamlit_command(
    *, port: int = 8501, headless: bool = False, address: str | None = "127.0.0.1"
) -> list[str]:
    """The `streamlit run` command line for the dashboard (without the storage, see `launch`)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--theme.base",
        "light",
        "--client.toolbarMode",
        "viewer",
    ]
    if address is not None:
        command += ["--server.address", address]
    return command


def serving_line(url: str, *, port: int = 8501, address: str | None = None) -> str:
    """What `polybench dashboard` prints first: the database and the address it serves."""
    from polybench.db import display_url

    host = address if address not in (None, "", "0.0.0.0", "::") else "localhost"
    return (
        f"polybench dashboard: {display_url(url)} at http://{host}:{port} "
        "(usage statistics off; Ctrl-C stops it)"
    )


def launch(
    storage: str | None = None,
    *,
    port: int = 8501,
    headless: bool = False,
    address: str | None = "127.0.0.1",
) -> int:
    """Serve the dashboard on `port` for the database at `storage`; blocks, returns the exit code.

    `storage` is resolved like everywhere else (`--storage`, else `POLYBENCH_STORAGE`, else
    `sqlite:///polybench.db` in the working directory) and handed to the app in the environment.
    `headless=True` does not open a browser (for servers and tests); it is implied when
    standard input is not a terminal, where Streamlit's first-run e-mail prompt would stop the
    server. The server listens on `address`, 127.0.0.1 by default; any other address prints a
    warning that every result is readable by whoever reaches the port (`None`: Streamlit's
    default, every interface). The database is opened once first (read-only), so a bad URL, a
    missing file or an unreachable server raises `StorageError` before any server starts.
    """
    from polybench.db import open_store, resolve_storage_url

    if not 1 <= port <= 65535:
        raise ValueError(f"Port {port} is not a TCP port; expected a number from 1 to 65535.")
    url = resolve_storage_url(storage)
    # A bad URL, a missing file or a server that is down: one clear StorageError here.
    open_store(url, read_only=True).close()
    headless = headless or not _interactive()
    if address not in LOCAL_ADDRESSES:
        print(
            f"Warning: the dashboard listens on {address or 'every interface'}, port {port}: "
            "anyone who can reach it reads every result, and it has no login. Put a reverse "
            "proxy with authentication in front (see the README), or use --address 127.0.0.1.",
            file=sys.stderr,
        )
    env = dict(os.environ)
    env[STORAGE_ENV] = url
    env["STREAMLIT_SERVER_HEADLESS"] = "true" if headless else "false"
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"  # also for `streamlit run` children
    print(serving_line(url, port=port, address=address), file=sys.stderr, flush=True)
    server = subprocess.Popen(
        streamlit_command(port=port, headless=headless, address=address), env=env
    )
    # SIGTERM to this process (a service manager, a test) must stop the server as well.
    forward = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: server.terminate()) if forward else None
    try:
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C reached streamlit too; let it finish shutting down
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if forward:
            signal.signal(signal.SIGTERM, previous)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached standard input
        return False


__all__ = [
    "APP_SCRIPT",
    "LOCAL_ADDRESSES",
    "STORAGE_ENV",
    "launch",
    "serving_line",
    "streamlit_command",
]
