"""The tables of what differs between rates: per member, and over seeds per setting.

:func:`member_table` gives, per member, the convergence speed (epochs and seconds to reach a
target value of the monitored validation metric), the best and final validation metric, the
wall time, the final training loss, the mean and largest gradient norm and whether it
diverged. :func:`robustness_table` summarises members that differ only by seed.
:func:`markdown_table` and :meth:`pandas.DataFrame.to_csv` write them out.

The target: by default the best member's best value moved 5% towards "worse", i.e.
``0.95 * best`` when higher is better (AUC, accuracy) and ``best / 0.95`` when lower is
better (loss, error, SSE); ``target=`` sets an absolute value instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.metrics import SHARES
from lrlab.train import setting_labels

if TYPE_CHECKING:
    from lrlab.train import SweepResult

__all__ = ["TARGET_FRACTION", "markdown_table", "member_table",
           "robustness_table", "target_value"]

#: The default target is this fraction of the best member's best value (or the best
#: divided by it when lower is better).
TARGET_FRACTION = 0.95



def _curve(run: SweepResult, metric: str, split: str) -> pd.DataFrame:
    """Epoch x member (member index columns) of one split's metric; empty when unrecorded."""
    rows = run.records[(run.records["metric"] == metric) & (run.records["split"] == split)]
    wide = rows.pivot(index="epoch", columns="member", values="value")
    return wide.reindex(columns=run.members["member"].to_numpy()).sort_index()


def target_value(run: SweepResult, target: float | None = None) -> float:
    """The value of the monitored validation metric a member must reach: ``target`` when
    given, else :data:`TARGET_FRACTION` of the best member's best (see the module doc).

    Example:
        >>> from lrlab import sweep
        >>> run = sweep("blobs", lrs=[0.1], epochs=2)
        >>> bool(target_value(run) == 0.95 * run.summary()["best_val_auc"].max())
        True
    """
    if target is not None:
        if not math.isfinite(target):
            raise LrlabError(f"the target must be a finite number, got {target}")
        if run.monitor in SHARES and not 0 <= target <= 1:  # every member, or none, reaches it
            raise LrlabError(f"target must be from 0 to 1 for validation {run.monitor} (a "
                             f"share of the examples), got {target:g}; e.g. target=0.9")
        if run.monitor == "sse" and target < 0:
            raise LrlabError(f"target must be >= 0 for validation sse (a sum of squares), "
                             f"got {target:g}")
        return float(target)
    val = _curve(run, run.monitor, "val").to_numpy(float)
    val = val[np.isfinite(val)]
    if not len(val):
        return math.nan
    if run.higher_is_better:
        return TARGET_FRACTION * float(val.max())
    return float(val.min()) / TARGET_FRACTION


def _first_reach(column: pd.Series, target: float, higher: bool) -> float:
    reached = column[(column >= target) if higher else (column <= target)]
    return float(reached.index[0]) if len(reached) else math.nan


