"""The range test: loss (raw and smoothed) and accuracy against the rate, every reading
marked.

Compute, then draw: :func:`range_test_info` turns a
:class:`~lrlab.search.RangeTestResult` (or the files ``lrlab find --out`` writes, via
:func:`load_range_test`) into plain tables; :func:`plot_range_test` only draws them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.report._style import drawing_on, label_axes, legend_outside, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.search import RangeTestResult

__all__ = ["RangeInfo", "load_range_test", "plot_range_test", "range_test_info"]

#: How far above its first smoothed value the loss axis reaches (the blow-up is cut off).
LOSS_HEADROOM = 4.0


@dataclass(frozen=True)
class RangeInfo:
    """A range test, ready to draw.

    Attributes:
        curve: per step ``lr, loss, smoothed`` and, when recorded, ``val_accuracy`` (NaN
            where not evaluated).
        band: per step ``lr, low, median, high`` of the smoothed loss across seeds, or
            ``None`` for a single run.
        readings: ``name, lr, why`` for every reading and suggestion (``lr`` NaN where the
            curve allowed none), in the result's order.
        loss_limits: the loss axis: from the lowest smoothed loss to ``LOSS_HEADROOM`` times
            the first one (or the highest raw loss, if lower).
        read_on: the curve Smith's readings were taken from.
        reason: why the test stopped.
        suggestion: lrlab's suggested rate (NaN if none).
    """

    curve: pd.DataFrame
    band: pd.DataFrame | None
    readings: pd.DataFrame
    loss_limits: tuple[float, float]
    read_on: str
    reason: str
    suggestion: float


def range_test_info(result: RangeTestResult) -> RangeInfo:
    """The curve, the band (several seeds) and the readings of ``result``."""
    frame = result.to_frame().reset_index(drop=True)
    band = result.band().reset_index(drop=True) if len(result.runs) > 1 else None
    readings = pd.DataFrame([(name, r.lr, r.why) for name, r in result.suggestions().items()],
                            columns=["name", "lr", "why"])
    return _info(frame, band, readings, result.read_on, result.reason)


def load_range_test(folder: str | Path) -> tuple[RangeInfo, dict]:
    """What ``lrlab find --out FOLDER`` wrote: ``curve.csv``, ``readings.json``, and when
    present ``range_test.json`` (the settings) and ``band.csv`` (several seeds).

    Returns:
        the info and the settings (empty when ``range_test.json`` is missing).
    """
    folder = Path(folder)
    curve = pd.read_csv(folder / "curve.csv")
    if curve.empty or "lr" not in curve or "loss" not in curve:
        raise LrlabError(f"{folder}/curve.csv holds no range-test steps; run lrlab find again")
    meta = json.loads((folder / "readings.json").read_text())
    readings = pd.DataFrame([(name, math.nan if r.get("lr") is None else float(r["lr"]),
                              str(r.get("why", ""))) for name, r in meta.items()],
                            columns=["name", "lr", "why"])
    settings_file = folder / "range_test.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    band = pd.read_csv(folder / "band.csv") if (folder / "band.csv").is_file() else None
    if "smoothed" not in curve:
        from lrlab.search import ema

        curve["smoothed"] = ema(curve["loss"].to_numpy(float), 0.98)
    info = _info(curve, band, readings, str(settings.get("read_on", "")),
                 str(settings.get("reason", "")))
    return info, settings


def _info(frame: pd.DataFrame, band: pd.DataFrame | None, readings: pd.DataFrame,
          read_on: str, reason: str) -> RangeInfo:
    columns = [c for c in ("lr", "loss", "smoothed", "val_accuracy") if c in frame]
    curve = frame[columns].astype(float).reset_index(drop=True)
    pick = readings.loc[readings["name"] == "suggestion", "lr"]
    return RangeInfo(curve, band, readings.reset_index(drop=True), _loss_limits(curve),
                     read_on, reason, float(pick.iloc[0]) if len(pick) else math.nan)


def _loss_limits(curve: pd.DataFrame) -> tuple[float, float]:
    """From the lowest loss to ``LOSS_HEADROOM`` x the first smoothed loss (or the highest
    raw loss, if lower), so the final blow-up does not flatten the rest."""
    smoothed = curve["smoothed"].to_numpy(float)
    smoothed = smoothed[np.isfinite(smoothed)]
    values = np.concatenate([smoothed, curve["loss"].to_numpy(float)])
    values = values[np.isfinite(values)]
    if not len(smoothed):
        return (0.0, 1.0)
    low = float(values.min())
    high = float(min(LOSS_HEADROOM * abs(smoothed[0]), values.max()))
    return (low, high if high > low else float(values.max()))


_LINES = ("-", "--", ":", "-.")


def plot_range_test(info: RangeInfo, *, ax: Axes | None = None) -> Figure | Axes:
    """Loss (raw faint, smoothed bold, the seeds' band shaded) against the rate on a log
    axis; validation accuracy below when recorded (on a twin axis at the right when drawn on
    the caller's ``ax``, which is then returned); each reading a labelled vertical line."""
    accuracy = "val_accuracy" in info.curve and info.curve["val_accuracy"].notna().any()
    own = ax is None
    if own:
        out, axes = new_figure(2 if accuracy else 1, 1, height=6.5 if accuracy else 4.5,
                               sharex=True)
        ax, other = axes[0, 0], axes[1, 0] if accuracy else None
    else:
        out, ax = drawing_on(ax)
        other = ax.twinx() if accuracy else None
    curve = info.curve
    ax.plot(curve["lr"], curve["loss"], color="tab:blue", alpha=0.3, linewidth=0.8,
            label="loss (raw)")
    ax.plot(curve["lr"], curve["smoothed"], color="tab:blue", linewidth=2,
            label="loss (smoothed)" if info.band is None else "loss (smoothed, median)")
    if info.band is not None:
        ax.fill_between(info.band["lr"], info.band["low"], info.band["high"], color="tab:blue",
                        alpha=0.2, label="seeds: lowest to highest")
    low, high = info.loss_limits
    if high > low:
        ax.set_ylim(low - 0.05 * (high - low), high)
    ax.set_xscale("log")
    label_axes(ax, x="" if own and accuracy else "learning rate", y="training loss",
               title="range test")
    targets = [ax]
    if other is not None:
        rows = curve[curve["val_accuracy"].notna()]
        other.plot(rows["lr"], rows["val_accuracy"], marker=".", color="tab:green",
                   label="validation accuracy")
        if own:
            label_axes(other, x="learning rate", y="validation accuracy")
            targets.append(other)
        else:
            other.set_ylabel("validation accuracy")
    _mark_readings(targets, info.readings)
    if own:
        for target in targets:
            legend_outside(target)
    else:  # one legend for the axes and its twin
        legend_outside(ax, also=() if other is None else (other,))
    return out


def _mark_readings(axes: list, readings: pd.DataFrame) -> None:
    """One vertical line per finite reading, its name and rate in the legend; lines at the
    same rate are told apart by colour and dash."""
    from matplotlib import colormaps

    colors = colormaps["tab10"]
    for i, row in enumerate(readings.itertuples(index=False)):
        if not (math.isfinite(row.lr) and row.lr > 0):
            continue
        style = {"color": colors((i + 2) % 10), "linestyle": _LINES[i % len(_LINES)],
                 "linewidth": 2.2 if row.name == "suggestion" else 1.2}
        for j, ax in enumerate(axes):
            ax.axvline(row.lr, label=f"{row.name} {row.lr:.3g}" if j == 0 else None, **style)
