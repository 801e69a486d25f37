"""Processes below a PID, read from /proc (Linux): for tests that check which processes a
study starts and that they end. No imports beyond the standard library, so a test's own
subprocess can use it too."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> dict[int, str]:
    """PID -> command line of every process below `pid` (children, their children...), from
    /proc: the workers are forked from a fork server that is a child of `pid`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        for child in below:
            try:
                found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().decode()
            except OSError:
                found[child] = ""
        frontier = below
    return found
