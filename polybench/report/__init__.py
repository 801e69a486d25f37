"""Reports over the results database: the frames a reviewer asks for, in notebooks and files.

>>> from polybench import report
>>> report.summary("sqlite:///polybench.db", "quickstart")      # doctest: +SKIP
>>> report.runs("sqlite:///polybench.db", "quickstart", phase="confirm")  # doctest: +SKIP
>>> report.export("sqlite:///polybench.db", "quickstart", "runs.parquet")  # doctest: +SKIP

`summary` has one row per task and loss (`SUMMARY_COLUMNS`): best params, validation score,
test mean with its 95% Student t-interval over seeds, the paired difference to cross-entropy
with its interval, paired t-test p-value raw and Holm-adjusted, d_z and g_av, the minimum
detectable difference, failed seeds, throughput, rank and a verdict (better, worse, equivalent
or inconclusive). `render` turns it into Markdown, LaTeX, HTML or CSV; `verdicts` says per task
which loss the evidence supports and what each comparison could have detected;
`across_task_lines` adds ranks, Friedman, Wilcoxon, probability of improvement and IQM;
`power_table` answers `polybench report --mde`. The numbers come from `polybench.stats`.
`budget` adds what each loss's result cost (trials by outcome, epochs, seconds) and the
expected best validation score after k trials, which says how easy each loss is to tune.
"""

from polybench.report._budget import (
    Budget,
    budget,
    budget_renderables,
    budget_text,
    curve_display,
    ledger_display,
)
from polybench.report._export import (
    EXPORT_FORMATS,
    check_output,
    epochs_path,
    export,
    export_format,
    read_export,
    write_export,
)
from polybench.report._frames import (
    IMPORTANCE_COLUMNS,
    epochs,
    importances,
    pareto,
    ranking,
    runs,
    sensitivity,
    studies,
    study_metric,
    study_objective,
    summary,
)
from polybench.report._render import (
    POWER_COLUMNS,
    REPORT_FORMATS,
    across_task_lines,
    check_format,
    display_frame,
    footer_lines,
    markdown_table,
    power_lines,
    power_table,
    ranking_lines,
    render,
    render_power,
    terminal_report,
)
from polybench.report._summary import (
    SUMMARY_COLUMNS,
    seed_scores,
    summarize,
    verdict_sentence,
    verdicts,
)

__all__ = [
    "EXPORT_FORMATS",
    "IMPORTANCE_COLUMNS",
    "POWER_COLUMNS",
    "REPORT_FORMATS",
    "SUMMARY_COLUMNS",
    "Budget",
    "across_task_lines",
    "budget",
    "budget_renderables",
    "budget_text",
    "check_format",
    "check_output",
    "curve_display",
    "display_frame",
    "epochs",
    "epochs_path",
    "export",
    "export_format",
    "footer_lines",
    "importances",
    "ledger_display",
    "markdown_table",
    "pareto",
    "power_lines",
    "power_table",
    "ranking",
    "ranking_lines",
    "read_export",
    "render",
    "render_power",
    "runs",
    "seed_scores",
    "sensitivity",
    "studies",
    "study_metric",
    "study_objective",
    "summarize",
    "summary",
    "terminal_report",
    "verdict_sentence",
    "verdicts",
    "write_export",
]
