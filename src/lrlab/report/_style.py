"""What every lrlab figure shares: a fresh Agg figure, one colour per rate, the log test.

Figures are :class:`matplotlib.figure.Figure` objects on the Agg canvas, made without
pyplot: nothing is registered globally, nothing is shown, and nothing needs closing.

One colour per rate on a whole page: a page builder makes one :func:`rate_colors` mapping
over every rate it shows and passes it as ``colors=`` to every plot; a plot drawn alone
makes its own from its rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from lrlab._errors import LrlabError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DIVERGED",
    "colors_for",
    "drawing_on",
    "epoch_axis",
    "label_axes",
    "legend_outside",
    "new_figure",
    "rate_colors",
    "spans_decades",
]

#: How a diverged member is marked in every plot.
DIVERGED = {"marker": "X", "s": 70, "edgecolors": "black", "linewidths": 0.6, "zorder": 5}


def new_figure(rows: int = 1, cols: int = 1, *, width: float = 8.0, height: float = 4.5,
               **subplots) -> tuple[Figure, np.ndarray]:
    """A figure on the Agg canvas and its axes as a 2-D array ``(rows, cols)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **subplots)
    return fig, axes


def drawing_on(ax: Axes | None, **figure) -> tuple[Figure | Axes, Axes]:
    """Where a ``plot_*`` draws: the caller's ``ax`` (returned as it is), or the single axes
    of a fresh :func:`new_figure` (the figure is returned).

    Returns ``(what the plot returns, the axes to draw on)``.

    Raises:
        LrlabError: ``ax`` is not a matplotlib ``Axes``.
    """
    if ax is None:
        fig, axes = new_figure(**figure)
        return fig, axes[0, 0]
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise LrlabError(f"ax must be a matplotlib Axes (got {type(ax).__name__}); "
                         "pass one from fig.subplots() or leave ax out for a new figure")
    return ax, ax


def rate_colors(lrs: Iterable[float]) -> dict[float, tuple]:
    """One colour per distinct rate, the same in every plot: small rates dark, large light
    (viridis over the rates' rank)."""
    from matplotlib import colormaps

    distinct = sorted({float(lr) for lr in lrs})
    cmap = colormaps["viridis"]
    span = max(len(distinct) - 1, 1)
    return {lr: cmap(0.9 * i / span) for i, lr in enumerate(distinct)}


def colors_for(lrs: Iterable[float],
               colors: Mapping[float, tuple] | None = None) -> Mapping[float, tuple]:
    """The colours a plot of ``lrs`` uses: the page's ``colors`` when given (it must hold
    every one of them), else :func:`rate_colors` of ``lrs`` alone.

    Raises:
        LrlabError: ``colors`` has no colour for one of the rates.
    """
    if colors is None:
        return rate_colors(lrs)
    missing = sorted({float(lr) for lr in lrs} - set(colors))
    if missing:
        raise LrlabError(f"colors has no colour for rate {missing[0]:g}; build it with "
                         "rate_colors over every rate the page shows")
    return colors


def spans_decades(values: Iterable[float], decades: float = 1.0) -> bool:
    """Whether the finite positive ``values`` span more than ``decades`` powers of ten
    (then a log axis shows them better); False when any finite value is <= 0."""
    v = np.asarray(list(values), dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2 or (v <= 0).any():
        return False
    return bool(np.log10(v.max() / v.min()) > decades)


def label_axes(ax: Axes, *, x: str, y: str, title: str | None = None) -> None:
    """Axis labels, an optional title and a light grid."""
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)


def epoch_axis(ax: Axes) -> None:
    """Whole epochs on the x axis."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = ax.get_xlim()
    if high - low < 2:  # one epoch: centre it rather than zoom into a sliver
        ax.set_xlim(round((low + high) / 2) - 1, round((low + high) / 2) + 1)


def legend_outside(ax: Axes, *, also: Iterable[Axes] = ()) -> None:
    """The legend to the right of the axes, so it never hides a curve; ``also``: axes
    sharing it (a twin) whose entries join the same legend."""
    handles, labels = ax.get_legend_handles_labels()
    for other in also:
        more = other.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if handles:
        ax.legend(handles, labels, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
