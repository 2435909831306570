"""What the command line shows: a progress bar over epochs and the per-member table."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lrlab.cli._options import as_flags
from lrlab.train import EpochReport, SweepResult

__all__ = ["print_result", "progress_bar", "stderr", "stdout"]

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
if not stdout.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
    stdout = Console(highlight=False, width=140)  # a log or a pipe: room for every column


class _Status:
    """What the bar says after each epoch: the population (when a procedure trains several),
    members alive and diverged, and the best validation ``monitor`` so far."""

    def __init__(self, monitor: str | None, higher_is_better: bool) -> None:
        self.monitor, self.higher_is_better = monitor, higher_is_better
        self.best = math.nan
        self.population, self.last = 0, None

    def new_population(self, r: EpochReport) -> bool:
        """Whether ``r`` starts another population (a search's next stage, or a resumed
        run's first report)."""
        shape = (r.epochs, r.members)
        fresh = self.last is None or r.epoch <= self.last[0] or shape != self.last[1]
        self.population += fresh
        self.last = (r.epoch, shape)
        return fresh

    def __call__(self, r: EpochReport) -> str:
        if self.monitor is None:  # a loader task's monitor is known once its first batch is read
            self.monitor, self.higher_is_better = r.monitor or "loss", r.higher_is_better
        values = r.val.get(self.monitor, np.full(r.members, math.nan))
        values = values[r.alive & np.isfinite(values)]
        if len(values):
            best = values.max() if self.higher_is_better else values.min()
            better = max if self.higher_is_better else min
            self.best = float(best) if math.isnan(self.best) else better(self.best, float(best))
        alive = int(r.alive.sum())
        return (f"alive {alive}/{r.members}  diverged {r.members - alive}  "
                f"best val {self.monitor} so far {self.best:.4f}")

    def title(self, title: str) -> str:
        return title if self.population <= 1 else f"{title} (population {self.population})"


@contextmanager
def progress_bar(title: str, monitor: str | None, higher_is_better: bool, *,
                 quiet: bool) -> Iterator[list]:
    """Yields the callbacks to pass to a sweep (or a procedure training several populations):
    a live bar on stderr with epochs done, members alive and diverged, the best validation
    metric so far and the time left; plain log lines when stderr is not a terminal (a log,
    CI); none when quiet."""
    if quiet:
        yield []
        return
    status = _Status(monitor, higher_is_better)

    if not stderr.is_terminal:  # a log: a plain line every tenth of the training
        def log(r: EpochReport) -> None:
            status.new_population(r)
            line = status(r)
            if r.epoch == r.epochs or r.epoch % max(1, r.epochs // 10) == 0:
                print(f"{status.title(title)}: epoch {r.epoch}/{r.epochs}  {line}",
                      file=sys.stderr)

        yield [log]
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        job = bar.add_task(title, total=None, status="")

        def on_epoch(r: EpochReport) -> None:
            if status.new_population(r):  # the time left restarts from this population's pace
                bar.reset(job, total=r.epochs, completed=r.epoch - 1,
                          description=status.title(title))
            bar.update(job, total=r.epochs, completed=r.epoch, status=status(r))

        yield [on_epoch]


def _epochs(result: SweepResult) -> str:
    """``"1 epoch"``, ``"20 epochs"``, or ``"1 of 3 epochs"`` when training stopped before the
    epochs asked for (every member diverged)."""
    ran, planned = int(result.records["epoch"].max()), result.config.get("epochs")
    if isinstance(planned, int) and ran < planned:
        return f"{ran} of {planned} epochs"
    return f"{ran} epoch{'' if ran == 1 else 's'}"


def print_result(result: SweepResult, which: str = "", *, stage: bool = False,
                 options: Collection[str] | None = None) -> None:
    """The per-member table (at the terminal's width, see :mod:`lrlab.cli._tables`), titled
    with ``which`` population it is when given (a search's ``stage 2 of 3``), then the
    one-line verdict: with ``stage``, that stage's best (``best in stage 2 of 3: ...``),
    which the search's own pick, printed after every stage, may differ from; its advice in
    the flags of ``options`` (default: the running command's, :func:`as_flags`)."""
    from lrlab.cli._tables import print_frame

    m = result.monitor
    columns = {"label": "member", f"final_val_{m}": f"final val {m}",
               f"best_val_{m}": f"best val {m}", "best_epoch": "best epoch",
               "final_train_loss": "final train loss", "final_val_loss": "final val loss",
               "diverged_epoch": "diverged"}
    frame = result.summary()[list(columns)]
    frame["diverged_epoch"] = ["no" if pd.isna(e) else f"epoch {int(e)}"
                               for e in frame["diverged_epoch"]]
    title = f"{result.task}: {result.config['optimizer']}, {_epochs(result)}"
    print_frame(stdout, frame, f"{title} ({which})" if which else title, headers=columns)
    stdout.print(as_flags(result.verdict(among=f"in {which}" if stage else ""), options),
                 soft_wrap=True)

