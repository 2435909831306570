"""Reading numbers off a population's records: curves per group of members, finals, ranks.

A *group* is the members sharing some hyperparameters (``by=("lr",)``: one group per rate,
its seeds side by side). Every function here reads the tidy records only, so it gives the
same numbers on a live :class:`~lrlab.train.SweepResult` and on one loaded from disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.reproduce._claims import mean_se
from lrlab.train import SweepResult

__all__ = ["at", "curves", "epochs_of", "final", "last_n", "merge", "rank_order", "select", "window"]


def curves(run: SweepResult, metric: str, split: str = "val", *,
           by: Sequence[str] = ("lr",), diverged: float | None = None
           ) -> dict[object, pd.DataFrame]:
    """One ``epoch x member`` table per group of members (columns: the members' seeds).

    Args:
        run: a population's records.
        metric, split: which records (``"auc"``, ``"val"``).
        by: the members-table columns that define a group; a one-column key is the plain
            value (``0.1``), a longer key a tuple.
        diverged: the value a member scores in the epochs after it diverged (the metric's
            worst, e.g. AUC 0.5): so a mean over seeds counts a diverged seed instead of
            averaging the survivors only. ``None`` leaves them NaN.

    Returns:
        ``{key: DataFrame}`` in the members' order; epochs a member did not reach (it
        diverged) are NaN, or ``diverged``.
    """
    rows = run.records[(run.records["metric"] == metric) & (run.records["split"] == split)]
    if rows.empty:
        raise LrlabError(f"no {split} records of {metric!r} in run {run.task!r}")
    wide = rows.pivot(index="epoch", columns="member", values="value")
    wide = wide.reindex(index=range(1, epochs_of(run) + 1))
    if diverged is not None:
        gone = run.members.loc[run.members["diverged"].astype(bool), "member"]
        for member in gone:
            if member in wide.columns:
                wide[member] = wide[member].fillna(diverged)
            else:
                wide[member] = diverged
    members = run.members.set_index("member")
    out: dict[object, pd.DataFrame] = {}
    keys = list(by)
    for key, group in members.groupby(keys if len(keys) > 1 else keys[0], sort=False):
        table = wide.reindex(columns=group.index)
        table.columns = group["seed"].to_numpy()
        out[key] = table
    return out


def epochs_of(run: SweepResult) -> int:
    """How many epochs the population trained (its config, not the records, which stop
    early for a diverged member)."""
    return run.epochs


def last_n(epochs: int, fraction: float) -> int:
    """How many final epochs make up ``fraction`` of training (at least one)."""
    return max(1, round(fraction * epochs))


def window(table: pd.DataFrame, first: int, last: int) -> pd.Series:
    """Per member (column): the mean over epochs ``first..last`` (inclusive, clipped)."""
    first, last = max(1, first), min(int(table.index.max()), last)
    return table.loc[first:last].mean(axis=0, skipna=False)


def final(table: pd.DataFrame, fraction: float) -> tuple[float, float]:
    """Mean over the seeds (and its standard error) of each seed's mean over the last
    ``fraction`` of the epochs: the value a curve ends at, less one epoch's noise."""
    epochs = int(table.index.max())
    return mean_se(window(table, epochs - last_n(epochs, fraction) + 1, epochs))


def at(table: pd.DataFrame, epoch: int) -> tuple[float, float]:
    """Mean over the seeds (and its standard error) at one epoch."""
    return mean_se(table.loc[epoch])


def select(run: SweepResult, members: Sequence[int]) -> SweepResult:
    """The same records restricted to some members (renumbered from 0), e.g. one seed."""
    keep = list(members)
    if not keep:
        raise LrlabError("select needs at least one member")
    new = {old: i for i, old in enumerate(keep)}
    records = run.records[run.records["member"].isin(keep)].copy()
    records["member"] = records["member"].map(new).astype(np.int64)
    table = run.members[run.members["member"].isin(keep)].copy()
    table["member"] = table["member"].map(new).astype(np.int64)
    table = table.sort_values("member").reset_index(drop=True)
    records = records.sort_values(["epoch", "member"], kind="stable").reset_index(drop=True)
    return SweepResult(task=run.task, monitor=run.monitor, higher_is_better=run.higher_is_better,
                       config=run.config, records=records, members=table)


def merge(runs: Sequence[SweepResult]) -> SweepResult:
    """Populations trained alike (same task, epochs, seed) as one table of members,
    numbered in order; the first run's settings stand for all."""
    if not runs:
        raise LrlabError("merge needs at least one run")
    records, members, offset = [], [], 0
    for run in runs:
        rec, mem = run.records.copy(), run.members.copy()
        rec["member"] = rec["member"].astype(np.int64) + offset
        mem["member"] = mem["member"].astype(np.int64) + offset
        records.append(rec)
        members.append(mem)
        offset += len(mem)
    first = runs[0]
    return SweepResult(task=first.task, monitor=first.monitor,
                       higher_is_better=first.higher_is_better, config=first.config,
                       records=pd.concat(records, ignore_index=True),
                       members=pd.concat(members, ignore_index=True))


def rank_order(values: dict[object, float], higher_is_better: bool = True) -> list[object]:
    """The keys ordered best first (NaN last)."""
    sign = -1.0 if higher_is_better else 1.0
    return sorted(values, key=lambda k: (not math.isfinite(values[k]), sign * values[k]
                                         if math.isfinite(values[k]) else 0.0))
