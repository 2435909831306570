"""A learning curve: the validation metric against the training-set size, one line per rate.

:func:`learning_curve` trains the task on nested stratified subsets (each smaller subset is
drawn from the next larger one with :meth:`~lrlab.tasks.Task.subset`), one sweep per size
with the same members, initial weights and seed, so only the amount of data differs.
:func:`learning_curve_info` reduces the result to plain data; :func:`plot_learning_curve`
draws it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._checks import is_number, is_whole, repeated
from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab._once import warn_once

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrlab.tasks import Task
    from lrlab.train import SweepResult

__all__ = ["LearningCurve", "LearningCurveInfo", "learning_curve", "learning_curve_info",
           "nested_subsets", "plot_learning_curve"]


@dataclass(frozen=True, eq=False)
class LearningCurve:
    """The sweeps of one learning curve.

    Attributes:
        task: the full task's name.
        sizes: training examples of each sweep, smallest first.
        runs: one :class:`~lrlab.train.SweepResult` per size, in the order of ``sizes``.
    """

    task: str
    sizes: tuple[int, ...]
    runs: tuple[SweepResult, ...]

    @property
    def monitor(self) -> str:
        return self.runs[0].monitor

    @property
    def higher_is_better(self) -> bool:
        return self.runs[0].higher_is_better

    def table(self) -> pd.DataFrame:
        """Per size and member: ``size, member, label, lr, seed, best_val_<m>,
        final_val_<m>, diverged``."""
        from lrlab.report._tables import member_table

        m = self.monitor
        frames = []
        for size, run in zip(self.sizes, self.runs):
            t = member_table(run)[["member", "label", "lr", "seed", f"best_val_{m}",
                                   f"final_val_{m}", "diverged_epoch"]]
            t.insert(0, "size", size)
            frames.append(t)
        out = pd.concat(frames, ignore_index=True)
        out["diverged"] = out.pop("diverged_epoch").notna()
        return out

    def save(self, out: str | os.PathLike, *, format: str = "csv") -> Path:
        """``size<N>/`` per sweep (:meth:`SweepResult.save`), ``learning_curve.csv`` and
        ``learning_curve.json`` (the task and the sizes)."""
        out = Path(out)
        for size, run in zip(self.sizes, self.runs):
            run.save(out / f"size{size}", format=format)
        atomic_write(out / "learning_curve.csv", lambda p: self.table().to_csv(p, index=False))
        meta = {"task": self.task, "sizes": list(self.sizes)}
        atomic_write(out / "learning_curve.json",
                     lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
        return out

    @classmethod
    def load(cls, out: str | os.PathLike) -> LearningCurve:
        """Read back what :meth:`save` wrote."""
        from lrlab.train import SweepResult

        out = Path(out)
        meta = json.loads((out / "learning_curve.json").read_text())
        sizes = tuple(int(s) for s in meta["sizes"])
        return cls(meta["task"], sizes, tuple(SweepResult.load(out / f"size{s}") for s in sizes))


@warn_once()
def learning_curve(task: Task | str, *, sizes: Sequence[float], seed: int = 0,
                   callbacks: Sequence = (), **settings: object) -> LearningCurve:
    """Sweep ``task`` on nested subsets of its training data, one sweep per size.

    Args:
        task: a task or a built-in task's name.
        sizes: counts (``int``) or fractions (``float`` in (0, 1]) of the training set.
        seed: the seed of the subsets, the initial weights and the example order.
        callbacks: progress callbacks for every sweep.
        **settings: the sweep's settings (``lrs``, ``epochs``, ``seeds``, ``optimizer``...).

    Example:
        >>> curve = learning_curve("blobs", sizes=[100, 250], lrs=[0.1], epochs=2)
        >>> curve.sizes
        (100, 250)
    """
    from lrlab.executors import LocalExecutor
    from lrlab.tasks import as_task
    from lrlab.train import validated

    if not sizes:
        raise LrlabError("give at least one training-set size, e.g. sizes=[100, 250, 500]")
    bad = [s for s in sizes if not ((is_whole(s) and s >= 1) or (
        is_number(s) and not is_whole(s) and 0 < s <= 1))]
    if bad:  # (said as a subset's, "subset must be at least 1 example", before)
        raise LrlabError(f"sizes must be counts of at least 1 or fractions in (0, 1], got "
                         f"{bad[0]!r} (e.g. 100 and 250, or 0.1 and 0.5)")
    if (twice := repeated(sizes, lambda s: (is_whole(s), s))) is not None:  # count 1, fraction 1.0
        raise LrlabError(f"sizes lists {twice:g} twice; one size's runs train identically, "
                         "give each once")
    config = validated(seed=seed, **settings)  # every check before any training
    full = as_task(task)
    n = full.train_size
    over = [s for s in sizes if is_whole(s) and n is not None and s > n]
    if over:
        raise LrlabError(f"size {over[0]} is more than the {n} training examples of "
                         f"{full.name}; give sizes up to {n} (or fractions)")
    tasks = nested_subsets(full, sizes, seed=seed)
    runs = tuple(LocalExecutor().run(t, config.members(), config, callbacks=callbacks)
                 for t in tasks)
    return LearningCurve(full.name, tuple(t.train_size for t in tasks), runs)


def nested_subsets(task: Task | str, sizes: Sequence[float], *, seed: int = 0) -> list[Task]:
    """The task on each training-set size, smallest first, each subset inside the next.

    The largest is a stratified subset of the task's training data
    (:meth:`~lrlab.tasks.Task.subset`); each smaller one is drawn from the one above it, so
    every example a small set holds, the larger sets hold too. Sizes are counts or
    fractions of the full training set; each subset is named ``task[count]``.
    """
    from lrlab.tasks import as_task

    full = as_task(task)
    counts = sorted({full.subset(s, seed=seed).train_size for s in sizes}, reverse=True)
    out, data = [], full
    for count in counts:  # largest first
        data = data.subset(count, seed=seed)
        out.append(data.replace(name=f"{full.name}[{count}]") if data is not full else data)
    return out[::-1]


@dataclass(frozen=True)
class LearningCurveInfo:
    """The learning curve, ready to draw.

    Attributes:
        metric: the validation metric (the task's monitor).
        frame: ``setting, lr, size, best, seeds``: per setting (members differing only by
            seed) and size, the median over seeds of the best validation value (NaN when
            none was finite), and how many seeds ran.
    """

    metric: str
    frame: pd.DataFrame

    @property
    def title(self) -> str:
        """The table's heading, naming the metric (the terminal's and the page's)."""
        return f"best validation {self.metric} per setting and size (median over seeds)"


def learning_curve_info(curve: LearningCurve) -> LearningCurveInfo:
    """Median over seeds of each setting's best validation metric, per size."""
    from lrlab.train import setting_labels

    table = curve.table()
    groups = dict(zip(curve.runs[0].members["member"], setting_labels(curve.runs[0].members)))
    table["setting"] = table["member"].map(groups)
    best = f"best_val_{curve.monitor}"
    frame = (table.groupby(["setting", "size"], sort=False)
             .agg(lr=("lr", "first"), best=(best, "median"), seeds=("seed", "size"))
             .reset_index()[["setting", "lr", "size", "best", "seeds"]])
    return LearningCurveInfo(curve.monitor, frame.sort_values(["lr", "size"], ignore_index=True))


def plot_learning_curve(info: LearningCurveInfo, *, ax: Axes | None = None,
                        colors: Mapping[float, tuple] | None = None) -> Figure | Axes:
    """Best validation metric against training-set size (log axis), one line per rate in
    its colour (``colors``: the page's :func:`rate_colors`); on ``ax`` when given (and
    ``ax`` returned), else on a new figure."""
    from lrlab.report._style import colors_for, drawing_on, label_axes, legend_outside

    out, ax = drawing_on(ax)
    colors = colors_for(info.frame["lr"], colors)
    for setting, rows in info.frame.groupby("setting", sort=False):
        ax.plot(rows["size"], rows["best"].where(np.isfinite(rows["best"])), marker="o",
                color=colors[float(rows["lr"].iloc[0])], label=setting)
    ax.set_xscale("log")
    label_axes(ax, x="training examples", y=f"best validation {info.metric}",
               title="learning curve (median over seeds)")
    legend_outside(ax)
    return out
