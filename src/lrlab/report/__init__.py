"""See what happened: plots, tables and one self-contained HTML report per run.

Every plot is computed first, then drawn: an ``*_info`` function returns plain data (a
dataclass or DataFrame that tests assert on) and a ``plot_*`` function draws it on a new
matplotlib figure (the Agg canvas, no pyplot state: nothing is shown or needs closing), or,
given ``ax=``, on the caller's axes, which it returns.

* per epoch, every member: :func:`curves_info` / :func:`plot_curves` (loss, error, AUC,
  SSE; train solid, validation dashed; diverged members marked), :func:`grad_norm_info` /
  :func:`plot_grad_norm`;
* rate x time: :func:`heatmap_info` / :func:`plot_heatmap`, :func:`sse_info` /
  :func:`plot_sse` (Wilson & Martinez), :func:`schedule_info` or :func:`schedule_curves` /
  :func:`plot_schedules`;
* sensitivity: :func:`sensitivity_info` / :func:`plot_sensitivity` (final metric against
  the rate, per seed, the basin of good rates shaded);
* the range test: :func:`range_test_info` / :func:`plot_range_test`;
* data size: :func:`learning_curve` (trains nested subsets) / :func:`learning_curve_info` /
  :func:`plot_learning_curve`;
* tables: :func:`member_table`, :func:`robustness_table`, :func:`markdown_table`;
* pages: :func:`write_report` (any run or run folder) and :func:`write_content`
  (:func:`report_content`'s, perhaps reworded) on top of :func:`write_page`.

Example:
    >>> from lrlab import sweep
    >>> from lrlab.report import curves_info, plot_curves, write_report
    >>> run = sweep("blobs", lrs=[1.0, 0.1], epochs=3)
    >>> fig = plot_curves(curves_info(run, "error"))
    >>> write_report(run, "/tmp/blobs.html").suffix
    '.html'
"""

from lrlab.report._curves import (
    CURVE_METRICS,
    CurvesInfo,
    GradNormInfo,
    curves_info,
    grad_norm_info,
    plot_curves,
    plot_grad_norm,
)
from lrlab.report._grids import HeatmapInfo, SseInfo, heatmap_info, plot_heatmap, plot_sse, sse_info
from lrlab.report._learning import (
    LearningCurve,
    LearningCurveInfo,
    learning_curve,
    learning_curve_info,
    plot_learning_curve,
)
from lrlab.report._page import write_page
from lrlab.report._range import RangeInfo, load_range_test, plot_range_test, range_test_info
from lrlab.report._report import (
    PLOTS,
    RangeRun,
    check_plots,
    load_run,
    report_content,
    write_content,
    write_report,
)
from lrlab.report._schedules import ScheduleCurves, plot_schedules, schedule_curves, schedule_info
from lrlab.report._sensitivity import plot_sensitivity, sensitivity_info
from lrlab.report._style import label_axes, new_figure, rate_colors
from lrlab.report._tables import (
    TARGET_FRACTION,
    markdown_table,
    member_table,
    robustness_table,
    target_value,
)

__all__ = [
    "CURVE_METRICS",
    "PLOTS",
    "TARGET_FRACTION",
    "CurvesInfo",
    "GradNormInfo",
    "HeatmapInfo",
    "LearningCurve",
    "LearningCurveInfo",
    "RangeInfo",
    "RangeRun",
    "ScheduleCurves",
    "SseInfo",
    "check_plots",
    "curves_info",
    "grad_norm_info",
    "heatmap_info",
    "label_axes",
    "learning_curve",
    "learning_curve_info",
    "load_range_test",
    "load_run",
    "markdown_table",
    "member_table",
    "new_figure",
    "plot_curves",
    "plot_grad_norm",
    "plot_heatmap",
    "plot_learning_curve",
    "plot_range_test",
    "plot_schedules",
    "plot_sensitivity",
    "plot_sse",
    "range_test_info",
    "rate_colors",
    "report_content",
    "robustness_table",
    "schedule_curves",
    "schedule_info",
    "sensitivity_info",
    "sse_info",
    "target_value",
    "write_content",
    "write_page",
    "write_report",
]
