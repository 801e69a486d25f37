"""Statistics over stored runs: is a loss better than cross-entropy, and does the evidence hold?

Pure functions over the runs frame of `polybench.db.Store.runs()` (they never touch a database):

- `seed_summary`: per task, loss and test metric, the mean, standard deviation and 95% interval
  over the seeds of the confirm runs: the Student t-interval (`ci_*`, the headline; it keeps
  95% coverage at 3 seeds) and the percentile bootstrap beside it (`boot_*`).
- `compare_to_baseline`: each loss minus cross-entropy on the seeds both completed: paired
  t-interval and test, raw and Holm-adjusted p, effect sizes d_z and g_av, the minimum
  detectable difference at 80% power, TOST against an equivalence margin, failed seeds, and a
  verdict: better, worse, equivalent or inconclusive.
- `paired_power`, `detectable_effect`, `minimum_detectable_difference`, `seeds_needed`: power
  of the paired t-test from the noncentral t distribution.
- `best_search_runs`: the search run of each (task, loss) whose parameters are confirmed, the
  one rule the runner, the report and the dashboard share.
- `confirm_groups`: confirm runs grouped by the parameters they confirmed (a top-up that changed
  the best setting starts a new group; only the current group is compared).
- `friedman`, `wilcoxon_vs_baseline`: average ranks across tasks, Friedman and Iman–Davenport
  tests (exact permutation p with few tasks), Nemenyi critical difference when the test rejects
  (Demšar 2006), Wilcoxon signed-rank per loss against the baseline, Holm-adjusted.
- `improvement_over_baseline`, `interquartile_means`: probability of improvement and IQM with
  stratified bootstrap intervals (Agarwal et al. 2021).
- `sensitivity`, `sensitivity_summary`, `param_importances`: score against each hyperparameter in
  the search runs, and Optuna's fANOVA importances.
- `pareto_front`, `accuracy_throughput_front`: the accuracy-throughput trade-off across losses.
- `budget_ledger`: what each loss's result cost (trials by outcome, epochs, seconds);
  `expected_best`, `expected_best_curve`: expected best validation score after k trials
  (Dodge et al. 2019), which says how easy each loss is to tune.

With too few seeds (n < 2) or tasks (< 2) the numbers are NaN and a `note` says so in words.
"""

from polybench.stats._baseline import (
    ALPHA,
    BASELINE,
    COMPARISON_COLUMNS,
    VERDICTS,
    Comparison,
    Equivalence,
    TTest,
    compare,
    compare_to_baseline,
    effect_sizes,
    failure_text,
    hedges_g,
    holm,
    paired_t_test,
    tost_paired,
    verdict_of,
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
from polybench.stats._groups import best_search_runs, confirm_groups, current_confirm_group
from polybench.stats._improvement import (
    improvement_over_baseline,
    interquartile_mean,
    interquartile_means,
    normalized_scores,
    probability_of_improvement,
)
from polybench.stats._metrics import (
    METRICS,
    TEST_METRICS,
    Metric,
    get_metric,
    objective_higher_is_better,
)
from polybench.stats._pareto import accuracy_throughput_front, non_dominated, pareto_front
from polybench.stats._power import (
    POWER,
    detectable_effect,
    minimum_detectable_difference,
    paired_power,
    seeds_needed,
)
from polybench.stats._ranks import (
    FriedmanResult,
    friedman,
    friedman_from_ranks,
    friedman_permutation_p,
    nemenyi_critical_difference,
    nemenyi_q,
    rank_losses,
    wilcoxon_vs_baseline,
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
    interval_description,
    seed_note,
    seed_summary,
    t_interval,
)

__all__ = [
    "ALPHA",
    "BASELINE",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "COMPARISON_COLUMNS",
    "CONFIDENCE",
    "EXPECTED_BEST_COLUMNS",
    "LEDGER_COLUMNS",
    "METRICS",
    "MIN_SEEDS",
    "POWER",
    "RECOMMENDED_SEEDS",
    "SEARCH_SPREAD_COLUMNS",
    "TEST_METRICS",
    "VERDICTS",
    "Comparison",
    "Equivalence",
    "FriedmanResult",
    "Interval",
    "Metric",
    "TTest",
    "accuracy_throughput_front",
    "best_search_runs",
    "bootstrap_description",
    "bootstrap_difference_interval",
    "bootstrap_interval",
    "budget_ledger",
    "budget_points",
    "compare",
    "compare_to_baseline",
    "confirm_groups",
    "confirm_runs",
    "current_confirm_group",
    "detectable_effect",
    "effect_sizes",
    "expected_best",
    "expected_best_curve",
    "failure_text",
    "friedman",
    "friedman_from_ranks",
    "friedman_permutation_p",
    "get_metric",
    "hedges_g",
    "holm",
    "improvement_over_baseline",
    "interquartile_mean",
    "interquartile_means",
    "interval_description",
    "minimum_detectable_difference",
    "nemenyi_critical_difference",
    "nemenyi_q",
    "non_dominated",
    "normalized_scores",
    "objective_higher_is_better",
    "paired_power",
    "paired_t_test",
    "param_importances",
    "pareto_front",
    "probability_of_improvement",
    "rank_losses",
    "search_repeat",
    "search_runs",
    "search_spread",
    "seed_note",
    "seed_summary",
    "seeds_needed",
    "sensitivity",
    "sensitivity_summary",
    "t_interval",
    "tost_paired",
    "verdict_of",
    "welch_t_test",
    "wilcoxon_vs_baseline",
]