def member_table(run: SweepResult, *, target: float | None = None) -> pd.DataFrame:
    """One row per member: how fast, how good, how costly, how stable.

    Columns: ``member, label, lr, seed``; ``epochs_to_target`` and ``seconds_to_target``
    (first epoch whose validation ``monitor`` reaches :func:`target_value`, and the run's
    wall time then; NaN if never); ``best_val_<m>``, ``best_epoch``, ``final_val_<m>``;
    ``wall_time_s`` (the population's wall time at the member's last epoch: members train
    in lockstep, so they share the clock); ``final_train_loss``; ``grad_norm_mean`` and
    ``grad_norm_max`` (over all its epochs); ``diverged_epoch`` (NA if it did not).
    """
    m, higher = run.monitor, run.higher_is_better
    goal = target_value(run, target)
    val = _curve(run, m, "val")
    clock = _curve(run, "time", "train")
    loss = _curve(run, "loss", "train")
    norm, peak = _curve(run, "grad_norm", "train"), _curve(run, "grad_norm_max", "train")
    out = run.members[["member", "label", "lr", "seed"]].copy()
    rows = []
    for k in out["member"]:
        epoch = _first_reach(val[k].dropna(), goal, higher) if k in val else math.nan
        last = val[k].last_valid_index() if k in val else None
        rows.append({
            "epochs_to_target": epoch,
            "seconds_to_target": _at(clock, k, epoch),
            f"best_val_{m}": _best(val, k, higher),
            "best_epoch": _best_epoch(val, k, higher),
            f"final_val_{m}": _at(val, k, last),
            "wall_time_s": _at(clock, k, clock[k].last_valid_index() if k in clock else None),
            "final_train_loss": _at(loss, k, loss[k].last_valid_index() if k in loss else None),
            "grad_norm_mean": _finite(norm, k).mean() if k in norm else math.nan,
            "grad_norm_max": _finite(peak, k).max() if k in peak else math.nan,
        })
    out = pd.concat([out.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    out["epochs_to_target"] = out["epochs_to_target"].astype("Int64")
    out["best_epoch"] = out["best_epoch"].astype("Int64")
    out["diverged_epoch"] = run.members["diverged_epoch"].astype("Int64").reset_index(drop=True)
    out.attrs["target"] = goal
    return out


def _finite(frame: pd.DataFrame, k: int) -> pd.Series:
    column = frame[k]
    return column[np.isfinite(column.astype(float))]


def _at(frame: pd.DataFrame, k: int, epoch) -> float:
    if epoch is None or (isinstance(epoch, float) and math.isnan(epoch)) or k not in frame:
        return math.nan
    value = frame[k].get(epoch, math.nan)
    return float(value) if pd.notna(value) else math.nan


def _best(val: pd.DataFrame, k: int, higher: bool) -> float:
    column = _finite(val, k) if k in val else pd.Series(dtype=float)
    if not len(column):
        return math.nan
    return float(column.max() if higher else column.min())


def _best_epoch(val: pd.DataFrame, k: int, higher: bool) -> float:
    column = _finite(val, k) if k in val else pd.Series(dtype=float)
    if not len(column):
        return math.nan
    return float(column.idxmax() if higher else column.idxmin())


def robustness_table(run: SweepResult, *, target: float | None = None) -> pd.DataFrame | None:
    """Per setting (members that differ only by seed): how much the seed matters.

    Columns: ``setting, lr, seeds, diverged`` (how many of them), ``best_val_<m>_mean``,
    ``_std`` (sample standard deviation, ddof=1), ``_min``, ``_max``,
    ``final_val_<m>_mean``, ``final_val_<m>_std`` and ``epochs_to_target_mean`` (over the
    seeds that reached it). ``None`` when no setting ran with more than one seed.
    """
    table = member_table(run, target=target)
    table["setting"] = setting_labels(run.members).to_numpy()
    if table.groupby("setting").size().max() < 2:
        return None
    m = run.monitor
    best, final = f"best_val_{m}", f"final_val_{m}"
    table["diverged"] = table["diverged_epoch"].notna()
    table["epochs_to_target"] = table["epochs_to_target"].astype(float)
    out = table.groupby("setting", sort=False).agg(
        lr=("lr", "first"), seeds=("seed", "size"), diverged=("diverged", "sum"),
        **{f"{best}_mean": (best, "mean"), f"{best}_std": (best, "std"),
           f"{best}_min": (best, "min"), f"{best}_max": (best, "max"),
           f"{final}_mean": (final, "mean"), f"{final}_std": (final, "std"),
           "epochs_to_target_mean": ("epochs_to_target", "mean")})
    return out.reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (floats to 4 significant digits, ``-`` if missing;
    ``|`` in cells escaped)."""
    from lrlab.report._page import format_cell

    def cell(value: object) -> str:
        return format_cell(value).replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"
