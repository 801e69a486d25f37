"""The `polybench` command line: each command is a thin shell over one library function.

Every command lives in its own module and registers itself on the shared typer `app`; heavy
libraries (torch, optuna, streamlit) are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

from polybench.cli import (  # noqa: F401  (importing registers the commands)
    _dashboard,
    _db,
    _init,
    _losses,
    _report,
    _run,
    _train,
)
from polybench.cli._app import app


def main() -> None:
    try:
        app()
    except Exception as error:
        # A storage problem (bad URL, server down, schema behind) is one line for people.
        from polybench.db import StorageError

        if not isinstance(error, StorageError):
            raise
        import sys

        from polybench.db._retry import StorageUnavailable

        print(f"Error: {error}", file=sys.stderr)
        raise SystemExit(75 if isinstance(error, StorageUnavailable) else 1) from None


__all__ = ["app", "main"]
