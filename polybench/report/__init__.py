"""Reports over the results database: the frames a reviewer asks for, in notebooks and files.

>>> from polybench import report
>>> report.summary("sqlite:///polybench.db", "quickstart")      # doctest: +SKIP
>>> report.runs("sqlite:///polybench.db", "quickstart", phase="confirm")  # doctest: +SKIP
>>> report.export("sqlite:///polybench.db", "quickstart", "runs.parquet")  # doctest: +SKIP

`summary` has one row per task and loss (`SUMMARY_COLUMNS`): best params, validation score,
test mean with its 95% percentile-bootstrap interval over seeds, the difference to cross-entropy
with its interval, paired (or Welch) t-test p-value raw and Holm-adjusted, Hedges' g,
throughput and rank. `render` turns it into Markdown, LaTeX, HTML or CSV; `verdicts` says per
task which loss is best, by how much, and whether that beats noise. The numbers come from
`polybench.stats`.
"""

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
    summary,
)
from polybench.report._render import (
    REPORT_FORMATS,
    check_format,
    display_frame,
    markdown_table,
    ranking_lines,
    render,
    terminal_report,
)
from polybench.report._summary import SUMMARY_COLUMNS, summarize, verdicts

__all__ = [
    "EXPORT_FORMATS",
    "IMPORTANCE_COLUMNS",
    "REPORT_FORMATS",
    "SUMMARY_COLUMNS",
    "check_format",
    "check_output",
    "display_frame",
    "epochs",
    "epochs_path",
    "export",
    "export_format",
    "importances",
    "markdown_table",
    "pareto",
    "ranking",
    "ranking_lines",
    "read_export",
    "render",
    "runs",
    "sensitivity",
    "studies",
    "study_metric",
    "summarize",
    "summary",
    "terminal_report",
    "verdicts",
    "write_export",
]
