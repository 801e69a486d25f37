"""`polybench dashboard`: serve the Streamlit dashboard on a results database."""

from __future__ import annotations

import typer

from polybench.cli._app import Storage, app


@app.command()
def dashboard(
    storage: Storage = None,
    port: int = typer.Option(8501, "--port", help="TCP port to serve the dashboard on."),
    headless: bool = typer.Option(
        False, "--headless", help="Do not open a browser (for servers, containers and CI)."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Interface to listen on, e.g. 127.0.0.1 (default: all)."
    ),
) -> None:
    """Show a study's accuracy, throughput, sensitivity and runs in the browser.

    Example:

        polybench dashboard --storage sqlite:///polybench.db --port 8501
    """
    from polybench.dashboard import launch

    raise typer.Exit(launch(storage, port=port, headless=headless, address=address))
