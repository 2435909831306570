"""Learning-rate schedules over training: from specs, or as a run actually followed them.

Compute, then draw: :func:`schedule_curves` evaluates schedule specs at every step and
:func:`schedule_info` reads the rates a run used from its records; both return a
:class:`ScheduleCurves` that :func:`plot_schedules` draws. ``lrlab schedule plot`` writes
the same figure to a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from lrlab._errors import LrlabError
from lrlab.report._style import colors_for, drawing_on, label_axes, legend_outside

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.train import SweepResult

__all__ = ["ScheduleCurves", "plot_schedules", "schedule_curves", "schedule_info"]

#: Line styles of the settings that share a rate (and so a colour).
_LINES = ("-", "--", ":", "-.")
#: The most steps a schedule plot evaluates and draws (one float64 each, per curve).
MAX_STEPS = 10**7


@dataclass(frozen=True)
class ScheduleCurves:
    """The rate of every training step under each schedule.

    Attributes:
        epoch: the time of each step in epochs, ``step / steps_per_epoch``, shape ``(N,)``
            for the ``N = epochs * steps_per_epoch`` steps of training.
        curves: ``(label, rates (N,))`` per schedule, in the order given (NaN where a run's
            member had stopped).
        lr0: the member's rate the specs were built with (NaN for a run's rates).
        steps_per_epoch: optimizer steps per epoch (1 when a run recorded only the rate at
            the end of each epoch).
        title: the plot's title; empty for the default (``lr0`` and the steps per epoch).
        rates: the member's rate of each curve (a run's curves), drawn in that rate's
            colour; empty for curves from specs.
    """

    epoch: np.ndarray
    curves: tuple[tuple[str, np.ndarray], ...]
    lr0: float
    steps_per_epoch: int
    title: str = ""
    rates: tuple[float, ...] = ()


def schedule_curves(specs: Sequence[str], *, lr0: float, epochs: int,
                    steps_per_epoch: int = 1) -> ScheduleCurves:
    """Parse and build every spec, then evaluate it at each step of training.

    Every spec is parsed and built before any is evaluated, so a bad one fails first.

    Example:
        >>> schedule_curves(["cosine"], lr0=0.1, epochs=4).curves[0][1]
        array([0.1       , 0.08535534, 0.05      , 0.01464466])
    """
    from lrlab.schedules import parse_schedule

    if not specs:
        raise LrlabError("give at least one schedule, e.g. lrlab schedule plot cosine --out a.png")
    if not lr0 > 0:
        raise LrlabError(f"--lr0 must be > 0, got {lr0:g}")
    parsed = [parse_schedule(text) for text in specs]
    built = [p.build(lr0, epochs=epochs, steps_per_epoch=steps_per_epoch) for p in parsed]
    if epochs * steps_per_epoch > MAX_STEPS:  # (build checked both are whole numbers)
        raise LrlabError(f"{epochs:,} epochs of {steps_per_epoch:,} steps are "
                         f"{epochs * steps_per_epoch:,} rates to draw, more than a plot holds "
                         f"({MAX_STEPS:,}); give fewer --epochs or --steps-per-epoch")
    steps = torch.arange(epochs * steps_per_epoch)
    return ScheduleCurves(
        epoch=(steps.to(torch.float64) / steps_per_epoch).numpy(),
        curves=tuple((str(p), b(steps)[:, 0].numpy()) for p, b in zip(parsed, built)),
        lr0=lr0, steps_per_epoch=steps_per_epoch,
    )


def schedule_info(run: SweepResult) -> ScheduleCurves:
    """The rates ``run``'s members trained with: every step when it recorded steps
    (``record_steps``), else the rate of each epoch's last step; one curve per setting
    (members differing only by seed follow the same schedule).
    """
    from lrlab.train import setting_labels

    groups = setting_labels(run.members)
    first = ~groups.duplicated()
    keep = dict(zip(run.members.loc[first, "member"], groups[first]))
    if run.steps is not None and (run.steps["metric"] == "lr").any():
        rows = run.steps[run.steps["metric"] == "lr"]
        wide = rows.pivot(index="step", columns="member", values="value").sort_index()
        per = max(1, round(len(wide) / max(int(rows["epoch"].max()), 1)))
        epoch = (wide.index.to_numpy(float) - 1) / per
        how = f"{per} steps per epoch"
    else:
        rows = run.records[(run.records["metric"] == "lr") & (run.records["split"] == "train")]
        if rows.empty:
            raise LrlabError("the run recorded no learning rates; nothing to draw")
        wide = rows.pivot(index="epoch", columns="member", values="value").sort_index()
        per, epoch, how = 1, wide.index.to_numpy(float), "the rate at the end of each epoch"
    shown = [k for k in keep if k in wide]
    rate = dict(zip(run.members["member"], run.members["lr"].astype(float)))
    return ScheduleCurves(epoch, tuple((keep[k], wide[k].to_numpy(float)) for k in shown),
                          float("nan"), per, title=f"learning rate per member ({how})",
                          rates=tuple(rate[k] for k in shown))


def plot_schedules(data: ScheduleCurves, *, log: bool = False, ax: Axes | None = None,
                   colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """One line per schedule against epochs (``log``: a log rate axis without zeros); a
    run's curves in their rate's colour (``colors``: the page's :func:`rate_colors`), the
    settings of one rate told apart by the line's style. On ``ax`` when given (and ``ax``
    returned), else on a new figure."""
    out, ax = drawing_on(ax)
    colors = colors_for(data.rates, colors) if data.rates else None
    seen: dict[float, int] = {}
    for i, (label, rates) in enumerate(data.curves):
        style = {}
        if colors is not None:
            lr = data.rates[i]
            seen[lr] = seen.get(lr, -1) + 1
            style = {"color": colors[lr], "linestyle": _LINES[seen[lr] % len(_LINES)]}
        ax.plot(data.epoch, np.where(rates > 0, rates, np.nan) if log else rates, label=label,
                **style)
    if log:
        ax.set_yscale("log")
    per = data.steps_per_epoch
    label_axes(ax, x="epoch", y="learning rate",
               title=data.title or f"lr0 = {data.lr0:g}, {per} step{'s' * (per != 1)} per epoch")
    legend_outside(ax)
    return out
