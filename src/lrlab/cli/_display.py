"""What the command line shows: a progress bar over epochs and the per-member table."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lrlab.train import EpochReport, SweepResult

__all__ = ["print_result", "progress_bar", "stderr", "stdout"]

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
if not stdout.is_terminal:  # a log or a pipe: no need to squeeze the table into 80 columns
    stdout = Console(highlight=False, width=140)


@contextmanager
def progress_bar(title: str, monitor: str, higher_is_better: bool, *,
                 quiet: bool) -> Iterator[list]:
    """Yields the callbacks to pass to a sweep: a live bar on stderr, or none when quiet."""
    if quiet:
        yield []
        return

    seen: list[float] = []

    def status(r: EpochReport) -> str:
        values = r.val.get(monitor, np.array([math.nan]))
        seen.extend(values[r.alive & np.isfinite(values)].tolist())
        best = (max(seen) if higher_is_better else min(seen)) if seen else math.nan
        return f"alive {int(r.alive.sum())}/{r.members}  best val {monitor} so far {best:.4f}"

    if not stderr.is_terminal:  # a log: a plain line every tenth of the training
        def log(r: EpochReport) -> None:
            if r.epoch == r.epochs or r.epoch % max(1, r.epochs // 10) == 0:
                print(f"{title}: epoch {r.epoch}/{r.epochs}  {status(r)}", file=sys.stderr)

        yield [log]
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        job = bar.add_task(title, total=None, status="")

        def on_epoch(r: EpochReport) -> None:
            bar.update(job, total=r.epochs, completed=r.epoch, status=status(r))

        yield [on_epoch]


def _fmt(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def print_result(result: SweepResult) -> None:
    """The per-member table, then the one-line verdict."""
    m = result.monitor
    table = Table(title=f"{result.task}: {result.config['optimizer']}, "
                        f"{int(result.records['epoch'].max())} epochs")
    columns = {"label": "member", f"final_val_{m}": f"final val {m}",
               f"best_val_{m}": f"best val {m}", "best_epoch": "best epoch",
               "final_train_loss": "final train loss", "final_val_loss": "final val loss",
               "diverged_epoch": "diverged"}
    for title in columns.values():
        table.add_column(title, justify="left" if title == "member" else "right")
    for row in result.summary().itertuples(index=False):
        cells = [getattr(row, key) for key in columns]
        cells[-1] = "no" if pd.isna(cells[-1]) else f"epoch {int(cells[-1])}"
        table.add_row(*(_fmt(c) if not isinstance(c, str) else c for c in cells))
    stdout.print(table)
    stdout.print(result.verdict(), soft_wrap=True)

