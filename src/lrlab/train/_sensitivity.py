"""How sensitive a run is to its rate: the basin of good rates around the best, in decades.

Per setting (members that differ only by rate and seed), the final validation metric of
each rate is the median over its seeds (a diverged seed counts as worst; a rate where most
seeds diverged is not good). A rate is *good*
when that median is within ``tolerance`` of the setting's best: ``value >= (1 - tol) * best``
when higher is better, ``value <= best / (1 - tol)`` when lower is better (the convention of
the report's convergence target). The basin is the unbroken run of good rates, in rate
order, that holds the best one; its width is ``log10(hi / lo)`` decades. A basin that
reaches the smallest or largest rate swept is *open* on that side: the true basin is at
least that wide.

Wortsman et al., "Small-scale proxies for large-scale Transformer training instabilities"
(2023), arXiv 2309.14322, measure learning-rate sensitivity the same way: the final metric
against the rate, and how far from the best each rate lands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.train._rank import NOT_SETTINGS

if TYPE_CHECKING:
    from lrlab.train._result import SweepResult

__all__ = ["Basin", "Sensitivity", "sensitivity"]

#: The default tolerance: within 5% of the best (the report's target is 95% of the best).
TOLERANCE = 0.05

#: Member-table columns that are not settings shared by the members of one rate curve: those
#: of one setting (:mod:`lrlab.train._rank`), and the rate.
_NOT_SETTINGS = (*NOT_SETTINGS, "lr")


@dataclass(frozen=True)
class Basin:
    """The good rates of one setting.

    Attributes:
        setting: what the members share besides rate and seed (``""`` when nothing varies).
        rates: every rate swept, ascending.
        values: the median final validation metric per rate (NaN: every seed diverged).
        best_lr, best: the best rate and its median.
        lo, hi: the smallest and largest rate of the basin.
        decades: ``log10(hi / lo)``.
        open_low, open_high: the basin reaches the smallest / largest rate swept.
    """

    setting: str
    rates: tuple[float, ...]
    values: tuple[float, ...]
    best_lr: float
    best: float
    lo: float
    hi: float
    decades: float
    open_low: bool
    open_high: bool

    def describe(self) -> str:
        """``0.01 to 0.3 (1.50 decades)``; ``at least`` when the basin is open; a basin of
        one rate is ``only 0.1`` (``only 0.3, at the edge of the rates swept`` when open)."""
        edge = (self.open_low or self.open_high) and len(self.rates) > 1
        if self.lo == self.hi:
            return f"only {self.lo:.3g}" + (", at the edge of the rates swept" if edge else "")
        return f"{self.lo:.3g} to {self.hi:.3g} ({'at least ' if edge else ''}" \
               f"{self.decades:.2f} decades)"


@dataclass(frozen=True)
class Sensitivity:
    """The basin of every setting of a run, and the points behind them.

    Attributes:
        monitor, higher_is_better: the metric and its direction.
        tolerance: the relative distance from the best that still counts as good.
        basins: one per setting, in the order the members first show them.
        points: one row per member: ``member, setting, lr, seed, value`` (its final
            validation metric; NaN if it diverged).
    """

    monitor: str
    higher_is_better: bool
    tolerance: float
    basins: tuple[Basin, ...]
    points: pd.DataFrame

    def frame(self) -> pd.DataFrame:
        """One row per setting: best rate and value, basin bounds, width, openness."""
        return pd.DataFrame({
            "setting": [b.setting or "all members" for b in self.basins],
            "best_lr": [b.best_lr for b in self.basins],
            f"best_final_val_{self.monitor}": [b.best for b in self.basins],
            "basin_lo": [b.lo for b in self.basins], "basin_hi": [b.hi for b in self.basins],
            "decades": [b.decades for b in self.basins],
            "open_low": [b.open_low for b in self.basins],
            "open_high": [b.open_high for b in self.basins],
            "rates": [len(b.rates) for b in self.basins]})

    def rule(self) -> str:
        """The tolerance in words."""
        seeds = self.points["seed"].nunique() if "seed" in self.points else 1
        return (f"final validation {self.monitor} within {self.tolerance:.0%} of the best"
                + (f", median over {seeds} seeds" if seeds > 1 else ""))


def _settings(members: pd.DataFrame) -> pd.Series:
    """A label per member of what it shares with the others of its rate curve."""
    text = members.drop(columns=[c for c in _NOT_SETTINGS if c in members]).map(str)
    varying = [c for c in text.columns if text[c].nunique() > 1]
    if not varying:
        return pd.Series([""] * len(members), index=members.index)
    return text[varying].apply(lambda row: " ".join(
        f"{c}={v}" for c, v in row.items() if v not in ("nan", "<NA>")), axis=1)


def _good(values: np.ndarray, best: float, higher: bool, tol: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if higher:
            return values >= (1 - tol) * best if best >= 0 else values >= best / (1 - tol)
        return values <= best / (1 - tol) if best >= 0 else values <= best * (1 - tol)


def _basin(setting: str, rates: np.ndarray, values: np.ndarray, higher: bool,
           tol: float) -> Basin | None:
    finite = np.isfinite(values)
    if not finite.any():
        return None
    scored = np.where(finite, values, -np.inf if higher else np.inf)
    i = int(np.argmax(scored) if higher else np.argmin(scored))
    good = _good(values, float(values[i]), higher, tol) & finite
    lo = hi = i
    while lo > 0 and good[lo - 1]:
        lo -= 1
    while hi < len(rates) - 1 and good[hi + 1]:
        hi += 1
    return Basin(setting, tuple(map(float, rates)), tuple(map(float, values)),
                 float(rates[i]), float(values[i]), float(rates[lo]), float(rates[hi]),
                 float(math.log10(rates[hi] / rates[lo])), lo == 0, hi == len(rates) - 1)


def sensitivity(run: SweepResult, tolerance: float = TOLERANCE) -> Sensitivity:
    """The basin of good rates of every setting of ``run`` (see the module docstring).

    Args:
        run: a sweep's result.
        tolerance: how far from the best (a fraction, in ``(0, 1)``) still counts as good.

    Returns:
        a :class:`Sensitivity`; a setting whose every member diverged has no basin.

    Example:
        >>> from lrlab import sweep
        >>> s = sweep("blobs", lrs=[1.0, 0.3, 0.1, 0.01], epochs=2).sensitivity()
        >>> s.basins[0].lo <= s.basins[0].best_lr <= s.basins[0].hi
        True
    """
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 1):
        raise LrlabError(f"the tolerance must be a fraction in (0, 1), e.g. 0.05, got "
                         f"{tolerance!r}")
    summary = run.summary()
    points = pd.DataFrame({"member": summary["member"], "setting": _settings(run.members),
                           "lr": summary["lr"].astype(float), "seed": summary["seed"],
                           "value": summary[f"final_val_{run.monitor}"].astype(float)})
    diverged = run.members["diverged"].to_numpy(bool)
    points.loc[diverged, "value"] = math.nan
    basins = []
    worst = -math.inf if run.higher_is_better else math.inf
    for setting, group in points.groupby("setting", sort=False):
        medians = group["value"].fillna(worst).groupby(group["lr"]).median()
        values = medians.to_numpy(float, copy=True)
        values[~np.isfinite(values)] = math.nan  # most of its seeds diverged
        basin = _basin(str(setting), medians.index.to_numpy(float), values,
                       run.higher_is_better, float(tolerance))
        if basin is not None:
            basins.append(basin)
    return Sensitivity(run.monitor, run.higher_is_better, float(tolerance), tuple(basins),
                       points)
