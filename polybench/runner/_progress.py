"""Where a study stands, read from the results store: the live display and `polybench status`.

Everything here reads polybench's runs table (one row per planned run, keyed by Optuna trial),
so the same view works from any machine that can reach the database.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from polybench.runner._plan import StudyPlan
from polybench.vocab import (
    COMPLETE,
    CONFIRM,
    FAILED,
    FINISHED_STATES,
    PRUNED,
    RUNNING,
    SEARCH,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PROGRESS_COLUMNS = [
    "task",
    "loss",
    "search_done",
    "search_planned",
    "confirm_done",
    "confirm_planned",
    RUNNING,
    FAILED,
    PRUNED,
    "epochs_trained",
    "compute_seconds",
    "best_value",
    "eta_seconds",
]


def progress_frame(runs: pd.DataFrame, plan: StudyPlan, workers: int = 1) -> pd.DataFrame:
    """One row per (task, loss) of `plan`: runs finished / planned per phase, runs in flight,
    failed and pruned runs, what was spent so far (epochs trained and compute seconds of the
    finished runs, both phases: the budget ledger), the best search value and an ETA in seconds.

    The ETA assumes `workers` workers and the mean wall time of the finished runs.
    """
    from polybench.stats import best_search_runs

    objective = plan.config.search.objectives[0]
    finished_all = runs[runs["state"].isin(FINISHED_STATES)] if len(runs) else runs
    mean_time = (
        float(finished_all["wall_time"].dropna().mean())
        if len(finished_all) and finished_all["wall_time"].notna().any()
        else math.nan
    )
    rows: list[dict[str, Any]] = []
    for pair in plan.pairs:
        studies = (pair.search_study, pair.confirm_study)
        mine = runs[runs["optuna_study"].isin(studies)] if len(runs) else runs
        search = mine[mine["phase"] == SEARCH] if len(mine) else mine
        confirm = mine[mine["phase"] == CONFIRM] if len(mine) else mine
        done_search = int(search["state"].isin(FINISHED_STATES).sum()) if len(search) else 0
        done_confirm = int((confirm["state"] == COMPLETE).sum()) if len(confirm) else 0
        # the best so far, a top-up's new trials included (not the stored pick)
        chosen = best_search_runs(search, objective, stored=False) if len(search) else search
        best = float(chosen[objective].iloc[0]) if len(chosen) else math.nan
        remaining = max(0, pair.trials - done_search) + max(
            0, len(pair.confirm_seeds) - done_confirm
        )
        rows.append(
            {
                "task": pair.task_entry.name,
                "loss": pair.loss_entry.name
                + (f" (repeat {pair.repeat + 1})" if plan.config.search.repeats > 1 else ""),
                "search_done": min(done_search, pair.trials),
                "search_planned": pair.trials,
                "confirm_done": min(done_confirm, len(pair.confirm_seeds)),
                "confirm_planned": len(pair.confirm_seeds),
                **{
                    state: int((mine["state"] == state).sum()) if len(mine) else 0
                    for state in (RUNNING, FAILED, PRUNED)
                },
                "epochs_trained": int(_finished(mine)["epochs_done"].sum()),
                "compute_seconds": float(_finished(mine)["wall_time"].fillna(0).sum()),
                "best_value": best,
                "eta_seconds": remaining * mean_time / max(1, workers) if remaining else 0.0,
            }
        )
    frame = pd.DataFrame(rows, columns=PROGRESS_COLUMNS)
    frame.attrs.update(study=plan.config.name, objective=objective)
    return frame


def _finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["state"].isin(FINISHED_STATES)] if len(runs) else runs


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: nothing finished yet
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_table(frame: pd.DataFrame) -> Table:
    """A rich table of a `progress_frame`: runs done, best so far and ETA per (task, loss)."""
    from rich.table import Table

    objective = frame.attrs.get("objective", "value")
    table = Table(title=f"study {frame.attrs.get('study', '')}", title_justify="left")
    columns = ("task", "loss", "search", f"best {objective}", "confirm", "run/fail/prune")
    for name in (*columns, "epochs", "compute", "ETA"):
        text = name in ("task", "loss")
        table.add_column(
            name, justify="left" if text else "right", overflow="fold" if text else "ellipsis"
        )
    for row in frame.itertuples(index=False):
        best = "" if row.best_value != row.best_value else f"{row.best_value:.4f}"
        search = (
            "baseline" if row.search_planned == 0 else f"{row.search_done}/{row.search_planned}"
        )
        table.add_row(
            row.task,
            row.loss,
            search,
            best,
            f"{row.confirm_done}/{row.confirm_planned}",
            f"{row.running}/{row.failed}/{row.pruned}",
            str(row.epochs_trained),
            _duration(row.compute_seconds),
            _duration(row.eta_seconds),
        )
    done = int(frame["search_done"].sum() + frame["confirm_done"].sum())
    planned = int(frame["search_planned"].sum() + frame["confirm_planned"].sum())
    eta = float(frame["eta_seconds"].sum()) if len(frame) else 0.0
    table.caption = f"{done}/{planned} runs finished; ETA {_duration(eta)}"
    return table


class LiveProgress:
    """Redraws the progress table from the store every `interval` seconds in a thread."""

    def __init__(
        self,
        read: Callable[[], pd.DataFrame],
        plan: StudyPlan,
        console: Console,
        workers: int,
        interval: float = 2.0,
    ) -> None:
        self._read = read
        self._plan = plan
        self._console = console
        self._workers = workers
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Any = None

    def _render(self) -> Table:
        try:
            frame = progress_frame(self._read(), self._plan, self._workers)
        except Exception as error:  # a busy database must not stop the study
            from rich.table import Table

            table = Table(title=f"study {self._plan.config.name}")
            table.add_column(f"progress unavailable: {error}")
            return table
        return progress_table(frame)

    def __enter__(self) -> LiveProgress:
        from rich.live import Live
        from rich.text import Text

        # The first table is drawn by the thread: reading the store and importing what the
        # table needs (scipy, 0.4 s) then overlaps the workers' start instead of delaying it.
        starting = Text(f"study {self._plan.config.name}: starting {self._workers} worker(s)")
        self._live = Live(starting, console=self._console, auto_refresh=False, transient=False)
        self._live.__enter__()

        def loop() -> None:
            while True:
                self._live.update(self._render(), refresh=True)
                if self._stop.wait(self._interval):
                    return

        self._thread = threading.Thread(target=loop, name="polybench-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._live.update(self._render(), refresh=True)
        self._live.__exit__(*exc_info)
