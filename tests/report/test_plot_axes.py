"""Every ``plot_*`` draws on the caller's axes when given one: the same lines as on its own
figure, on that axes, which is returned; anything but an Axes is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from report_helpers import range_result

from lrlab._errors import LrlabError
from lrlab.report import (
    LearningCurveInfo,
    curves_info,
    grad_norm_info,
    heatmap_info,
    new_figure,
    plot_curves,
    plot_grad_norm,
    plot_heatmap,
    plot_learning_curve,
    plot_range_test,
    plot_schedules,
    plot_sensitivity,
    plot_sse,
    range_test_info,
    schedule_info,
    sensitivity_info,
    sse_info,
)


def _plots(run) -> dict:
    """Each plot function with the info it draws (a synthetic run and range test)."""
    sizes = LearningCurveInfo("auc", pd.DataFrame({
        "setting": ["lr=0.1", "lr=0.1", "lr=1", "lr=1"], "lr": [0.1, 0.1, 1.0, 1.0],
        "size": [60, 150, 60, 150], "best": [0.7, 0.8, 0.6, np.nan], "seeds": [1, 1, 1, 1]}))
    return {
        "curves": lambda ax: plot_curves(curves_info(run, "loss"), ax=ax),
        "grad_norm": lambda ax: plot_grad_norm(grad_norm_info(run), ax=ax),
        "heatmap": lambda ax: plot_heatmap(heatmap_info(run), ax=ax),
        "sse": lambda ax: plot_sse(sse_info(run), ax=ax),
        "schedules": lambda ax: plot_schedules(schedule_info(run), log=True, ax=ax),
        "learning_curve": lambda ax: plot_learning_curve(sizes, ax=ax),
        "range_test": lambda ax: plot_range_test(range_test_info(range_result(1)), ax=ax),
        "sensitivity": lambda ax: plot_sensitivity(sensitivity_info(run), ax=ax),
    }


def _lines(ax) -> list[str]:
    """Each line's points as text (NaN compares equal to NaN there)."""
    return [repr((np.asarray(line.get_xdata(), float).tolist(),
                  np.asarray(line.get_ydata(), float).tolist())) for line in ax.get_lines()]


def test_every_plot_of_the_report_is_checked_here(run) -> None:
    """The README says every ``plot_*`` takes ``ax=``: each is in the list below (the
    sensitivity plot was not, and took no ``ax``)."""
    import lrlab.report

    names = {n.removeprefix("plot_") for n in lrlab.report.__all__ if n.startswith("plot_")}
    assert names == set(_plots(run))


@pytest.mark.parametrize("name", ["curves", "grad_norm", "heatmap", "sse", "schedules",
                                  "learning_curve", "range_test", "sensitivity"])
def test_a_plot_draws_on_the_given_axes(run, name: str) -> None:
    draw = _plots(run)[name]
    fig, axes = new_figure(1, 2)  # the user's figure: draw in its second panel
    left, right = axes[0, 0], axes[0, 1]
    assert draw(right) is right
    own = draw(None)  # the usual fresh figure
    assert isinstance(own, Figure) and right not in own.axes
    assert _lines(right) == _lines(own.axes[0]) and (_lines(right) or right.images)
    assert right.get_title() == own.axes[0].get_title()
    assert right.get_xscale() == own.axes[0].get_xscale()
    assert not left.get_lines() and not left.images  # the other panel is left alone
    assert right.figure is fig


def test_the_range_test_puts_accuracy_on_a_twin_axis() -> None:
    info = range_test_info(range_result(1))
    fig, axes = new_figure()
    ax = plot_range_test(info, ax=axes[0, 0])
    twins = [other for other in fig.axes if other is not ax]
    assert len(twins) == 1 and twins[0].get_ylabel() == "validation accuracy"
    acc = twins[0].get_lines()[0].get_ydata()
    assert np.allclose(acc, info.curve["val_accuracy"].dropna().to_numpy())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "validation accuracy" in labels and "loss (raw)" in labels


def test_something_else_than_axes_is_refused(run) -> None:
    fig, _ = new_figure()
    with pytest.raises(LrlabError, match="ax must be a matplotlib Axes"):
        plot_curves(curves_info(run, "loss"), ax=fig)
