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
* :func:`suggest`: the rate where the trend reaches its bottom (within 1% of its minimum).

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


def _notes(d, rules: Rules) -> str:
    notes = []
    if d.crossing(rules.improve) < d.head:
        notes.append("the loss falls from the first rates: lower start")
    if d.best == len(d.raw) - 1:
        notes.append("the loss still falls at the last rate: raise end")
    return "".join(f"; {note}" for note in notes)


def suggest(lrs: ArrayLike, losses: ArrayLike, *, rules: Rules = DEFAULT_RULES) -> Reading:
    """lrlab's suggested rate: where the loss trend reaches its bottom.

    On the zero-phase robust trend (see :mod:`lrlab.search._readings` for ``level``, ``best``
    and ``drop``), ``bottom`` is the first rate where the trend is within ``rules.plateau``
    (1%) of ``drop`` of its minimum, and

        ``lr = lrs[bottom] / rules.divisor``  (divisor = 1).

    Why this shape: the trend has no EMA lag, its running median ignores spiky batches, and
    taking the *start* of the bottom rather than the arg-minimum keeps a long flat bottom
    (a loss near zero for decades) from dragging the reading to the far end. Why no margin
    below the bottom: calibrated against an oracle grid trained for the full epochs
    (``benchmarks/finder_quality.py``; plain SGD on blobs, digits, mnist-linear and
    mnist-mlp), the bottom itself lost 0.0-0.5 accuracy points to the oracle's best rate,
    the bottom / 3 of lrlab's first trials 0.3-2.1 and the folklore bottom / 10 1.0-10.
    A range test rises fast, so its bottom already lies below the edge of stability of a
    long run. ``divisor`` is a field of :class:`Rules` for optimizers that want a margin.

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        rules: the constants.

    Returns:
        The rate and why (``nan`` under 5 points or without a clear descent).

    Example:
        >>> lrs = np.geomspace(1e-5, 10.0, 61)
        >>> r = suggest(lrs, np.abs(np.log10(lrs)))   # a V, bottom at 1
        >>> 0.6 < r.lr <= 1                            # a step early: the trend rounds the V
        True

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
    """
    d = describe(lrs, losses, rules)
    if d is None:
        return Reading(math.nan, "suggestion: too few points to read the loss curve")
    if not d.clear:
        return Reading(math.nan, f"suggestion: no clear descent (drop {d.drop:.3g} within "
                       f"{rules.clear:g}x noise {d.noise:.3g}); widen start..end")
    bottom = float(d.lrs[d.crossing(1.0 - rules.plateau)])
    margin = f"; / {rules.divisor:g}" if rules.divisor != 1 else ""
    return Reading(bottom / rules.divisor, f"suggestion: the loss trend reaches its bottom at "
                   f"{bottom:.3g} (within {rules.plateau:.0%} of its minimum at "
                   f"{d.lrs[d.best]:.3g}){margin}{_notes(d, rules)}")


#: The popular tools' rules, by name, for :meth:`RangeTestResult.suggestions`.
COMPARISONS: dict[str, Callable[..., Reading]] = {
    "valley": valley, "steepest": steepest, "min_div10": min_div10,
}
