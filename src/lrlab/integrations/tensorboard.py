"""TensorBoard: every member of a population its own run, and the range test's curve.

A population of K members becomes K TensorBoard runs under ``log_dir``, named
``NN_label`` (``00_lr=1_seed=0``), so TensorBoard's run selector and the HPARAMS table
compare members side by side. Each run holds:

* ``train/METRIC`` and ``val/METRIC`` for every per-epoch record (x: the epoch), the
  rate at the end of each epoch as ``train/lr``;
* ``step/lr``, ``step/loss``, ``step/grad_norm`` for every step (x: the global step) when
  steps were recorded (``record_steps=True``, ``--record-steps``);
* the member's settings (rate, rule, seed, schedule, the rule's hyperparameters) through
  the hparams plugin, with the validation metrics as the table's columns.

:class:`TensorBoardCallback` writes a fit's epochs as they end (an
:class:`~lrlab.train.EpochReport` callback); :func:`write_tensorboard` writes any finished
result: a sweep, a search (``stage1/``, ``stage2/``, ..., ``confirm/``, and ``auto``'s
``range_test/``), a learning curve (``size-N/``) or a range test, whose run holds
``range_test/loss``, ``range_test/smoothed``, ``range_test/lr`` (and the validation
curves) per step, the figure of :func:`lrlab.report.plot_range_test` and the readings as text.

Needs the ``tensorboard`` package: ``pip install 'lrlab[tensorboard]'``.

Example:
    >>> import tempfile
    >>> from lrlab.integrations.tensorboard import TensorBoardCallback
    >>> from lrlab.tasks import get_task
    >>> from lrlab.train import fit, validated
    >>> config = validated(lrs=[0.1, 0.01], epochs=2)
    >>> board = TensorBoardCallback(tempfile.mkdtemp(), config.members())
    >>> run = fit(get_task("blobs"), config.members(), config, callbacks=[board])
    >>> sorted(p.name for p in board.log_dir.iterdir())
    ['0_lr=0.1', '1_lr=0.01']
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.integrations._extras import require
from lrlab.train import EpochReport, Member, SweepResult, members_table

__all__ = ["TensorBoardCallback", "check_log_dir", "run_name", "write_range_test",
           "write_tensorboard"]

#: Members-table columns that are outcomes, not settings (kept out of the hparams).
_OUTCOMES = ("member", "label", "diverged", "diverged_epoch", "diverged_step")


def _writer_class():
    require("tensorboard", "tensorboard", what="TensorBoard logging")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter


def check_log_dir(log_dir: str | os.PathLike) -> Path:
    """Fail before any training when TensorBoard is missing or ``log_dir`` is a file."""
    _writer_class()
    path = Path(log_dir)
    if path.exists() and not path.is_dir():
        raise LrlabError(f"--tensorboard {path} is a file; give a directory for the runs")
    return path


def run_name(member: int, label: str, members: int) -> str:
    """A member's run directory: its number (zero-padded to sort) and its label, with
    anything but letters, digits and ``.=+-`` turned into ``_``."""
    width = len(str(max(members - 1, 0)))
    return f"{member:0{width}d}_" + re.sub(r"[^A-Za-z0-9.=+\-]+", "_", label).strip("_")


def _plain(value: Any) -> float | int | str | bool | None:
    """A members-table cell as an hparams value (``None``: missing, left out)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


def _warn_if_written(runs: Sequence[Path]) -> None:
    """One warning when runs of these names already hold events: TensorBoard reads every
    event file of a run's folder as one run, so a second writing draws both as one line
    (nothing is removed: the user chooses)."""
    held = [run for run in runs if run.is_dir() and any(run.glob("events.out.tfevents*"))]
    if held:
        more = f" (and {len(held) - 1} more)" if len(held) > 1 else ""
        warnings.warn(f"lrlab: {held[0].parent} already holds the TensorBoard run "
                      f"{held[0].name}{more}: TensorBoard draws both writings of a run as one "
                      "line; give a new folder to keep them apart", UserWarning, stacklevel=4)


class _Runs:
    """One ``SummaryWriter`` per member of a population, under ``root``."""

    def __init__(self, root: Path, table: pd.DataFrame) -> None:
        writer = _writer_class()
        self.root = root
        k = len(table)
        paths = {int(row.member): root / run_name(int(row.member), row.label, k)
                 for row in table.itertuples(index=False)}
        _warn_if_written(list(paths.values()))
        self.writers = {member: writer(str(path)) for member, path in paths.items()}
        self.table = table

    def hparams(self, metrics: Sequence[str]) -> None:
        """Each member's settings as an hparams session, ``metrics`` its table's columns."""
        from torch.utils.tensorboard.summary import hparams

        settings = [c for c in self.table.columns if c not in _OUTCOMES]
        for row in self.table.to_dict("records"):
            values = {c: v for c in settings if (v := _plain(row[c])) is not None}
            for summary in hparams(values, dict.fromkeys(metrics, 0.0)):
                self.writers[int(row["member"])].file_writer.add_summary(summary)

    def records(self, records: pd.DataFrame, steps: pd.DataFrame | None) -> None:
        """Tidy per-epoch records (and per-step rows) as scalars."""
        for member, epoch, split, metric, value in records[
                ["member", "epoch", "split", "metric", "value"]].itertuples(index=False):
            if metric != "time":
                self.writers[int(member)].add_scalar(f"{split}/{metric}", float(value),
                                                     int(epoch))
        if steps is not None:
            for member, step, metric, value in steps[
                    ["member", "step", "metric", "value"]].itertuples(index=False):
                if not math.isnan(value):  # a frozen member's steps have no gradient norm
                    self.writers[int(member)].add_scalar(f"step/{metric}", float(value),
                                                         int(step))

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _val_metrics(records: pd.DataFrame) -> list[str]:
    val = records[records["split"] == "val"]["metric"]
    return [f"val/{m}" for m in dict.fromkeys(val.astype(str))] + ["train/loss"]


