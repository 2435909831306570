"""Rate against time: a heat map of the validation metric over rate x epoch, and Wilson &
Martinez' SSE per rate after the first and the last epoch.

Compute, then draw: :func:`heatmap_info` and :func:`sse_info` return plain data;
:func:`plot_heatmap` and :func:`plot_sse` only draw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab.report._curves import member_records
from lrlab.report._style import DIVERGED, colors_for, drawing_on, epoch_axis, label_axes
from lrlab.train import setting_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.train import SweepResult

__all__ = ["HeatmapInfo", "SseInfo", "heatmap_info", "plot_heatmap", "plot_sse", "sse_info"]


@dataclass(frozen=True)
class HeatmapInfo:
    """The validation metric of every setting at every epoch.

    Attributes:
        metric: the metric (the run's monitor by default).
        settings: one label per row (members differing only by seed share a row), sorted by
            rate, smallest first.
        lrs: the rate of each row.
        epochs: the epoch of each column.
        values: ``(rows, epochs)``: the median over the row's seeds that have a finite
            value at that epoch; NaN where none has (every seed diverged before it).
        higher_is_better: the metric's direction (colours run from bad to good).
    """

    metric: str
    settings: tuple[str, ...]
    lrs: np.ndarray
    epochs: np.ndarray
    values: np.ndarray
    higher_is_better: bool


def heatmap_info(run: SweepResult, metric: str | None = None) -> HeatmapInfo:
    """The ``(setting, epoch)`` grid of the validation ``metric`` (default: the monitor)."""
    metric = metric or run.monitor
    rows = member_records(run, metric, ("val",))
    rows["value"] = rows["value"].where(np.isfinite(rows["value"]))
    groups = setting_labels(run.members)
    rows["setting"] = rows["member"].map(dict(zip(run.members["member"], groups)))
    grid = rows.pivot_table(index="setting", columns="epoch", values="value",
                            aggfunc="median", dropna=False)
    lr_of = rows.groupby("setting")["lr"].first()
    order = sorted(grid.index, key=lambda s: (lr_of[s], s))
    grid = grid.loc[order]
    higher = run.higher_is_better if metric == run.monitor else metric in ("auc", "accuracy")
    return HeatmapInfo(metric, tuple(order), lr_of.loc[order].to_numpy(float),
                       grid.columns.to_numpy(), grid.to_numpy(float), higher)


def plot_heatmap(info: HeatmapInfo, *, ax: Axes | None = None) -> Figure | Axes:
    """Rates down, epochs across; better values brighter, grey where no value. Drawn on
    ``ax`` when given (its colour bar beside it, ``ax`` returned), else on a new figure."""
    from matplotlib import colormaps

    out, ax = drawing_on(ax, height=max(2.5, 0.45 * len(info.settings) + 1.5))
    cmap = colormaps["magma" if info.higher_is_better else "magma_r"].with_extremes(bad="0.8")
    finite = info.values[np.isfinite(info.values)]
    limits = np.percentile(finite, [2, 98]) if len(finite) else (0.0, 1.0)
    image = ax.imshow(np.ma.masked_invalid(info.values), aspect="auto", cmap=cmap,
                      vmin=limits[0], vmax=limits[1], interpolation="nearest",
                      extent=(info.epochs[0] - 0.5, info.epochs[-1] + 0.5,
                              len(info.settings) - 0.5, -0.5))
    ax.set_yticks(range(len(info.settings)), info.settings)
    ax.figure.colorbar(image, ax=ax, label=f"validation {info.metric}")
    ax.set_xlabel("epoch")
    epoch_axis(ax)
    ax.set_title(f"validation {info.metric} by rate and epoch (median over seeds; grey: none)")
    return out


@dataclass(frozen=True)
class SseInfo:
    """Training SSE per member after the first and after the last epoch.

    Attributes:
        frame: ``member, label, lr, first, last, diverged``: the SSE summed over epoch 1
            and over the last epoch (NaN when the member diverged before it ended, or the
            value is not finite).
        last_epoch: the run's last epoch.
    """

    frame: pd.DataFrame
    last_epoch: int


def sse_info(run: SweepResult) -> SseInfo:
    """The training ``sse`` records of epoch 1 and of the last epoch, per member."""
    rows = member_records(run, "sse", ("train",))
    last = int(run.records["epoch"].max())
    out = run.members[["member", "label", "lr"]].reset_index(drop=True)
    wide = rows.pivot(index="member", columns="epoch", values="value").reindex(out["member"])
    gone = run.members["diverged"].astype(bool).to_numpy()
    stopped = run.members["diverged_epoch"].astype("Int64").fillna(last + 1).to_numpy(int)
    for name, epoch in (("first", 1), ("last", last)):
        values = wide[epoch].to_numpy(float) if epoch in wide else np.full(len(out), np.nan)
        ended = ~gone | (stopped > epoch)  # a member diverged in this epoch has no SSE for it
        out[name] = np.where(np.isfinite(values) & ended, values, np.nan)
    out["diverged"] = gone
    return SseInfo(out, last)


def plot_sse(info: SseInfo, *, ax: Axes | None = None,
             colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """SSE against rate (both log): the median per rate after the first epoch and after the
    last, each member a dot in its rate's colour (``colors``: the page's
    :func:`rate_colors`); a member without a value there (diverged) an X at the top. On
    ``ax`` when given (and ``ax`` returned), else on a new figure."""
    out, ax = drawing_on(ax)
    frame = info.frame
    colors = colors_for(frame["lr"], colors)
    styles = (("first", "after epoch 1", "o", "-"),
              ("last", f"after epoch {info.last_epoch}", "s", "--"))
    for column, label, marker, line in styles[: 1 if info.last_epoch == 1 else 2]:
        median = frame.groupby("lr")[column].median().dropna()
        ax.plot(median.index, median.to_numpy(), linestyle=line, color="0.3", label=label)
        ax.scatter(frame["lr"], frame[column], c=[colors[float(v)] for v in frame["lr"]],
                   marker=marker, zorder=4)
        lost = frame[frame[column].isna()]
        if len(lost):
            ax.scatter(lost["lr"], np.full(len(lost), 0.97), transform=ax.get_xaxis_transform(),
                       c=[colors[float(v)] for v in lost["lr"]], clip_on=False, **DIVERGED)
    if frame["diverged"].any():
        ax.scatter([], [], c="white", label="diverged (no value)", **DIVERGED)
    ax.set_xscale("log")
    ax.set_xlim(frame["lr"].min() / 1.6, frame["lr"].max() * 1.6)  # X marks do not autoscale
    if (frame[["first", "last"]].to_numpy() > 0).any():
        ax.set_yscale("log")
    label_axes(ax, x="learning rate", y="training SSE over the epoch",
               title="SSE per rate (Wilson & Martinez)")
    ax.legend(fontsize="small")
    return out
