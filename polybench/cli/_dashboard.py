"""`polybench dashboard`: serve the Streamlit dashboard on a results database."""

from __future__ import annotations

import typer

from polybench.cli._app import Storage, app


@app.command()
def dashboard(
    storage: Storage = None,
    port: int = typer.Option(8501, "--port", help="TCP port to serve the dashboard on."),
    headless: bool = typer.Option(
        False,
        "--headless",
        help=(
            "Do not open a browser and never prompt (for servers, containers and CI); "
            "automatic when standard input is not a terminal."
        ),
    ),
    address: str = typer.Option(
        "127.0.0.1",
        "--address",
        help=(
            "Interface to listen on. Default: this machine only. 0.0.0.0 serves every "
            "interface, so anyone who reaches the port reads every result: put a reverse proxy "
            "with authentication in front."
        ),
    ),
) -> None:
    """Show a study's accuracy, throughput, sensitivity and runs in the browser.

    Example:

        polybench dashboard --storage sqlite:///polybench.db --port 8501
    """
    from polybench.dashboard import launch

    raise typer.Exit(launch(storage, port=port, headless=headless, address=address))
