"""Which member, and which rate, is best: the one ranking of members every verdict uses.

A member's score is its best validation ``monitor`` (ties: the lower final validation
loss). When members differ only by seed (``--seeds``), the rate is what is chosen, not one
lucky seed: the members of one *setting* (everything but the seed) are ranked together by
the mean over their seeds,

    mean_best_val_<m>(setting) = (1 / S) * sum over its S seeds of best_val_<m>(seed),

and within a setting its seeds follow, best first. A setting with a seed that never scored
(it diverged at once) has no mean and comes after every setting that has one; such
settings follow each other by their best seed.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["rank", "setting_labels"]

#: Members-table columns that are not settings shared by the seeds of one setting.
NOT_SETTINGS = ("member", "label", "seed", "diverged", "diverged_epoch", "diverged_step")


def setting_labels(members: pd.DataFrame) -> pd.Series:
    """A label per member naming its settings without the seed (``lr=0.1``): members with
    the same label differ only by seed.

    Example:
        >>> members = pd.DataFrame({"member": [0, 1, 2], "lr": [0.1, 0.1, 0.01],
        ...                         "seed": [0, 1, 0],
        ...                         "label": ["lr=0.1 seed=0", "lr=0.1 seed=1", "lr=0.01 seed=0"]})
        >>> setting_labels(members).tolist()
        ['lr=0.1', 'lr=0.1', 'lr=0.01']
    """
    settings = [c for c in members.columns if c not in NOT_SETTINGS]
    keys = members[settings].map(str).agg("|".join, axis=1)  # NaN: a rule without it
    first = members.groupby(keys, sort=False)["label"].transform("first")
    return first.map(lambda s: re.sub(r"\s*\bseed=-?\d+", "", s).strip())


def rank(summary: pd.DataFrame, monitor: str, higher_is_better: bool) -> pd.DataFrame:
    """Summary rows best first: the best validation ``monitor``, ties broken by the lower
    final validation loss; members without a score (diverged at once) last.

    With a ``setting`` column (:func:`setting_labels`; :meth:`SweepResult.ranked` adds it),
    settings are ranked by the mean over their seeds (see the module docstring) and the
    table gains ``seeds`` and ``mean_best_val_<monitor>`` (and ``mean_final_val_loss``, the
    tie-break); a setting's seeds stay together, best first.

    Example:
        >>> table = pd.DataFrame({"label": ["a", "b", "c"],
        ...                       "best_val_loss": [0.3, 0.1, float("nan")],
        ...                       "final_val_loss": [0.3, 0.1, float("nan")]})
        >>> rank(table, "loss", False)["label"].tolist()
        ['b', 'a', 'c']
    """
    best, loss = f"best_val_{monitor}", "final_val_loss"
    keys, ascending = [best, loss], [not higher_is_better, True]
    if "setting" in summary:
        groups = summary.groupby("setting", sort=False)
        summary = summary.assign(**{
            "seeds": groups[best].transform("size"),
            f"mean_{best}": groups[best].transform(lambda s: s.mean(skipna=False)),
            f"mean_{loss}": groups[loss].transform("mean"),
            # no mean (a seed never scored): its best seed, then settings still together
            "_top": groups[best].transform("max" if higher_is_better else "min"),
            "_order": groups.ngroup()})
        keys = [f"mean_{best}", f"mean_{loss}", "_top", "_order", *keys]
        ascending = [not higher_is_better, True, not higher_is_better, True, *ascending]
    table = summary.sort_values(keys, ascending=ascending, kind="stable", na_position="last")
    return table.drop(columns=["_top", "_order"], errors="ignore").reset_index(drop=True)
