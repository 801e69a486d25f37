"""Statistics over stored runs: is a loss better than cross-entropy, and does that beat noise?

Pure functions over the runs frame of `polybench.db.Store.runs()` (they never touch a database):

- `seed_summary`: per task, loss and test metric, the mean, standard deviation and 95% interval
  over the seeds of the confirm runs. The interval shown is the percentile bootstrap over seeds
  (10,000 resamples, fixed RNG seed, so the output is deterministic); the t-interval is given
  beside it.
- `compare_to_baseline`: each loss minus cross-entropy with its interval, the paired t-test when
  both ran on the same seeds (otherwise Welch's), raw and Holm-adjusted p-values, Hedges' g.
- `friedman`: average ranks across tasks, Friedman and Iman–Davenport tests, Nemenyi critical
  difference (Demšar 2006).
- `sensitivity`, `sensitivity_summary`, `param_importances`: score against each hyperparameter in
  the search runs, and Optuna's fANOVA importances.
- `pareto_front`, `accuracy_throughput_front`: the accuracy-throughput trade-off across losses.
- `budget_ledger`: what each loss's result cost (trials by outcome, epochs, seconds);
  `expected_best`, `expected_best_curve`: expected best validation score after k trials
  (Dodge et al. 2019), which says how easy each loss is to tune.

With too few seeds (n < 2) or tasks (< 2) the numbers are NaN and a `note` says so in words.
"""

from polybench.stats._baseline import (
    BASELINE,
    Comparison,
    TTest,
    compare,
    compare_to_baseline,
    hedges_g,
    holm,
    paired_t_test,
    welch_t_test,
)
from polybench.stats._budget import (
    EXPECTED_BEST_COLUMNS,
    LEDGER_COLUMNS,
    SEARCH_SPREAD_COLUMNS,
    budget_ledger,
    budget_points,
    expected_best,
    expected_best_curve,
    search_repeat,
    search_spread,
)
from polybench.stats._metrics import METRICS, TEST_METRICS, Metric, get_metric
from polybench.stats._pareto import accuracy_throughput_front, non_dominated, pareto_front
from polybench.stats._ranks import (
    FriedmanResult,
    friedman,
    friedman_from_ranks,
    nemenyi_critical_difference,
    nemenyi_q,
    rank_losses,
)
from polybench.stats._search import (
    param_importances,
    search_runs,
    sensitivity,
    sensitivity_summary,
)
from polybench.stats._seeds import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    MIN_SEEDS,
    RECOMMENDED_SEEDS,
    Interval,
    bootstrap_description,
    bootstrap_difference_interval,
    bootstrap_interval,
    confirm_runs,
    seed_note,
    seed_summary,
    t_interval,
)

__all__ = [
    "BASELINE",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "EXPECTED_BEST_COLUMNS",
    "LEDGER_COLUMNS",
    "METRICS",
    "MIN_SEEDS",
    "RECOMMENDED_SEEDS",
    "SEARCH_SPREAD_COLUMNS",
    "TEST_METRICS",
    "Comparison",
    "FriedmanResult",
    "Interval",
    "Metric",
    "TTest",
    "accuracy_throughput_front",
    "bootstrap_description",
    "bootstrap_difference_interval",
    "bootstrap_interval",
    "budget_ledger",
    "budget_points",
    "compare",
    "compare_to_baseline",
    "confirm_runs",
    "expected_best",
    "expected_best_curve",
    "friedman",
    "friedman_from_ranks",
    "get_metric",
    "hedges_g",
    "holm",
    "nemenyi_critical_difference",
    "nemenyi_q",
    "non_dominated",
    "paired_t_test",
    "param_importances",
    "pareto_front",
    "rank_losses",
    "search_repeat",
    "search_runs",
    "search_spread",
    "seed_note",
    "seed_summary",
    "sensitivity",
    "sensitivity_summary",
    "t_interval",
    "welch_t_test",
]
