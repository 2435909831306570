"""Curves per epoch: a metric for every member (train solid, validation dashed), and the
gradient norm by rate.

Compute, then draw: :func:`curves_info` and :func:`grad_norm_info` read a
:class:`~lrlab.train.SweepResult`'s records into plain tables; :func:`plot_curves` and
:func:`plot_grad_norm` only draw them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.report._style import (
    DIVERGED,
    colors_for,
    drawing_on,
    epoch_axis,
    label_axes,
    legend_outside,
    spans_decades,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.train import SweepResult

__all__ = ["CURVE_METRICS", "CurvesInfo", "GradNormInfo", "curves_info", "grad_norm_info",
           "plot_curves", "plot_grad_norm"]

#: The per-epoch metrics drawn as curves, when recorded.
CURVE_METRICS = ("loss", "error", "auc", "sse")

_NAMES = {"loss": "loss", "error": "classification error", "auc": "ROC AUC", "sse": "SSE",
          "accuracy": "accuracy"}


def member_records(run: SweepResult, metric: str, splits=("train", "val")) -> pd.DataFrame:
    """``run``'s records of ``metric`` joined with each member's label and rate."""
    rows = run.records[(run.records["metric"] == metric) & run.records["split"].isin(splits)]
    if rows.empty:
        have = ", ".join(sorted(set(run.records["metric"])))
        raise LrlabError(f"the run has no records of {metric!r}; recorded: {have}")
    names = run.members[["member", "label", "lr"]]
    out = rows.merge(names, on="member", how="left")
    return out[["member", "label", "lr", "epoch", "split", "value"]].reset_index(drop=True)


def diverged_points(run: SweepResult, frame: pd.DataFrame) -> pd.DataFrame:
    """Per diverged member: the epoch it diverged in and its value there (NaN when not
    finite), from ``frame`` (one split's ``member, epoch, value`` rows)."""
    gone = run.members.loc[run.members["diverged"].astype(bool),
                           ["member", "label", "lr", "diverged_epoch"]]
    points = []
    for row in gone.itertuples(index=False):
        epoch = int(row.diverged_epoch)
        at = frame[(frame["member"] == row.member) & (frame["epoch"] == epoch)]["value"]
        value = float(at.iloc[0]) if len(at) else np.nan
        points.append((row.member, row.label, row.lr, epoch,
                       value if np.isfinite(value) else np.nan))
    return pd.DataFrame(points, columns=["member", "label", "lr", "epoch", "value"])


@dataclass(frozen=True)
class CurvesInfo:
    """One metric per epoch for every member.

    Attributes:
        metric: the metric's record name (``loss``, ``error``, ``auc``, ``sse``, ...).
        frame: ``member, label, lr, epoch, split, value``: one row per record.
        diverged: ``member, label, lr, epoch, value``: where each diverged member stopped
            (its validation value, or training value without one; NaN when not finite).
        log: whether the values span more than a decade (the plot uses a log axis).
    """

    metric: str
    frame: pd.DataFrame
    diverged: pd.DataFrame
    log: bool


def curves_info(run: SweepResult, metric: str = "loss") -> CurvesInfo:
    """The records of ``metric`` for every member, ready to draw.

    Example:
        >>> from lrlab import sweep
        >>> info = curves_info(sweep("blobs", lrs=[0.1, 0.01], epochs=2), "error")
        >>> sorted(set(info.frame["split"]))
        ['train', 'val']
    """
    frame = member_records(run, metric)
    last = frame[frame["split"] == ("val" if (frame["split"] == "val").any() else "train")]
    return CurvesInfo(metric, frame, diverged_points(run, last),
                      log=metric in ("loss", "sse") and spans_decades(frame["value"]))


def plot_curves(info: CurvesInfo, *, ax: Axes | None = None,
                colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """One line per member and split (train solid, validation dashed, one colour per rate:
    ``colors``, the page's :func:`rate_colors`, when given); a diverged member gets an X
    where it diverged (at the top when its value was not finite). Drawn on ``ax`` when
    given (and ``ax`` returned), else on a new figure."""
    out, ax = drawing_on(ax)
    colors = colors_for(info.frame["lr"], colors)
    named = set()
    dots = {"marker": "o", "markersize": 3} if info.frame["epoch"].nunique() <= 20 else {}
    for (member, split), rows in info.frame.groupby(["member", "split"], sort=True):
        rows = rows.sort_values("epoch")
        values = rows["value"].where(np.isfinite(rows["value"]))
        ax.plot(rows["epoch"], values, color=colors[float(rows["lr"].iloc[0])],
                linestyle="-" if split == "train" else "--", linewidth=1.4, **dots,
                label=None if member in named else rows["label"].iloc[0])
        named.add(member)
    for split, line in (("train", "-"), ("val", "--")):
        if (info.frame["split"] == split).any():
            ax.plot([], [], color="0.4", linestyle=line,
                    label="training" if split == "train" else "validation")
    if info.log:
        ax.set_yscale("log")
    _mark_diverged(ax, info.diverged, colors)
    label_axes(ax, x="epoch", y=_NAMES.get(info.metric, info.metric),
               title=f"{_NAMES.get(info.metric, info.metric)} per epoch "
                     "(train solid, validation dashed)")
    epoch_axis(ax)
    legend_outside(ax)
    return out


def _mark_diverged(ax, points: pd.DataFrame, colors: Mapping[float, tuple]) -> None:
    """An X at each diverged member's last value, or at the top of the axes when that value
    is not finite (a blended transform: x in data, y in axes fraction)."""
    if points.empty:
        return
    finite = points[points["value"].notna()]
    ax.scatter(finite["epoch"], finite["value"], c=[colors[float(v)] for v in finite["lr"]],
               **DIVERGED)
    lost = points[points["value"].isna()]
    if len(lost):
        ax.scatter(lost["epoch"], np.full(len(lost), 0.97), transform=ax.get_xaxis_transform(),
                   c=[colors[float(v)] for v in lost["lr"]], clip_on=False, **DIVERGED)
    ax.scatter([], [], c="white", label="diverged", **DIVERGED)


@dataclass(frozen=True)
class GradNormInfo:
    """The gradient norm per epoch for every member.

    Attributes:
        frame: ``member, label, lr, epoch, mean, max``: the mean and the largest of the
            epoch's per-step gradient norms.
        diverged: where each diverged member stopped (``member, label, lr, epoch, value``).
        log: whether a log axis is used.
    """

    frame: pd.DataFrame
    diverged: pd.DataFrame
    log: bool


def grad_norm_info(run: SweepResult) -> GradNormInfo:
    """The ``grad_norm`` and ``grad_norm_max`` training records side by side."""
    mean = member_records(run, "grad_norm", ("train",)).rename(columns={"value": "mean"})
    peak = member_records(run, "grad_norm_max", ("train",))
    frame = mean.drop(columns="split").merge(
        peak[["member", "epoch", "value"]].rename(columns={"value": "max"}),
        on=["member", "epoch"], how="left")
    points = diverged_points(run, mean.rename(columns={"mean": "value"}))
    values = np.concatenate([frame["mean"].to_numpy(float), frame["max"].to_numpy(float)])
    return GradNormInfo(frame, points, log=spans_decades(values[values > 0]))


def plot_grad_norm(info: GradNormInfo, *, ax: Axes | None = None,
                   colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """Mean gradient norm per epoch (solid) and the epoch's largest (dotted), one colour per
    rate (``colors`` as in :func:`plot_curves`); on ``ax`` when given (and ``ax``
    returned), else on a new figure."""
    out, ax = drawing_on(ax)
    colors = colors_for(info.frame["lr"], colors)
    for _, rows in info.frame.groupby("member", sort=True):
        rows = rows.sort_values("epoch")
        color = colors[float(rows["lr"].iloc[0])]
        ax.plot(rows["epoch"], rows["mean"].where(np.isfinite(rows["mean"])), color=color,
                label=rows["label"].iloc[0])
        ax.plot(rows["epoch"], rows["max"].where(np.isfinite(rows["max"])), color=color,
                linestyle=":", linewidth=1)
    if info.log:
        ax.set_yscale("log")
    _mark_diverged(ax, info.diverged, colors)
    label_axes(ax, x="epoch", y="gradient norm",
               title="gradient norm per epoch (mean solid, largest step dotted)")
    epoch_axis(ax)
    legend_outside(ax)
    return out
