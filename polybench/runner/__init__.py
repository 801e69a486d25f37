"""The study runner: Optuna search per (task, loss) under an equal budget, then confirm runs.

>>> from polybench.runner import run_study, study_status
>>> summary = run_study("studies/quickstart.yaml", storage="sqlite:///demo.db")  # doctest: +SKIP
>>> study_status("sqlite:///demo.db", "quickstart")                              # doctest: +SKIP

Workers (processes on one machine, or the same command on several machines sharing one
PostgreSQL URL) take trials from Optuna's storage; see `polybench.runner._trials` for how
budgets, retries and confirm seeds stay exact when they race.
"""

from polybench.runner._plan import (
    CONFIRM_SEED_OFFSET,
    DEFAULT_TRIALS,
    PairPlan,
    Param,
    StudyPlan,
    build_plan,
)
from polybench.runner._progress import PROGRESS_COLUMNS, progress_frame, progress_table
from polybench.runner._registry import PRUNERS, SAMPLERS, SearchContext
from polybench.runner._study import StudySummary, run_study, study_status

__all__ = [
    "CONFIRM_SEED_OFFSET",
    "DEFAULT_TRIALS",
    "PROGRESS_COLUMNS",
    "PRUNERS",
    "SAMPLERS",
    "PairPlan",
    "Param",
    "SearchContext",
    "StudyPlan",
    "StudySummary",
    "build_plan",
    "progress_frame",
    "progress_table",
    "run_study",
    "study_status",
]
