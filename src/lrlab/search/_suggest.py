"""Suggestion rules: lrlab's own, and the popular tools' rules for comparison.

Each rule is a pure function of ``(lrs, losses)`` (the raw losses of a range test, rates
increasing) returning a :class:`~lrlab.search.Reading`: a rate and a one-line explanation.
The comparison rules first smooth the losses with the tools' debiased EMA
(:func:`~lrlab.search.ema`, ``smooth=0.98``; pass ``smooth=0`` for a curve that is already
smooth), then drop the first 10% and the last 5 points as fastai does; lrlab's :func:`suggest` reads the zero-phase robust :func:`~lrlab.search.trend`.

* :func:`valley`: two thirds of the way down the longest run of consecutive decreases of the
  smoothed loss.
* :func:`steepest`: where the smoothed loss falls fastest per unit of ``log(lr)``.
* :func:`min_div10`: the rate at the smoothed loss's minimum, divided by 10.
* :func:`suggest`: the middle, in log space, of the 10%-90% descent of the trend, at most
  the trend minimum's rate / 3.

These rules were written for lrlab from the rules' published descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from lrlab._errors import LrlabError
from lrlab.search._readings import DEFAULT_RULES, Reading, Rules, check_curve, describe
from lrlab.search._smooth import ema

__all__ = ["COMPARISONS", "min_div10", "steepest", "suggest", "valley"]


def _smoothed(lrs: ArrayLike, losses: ArrayLike, smooth: float, skip_start: float,
              skip_end: int) -> tuple[np.ndarray, np.ndarray]:
    """EMA of the whole curve, then the tools' trim: drop the first ``floor(skip_start * n)``
    points (the EMA is still warming up) and the last ``skip_end`` (the blow-up); no trim if
    fewer than 3 points would remain."""
    x, y = check_curve(lrs, losses)
    if not (0 <= skip_start < 1) or not (isinstance(skip_end, int) and skip_end >= 0):
        raise LrlabError(f"skip_start={skip_start!r} must be in [0, 1) and skip_end={skip_end!r}"
                         " an int >= 0")
    s = ema(y, smooth)
    lo, hi = int(skip_start * len(s)), len(s) - skip_end
    return (x[lo:hi], s[lo:hi]) if hi - lo >= 3 else (x, s)


def valley(lrs: ArrayLike, losses: ArrayLike, *, smooth: float = 0.98,
           skip_start: float = 0.1, skip_end: int = 5) -> Reading:
    """Two thirds of the way down the longest run of consecutive decreases.

    With ``s = ema(losses, smooth)``, a run is a stretch ``a..b`` where ``s[i + 1] < s[i]`` for
    every ``a <= i < b``; the longest run wins (ties: the larger drop ``s[a] - s[b]``, then
    the earlier run). The reading is index ``a + floor(2 (b - a) / 3)``: two thirds of the
    way along the run in steps (in log rate for ``mode="exp"``).

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        smooth: the EMA's decay (0 for none).
        skip_start, skip_end: the trim after smoothing (first 10%, last 5 points, as fastai).

    Returns:
        The rate and why (``nan`` if the smoothed loss never decreases).

    Example:
        >>> lrs = np.geomspace(1e-3, 1.0, 7)
        >>> valley(lrs, [5.0, 4, 3, 2, 1, 0, 9], smooth=0, skip_start=0, skip_end=0).lr == float(lrs[3])
        True
    """
    x, s = _smoothed(lrs, losses, smooth, skip_start, skip_end)
    best, a = (0, 0.0, 0, 0), 0                        # (length, drop, -start, start)
    for i in range(1, len(s) + 1):
        if i == len(s) or not s[i] < s[i - 1]:
            length, drop = i - 1 - a, float(s[a] - s[i - 1])
            best = max(best, (length, drop, -a, a))
            a = i
    length, _, _, start = best
    if length == 0:
        return Reading(math.nan, "valley: the smoothed loss never decreases")
    i = start + (2 * length) // 3
    return Reading(float(x[i]), f"valley: 2/3 down the longest decreasing run of the smoothed "
                   f"loss ({x[start]:.3g} to {x[start + length]:.3g}, {length} steps)")


def steepest(lrs: ArrayLike, losses: ArrayLike, *, smooth: float = 0.98,
             skip_start: float = 0.1, skip_end: int = 5) -> Reading:
    """Where the smoothed loss falls fastest with respect to ``log(lr)``.

    ``g = d s / d log(lr)`` by central differences (one-sided at the ends, ``np.gradient``
    on the actual spacing); the reading is ``lrs[argmin g]``.

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        smooth: the EMA's decay (0 for none).
        skip_start, skip_end: the trim after smoothing (first 10%, last 5 points, as fastai).

    Returns:
        The rate and why (``nan`` if the smoothed loss never falls).

    Example:
        >>> lrs = np.geomspace(1e-4, 1.0, 41)
        >>> r = steepest(lrs, -np.tanh(np.log10(lrs) + 2), smooth=0, skip_end=0)
        >>> bool(np.isclose(r.lr, 1e-2))
        True
    """
    x, s = _smoothed(lrs, losses, smooth, skip_start, skip_end)
    if len(s) < 2:
        return Reading(math.nan, "steepest: fewer than 2 points")
    g = np.gradient(s, np.log(x))
    i = int(np.argmin(g))
    if not g[i] < 0:
        return Reading(math.nan, "steepest: the smoothed loss never falls")
    return Reading(float(x[i]), f"steepest: the smoothed loss falls fastest here "
                   f"({g[i]:.3g} per unit of ln lr)")


def min_div10(lrs: ArrayLike, losses: ArrayLike, *, smooth: float = 0.98,
              skip_start: float = 0.1, skip_end: int = 5) -> Reading:
    """The rate at the smoothed loss's minimum, divided by 10: ``lrs[argmin s] / 10``.

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        smooth: the EMA's decay (0 for none).
        skip_start, skip_end: the trim after smoothing (first 10%, last 5 points, as fastai).

    Returns:
        The rate and why (``nan`` for an empty curve).

    Example:
        >>> min_div10([0.1, 1.0, 10.0], [3.0, 1.0, 2.0], smooth=0, skip_end=0).lr
        0.1
    """
    x, s = _smoothed(lrs, losses, smooth, skip_start, skip_end)
    if len(s) == 0:
        return Reading(math.nan, "min_div10: no points")
    i = int(np.argmin(s))
    return Reading(float(x[i] / 10), f"min_div10: the smoothed loss is lowest at {x[i]:.3g}; / 10")


def _notes(d, a: int) -> str:
    notes = []
    if a < d.head:
        notes.append("the loss falls from the first rates: lower start")
    if d.best == len(d.raw) - 1:
        notes.append("the loss still falls at the last rate: raise end")
    return "".join(f"; {note}" for note in notes)


def suggest(lrs: ArrayLike, losses: ArrayLike, *, rules: Rules = DEFAULT_RULES) -> Reading:
    """lrlab's suggested rate: the log-middle of the trend's steep descent, below its minimum.

    With the trend's top, best and ``drop`` (see :mod:`lrlab.search._readings`) and
    ``(lo, hi) = rules.descent`` (0.1, 0.9): ``a`` and ``b`` are the first rates where the
    trend has fallen ``lo`` and ``hi`` of ``drop``, and

        ``lr = min(sqrt(lrs[a] * lrs[b]), lrs[best] / rules.below_best)``  (below_best = 3).

    The descent band tracks the region where the rate makes the loss fall, which is what a
    schedule's starting rate should sit in; the cap keeps it clear of the rate where the loss
    stops falling. Designed to be calibrated: every constant is in :class:`Rules`.

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        rules: the constants.

    Returns:
        The rate and why (``nan`` under 5 points or without a clear descent).

    Example:
        >>> lrs = np.geomspace(1e-5, 1.0, 51)
        >>> r = suggest(lrs, -np.tanh(2 * (np.log10(lrs) + 2.5)))
        >>> 1e-3 < r.lr < 1e-2
        True

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
    """
    d = describe(lrs, losses, rules)
    if d is None:
        return Reading(math.nan, "suggestion: too few points to read the loss curve")
    if not d.clear:
        return Reading(math.nan, f"suggestion: no clear descent (drop {d.drop:.3g} within "
                       f"{rules.clear:g}x noise {d.noise:.3g}); widen start..end")
    lo, hi = rules.descent
    a, b = d.crossing(lo), d.crossing(hi)
    middle = math.sqrt(d.lrs[a] * d.lrs[b])
    cap = float(d.lrs[d.best]) / rules.below_best
    where = (f"log-middle of the loss trend's {lo:.0%}-{hi:.0%} descent "
             f"({d.lrs[a]:.3g} to {d.lrs[b]:.3g})")
    if middle > cap:
        lr, where = cap, f"{where} capped at its minimum's rate / {rules.below_best:g}"
    else:
        lr = middle
    return Reading(float(lr), f"suggestion: {where}, {d.lrs[d.best] / lr:.3g}x below the "
                   f"trend minimum at {d.lrs[d.best]:.3g}{_notes(d, a)}")


#: The popular tools' rules, by name, for :meth:`RangeTestResult.suggestions`.
COMPARISONS: dict[str, Callable[..., Reading]] = {
    "valley": valley, "steepest": steepest, "min_div10": min_div10,
}
