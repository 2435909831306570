"""Sensitivity to the rate: the final validation metric against the rate, per seed, with the
basin of good rates marked (see :func:`lrlab.train.sensitivity`).

Compute, then draw: :func:`sensitivity_info` returns a :class:`lrlab.train.Sensitivity`;
:func:`plot_sensitivity` only draws it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from lrlab.report._style import DIVERGED, colors_for, drawing_on, label_axes, legend_outside
from lrlab.train import Sensitivity

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.train import SweepResult

__all__ = ["plot_sensitivity", "sensitivity_info"]

#: How the settings' median lines and basins are told apart (colour is the rate's).
_LINES = ("-", "--", ":", "-.")
_HATCHES = ("", "//", "\\\\", "..")


def sensitivity_info(run: SweepResult, tolerance: float = 0.05) -> Sensitivity:
    """The basin of good rates of every setting of ``run`` (``run.sensitivity``).

    Example:
        >>> from lrlab import sweep
        >>> info = sensitivity_info(sweep("blobs", lrs=[1.0, 0.1, 0.01], epochs=2))
        >>> len(info.basins), info.tolerance
        (1, 0.05)
    """
    return run.sensitivity(tolerance)


def plot_sensitivity(info: Sensitivity, *, ax: Axes | None = None,
                     colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """Final validation metric against the rate (log): each seed a dot in its rate's colour
    (``colors``: the page's :func:`rate_colors`), the median per rate a grey line and the
    basin a shaded band (one line style and hatch per setting); diverged seeds an X on top,
    the best rate of each setting a star. On ``ax`` when given (and ``ax`` returned), else on
    a new figure."""
    out, ax = drawing_on(ax)
    points = info.points
    colors = colors_for(points["lr"], colors)
    for i, basin in enumerate(info.basins):
        line, hatch = _LINES[i % len(_LINES)], _HATCHES[i % len(_HATCHES)]
        mine = points[points["setting"] == basin.setting]
        name = basin.setting or "median over seeds"
        ax.plot(basin.rates, basin.values, linestyle=line, color="0.3", label=name)
        ax.scatter(mine["lr"], mine["value"], c=[colors[float(v)] for v in mine["lr"]], s=18,
                   alpha=0.8, zorder=4)
        lo, hi = (basin.lo / 1.15, basin.hi * 1.15) if basin.lo == basin.hi else \
            (basin.lo, basin.hi)
        ax.axvspan(lo, hi, facecolor="0.5", alpha=0.15, hatch=hatch, edgecolor="0.6",
                   label=f"basin {basin.describe()}")
        ax.scatter([basin.best_lr], [basin.best], marker="*", s=140,
                   color=colors[basin.best_lr], edgecolors="black", zorder=6)
    lost = points[points["value"].isna()]
    if len(lost):
        ax.scatter(lost["lr"], np.full(len(lost), 0.97), transform=ax.get_xaxis_transform(),
                   c="white", clip_on=False, label="diverged (no value)", **DIVERGED)
    ax.set_xscale("log")
    if len(points):
        ax.set_xlim(points["lr"].min() / 1.5, points["lr"].max() * 1.5)
    label_axes(ax, x="learning rate", y=f"final validation {info.monitor}",
               title=f"good rates: within {info.tolerance:.0%} of the best (median over seeds)")
    legend_outside(ax)
    return out