class TensorBoardCallback:
    """Write a fit's members as TensorBoard runs, epoch by epoch (see the module docstring).

    Args:
        log_dir: the directory of the runs (one subdirectory per member).
        members: the members the fit trains (``config.members()``), in order.
        optimizer: their update rule's name (``config.optimizer``): its hyperparameters'
            defaults fill the hparams.

    The writers are flushed after every epoch and closed after the last (or by
    :meth:`close`); use it as ``callbacks=[board]`` of :func:`lrlab.train.fit` or
    :func:`lrlab.sweep`, or give ``tensorboard_dir=`` to :func:`lrlab.sweep`.
    """

    def __init__(self, log_dir: str | os.PathLike, members: Sequence[Member], *,
                 optimizer: str = "sgd") -> None:
        self.log_dir = check_log_dir(log_dir)
        none = np.full(len(members), -1)
        self._runs = _Runs(self.log_dir, members_table(list(members), optimizer, none, none))
        self._started = False

    def __call__(self, report: EpochReport) -> None:
        if not self._started:
            self._runs.hparams([f"val/{m}" for m in report.val] + ["train/loss"])
            self._started = True
        self._runs.records(report.records, report.steps)
        for writer in self._runs.writers.values():
            writer.flush()
        if report.epoch == report.epochs:
            self.close()

    def close(self) -> None:
        """Close every run's event file (done after the last epoch)."""
        self._runs.close()


def _write_population(result: SweepResult, root: Path) -> None:
    runs = _Runs(root, result.members)
    try:
        runs.hparams(_val_metrics(result.records))
        runs.records(result.records, result.steps)
    finally:
        runs.close()


def write_range_test(result, log_dir: str | os.PathLike) -> Path:
    """A :class:`~lrlab.search.RangeTestResult` as one run in ``log_dir``: loss, smoothed
    loss, rate (and validation loss and accuracy where evaluated) per step, the figure, and
    the readings as a text table. Returns ``log_dir``."""
    from lrlab.report import plot_range_test, range_test_info

    root = check_log_dir(log_dir)
    _warn_if_written([root])
    writer = _writer_class()(str(root))
    try:
        curves = {"lr": result.lrs, "loss": result.losses, "smoothed": result.smoothed,
                  "val_loss": result.val_loss, "val_accuracy": result.val_accuracy}
        for name, values in curves.items():
            for step, value in enumerate([] if values is None else values):
                if not math.isnan(value):
                    writer.add_scalar(f"range_test/{name}", float(value), step)
        info = range_test_info(result)
        fig = plot_range_test(info)
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        writer.add_image("range_test/figure", image, 0, dataformats="HWC")
        lines = ["| reading | rate | why |", "| --- | --- | --- |"]
        lines += [f"| {name} | {r.lr:.4g} | {r.why} |" for name, r in result.suggestions().items()]
        writer.add_text("range_test/readings", "\n".join(lines), 0)
    finally:
        writer.close()
    return root


def write_tensorboard(result, log_dir: str | os.PathLike) -> Path:
    """Write a finished result into ``log_dir``: a sweep's members as runs; a search's
    populations in ``stage1/``, ``stage2/``, ... and ``confirm/`` (and ``auto``'s range test
    in ``range_test/``); a learning curve's sweeps in ``size-N/``; a range test as one run.
    Returns ``log_dir``.

    Raises:
        LrlabError: ``result`` is none of these, or ``log_dir`` is a file.
        MissingExtra: the ``tensorboard`` package is not installed.
    """
    from lrlab.report import LearningCurve
    from lrlab.search import RangeTestResult, SearchResult

    root = check_log_dir(log_dir)
    if isinstance(result, SweepResult):
        _write_population(result, root)
    elif isinstance(result, RangeTestResult):
        write_range_test(result, root)
    elif isinstance(result, SearchResult):
        for i, population in enumerate(result.evidence, start=1):
            _write_population(population, root / f"stage{i}")
        if result.confirmation is not None:
            _write_population(result.confirmation, root / "confirm")
        if isinstance(getattr(result, "range_test", None), RangeTestResult):
            write_range_test(result.range_test, root / "range_test")
    elif isinstance(result, LearningCurve):
        for size, run in zip(result.sizes, result.runs):
            _write_population(run, root / f"size-{size}")
    else:
        raise LrlabError(f"cannot write a {type(result).__name__} to TensorBoard; give a "
                         "sweep, search, learning curve or range test result")
    return root
