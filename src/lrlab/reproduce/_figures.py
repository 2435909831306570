"""Figures the report package has no plot for: curves with their seed-to-seed spread.

Compute, then draw (as in :mod:`lrlab.report`): :func:`band_info` turns groups of seed
curves into a plain table (``group, source, epoch, low, mid, high``); :func:`plot_bands`
only draws it, one colour per group, each source its own line style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["band_info", "plot_bands", "rate_groups"]

_STYLES = ("-", "--", ":", "-.")


def band_info(groups: Mapping[str, pd.DataFrame], source: str = "lrlab",
              mid: str = "median") -> pd.DataFrame:
    """Per group and epoch: the lowest, middle (``median`` or ``mean``) and highest value
    over the group's seeds (columns of each ``epoch x seed`` table; NaN ignored)."""
    frames = []
    for name, table in groups.items():
        values = table.to_numpy(dtype=np.float64)
        finite = np.isfinite(values).any(axis=1)
        low = np.full(len(table), np.nan)
        high, middle = low.copy(), low.copy()
        if finite.any():
            kept = values[finite]
            low[finite] = np.nanmin(kept, axis=1)
            high[finite] = np.nanmax(kept, axis=1)
            middle[finite] = (np.nanmedian(kept, axis=1) if mid == "median"
                              else np.nanmean(kept, axis=1))
        frames.append(pd.DataFrame({"group": name, "source": source,
                                    "epoch": table.index.to_numpy(), "low": low,
                                    "mid": middle, "high": high}))
    return pd.concat(frames, ignore_index=True)


def plot_bands(info: pd.DataFrame, *, title: str, ylabel: str, log: bool = False,
               xlabel: str = "epoch", colors: Mapping[str, tuple] | None = None) -> Figure:
    """Each group's middle curve over the band of its seeds; sources differ in line style
    (the first source solid), groups in colour: ``colors[group]`` when given (groups that
    are rates: the page's :func:`~lrlab.report.rate_colors`, see :func:`rate_groups`)."""
    from matplotlib import colormaps

    from lrlab.report import label_axes, new_figure

    fig, axes = new_figure()
    ax = axes[0, 0]
    groups = list(dict.fromkeys(info["group"]))
    sources = list(dict.fromkeys(info["source"]))
    for i, group in enumerate(groups):
        color = colors[group] if colors is not None else _colour(colormaps, i, len(groups))
        for j, source in enumerate(sources):
            rows = info[(info["group"] == group) & (info["source"] == source)]
            if rows.empty:
                continue
            ax.fill_between(rows["epoch"], rows["low"], rows["high"], color=color,
                            alpha=0.25 if j == 0 else 0.12, linewidth=0)
            label = f"{group}" + (f" ({source})" if len(sources) > 1 else "")
            ax.plot(rows["epoch"], rows["mid"], color=color, linestyle=_STYLES[j % 4],
                    linewidth=1.5, label=label)
    if log:
        ax.set_yscale("log")
    label_axes(ax, x=xlabel, y=ylabel, title=title)
    ax.legend(fontsize="x-small", ncol=2 if len(groups) * len(sources) > 6 else 1)
    return fig


def rate_groups(rates: Sequence[float]) -> dict[str, tuple]:
    """The colour of each rate's group, ``lr=<rate>``, as every report plot draws that rate
    (:func:`~lrlab.report.rate_colors`), so a band and a curve of one rate match."""
    from lrlab.report import rate_colors

    return {f"lr={lr:g}": color for lr, color in rate_colors(rates).items()}


def _colour(colormaps, i: int, n: int) -> tuple:
    """Group ``i`` of ``n``: viridis for a few (ordered, like rates), distinct hues beyond."""
    if n <= 6:
        return colormaps["viridis"](0.9 * i / max(n - 1, 1))
    return colormaps["tab10"](i) if n <= 10 else colormaps["tab20"](i % 20)
