"""The one error type the results database raises for people to read."""

from __future__ import annotations


class StorageError(Exception):
    """A storage URL that cannot be parsed or reached, or a database whose schema does not match.

    The message is one line: the URL with any password hidden, what went wrong, and what to do.
    The `polybench` command prints it as one `Error: ...` line (exit status 1), not a traceback.
    """
