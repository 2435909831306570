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
* :func:`suggest`: below the bottom of the trend (halfway down it for adaptive rules), a
  margin below where it turns up; a flat curve is read from where it breaks upwards.

These rules were written for lrlab from the rules' published descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from lrlab._errors import LrlabError
from lrlab.search._readings import (
    DEFAULT_RULES,
    MIN_POINTS,
    Reading,
    Rules,
    check_curve,
    describe,
)
from lrlab.search._smooth import ema, half_width

#: Without a clear descent, a drop of more than this many noise units that leads straight
#: into the break is still read as a descent (see :func:`_unclear`).
WEAK = 2.0

#: A test of fewer points than this without a clear descent is too sparse to show one: the
#: advice is more steps (see :func:`next_step`).
FEW = 40

#: A clear descent (``rules.clear`` noise units) counts as firm evidence from ``FIRM`` x that
#: bar: a shallower one is read, with a warning, and a second look (the zoom of
#: :func:`~lrlab.search.range_test`) must show a firm one (see :func:`shallow`).
FIRM = 2.0

#: A curve whose noise exceeds this fraction of its starting level places its turns to a
#: factor 2-3 only (an MSE regression's batches: 15-25%; the finder-quality benchmark's
#: classification tests: under 4%; the built-in blobs, large first logits: 12-14%): its
#: suggestion warns, and a zoom of it is not read at its break.
NOISY = 0.1

#: A loss that neither fell nor rose up to this rate has gradients near zero: a higher end
#: will not help (an SGD step of 1e3 x any real gradient moves the loss; an adaptive
#: rule's step is the rate itself).
STILL = 1e3

__all__ = ["COMPARISONS", "FEW", "FIRM", "NOISY", "STILL", "dip", "early_rise", "fell_back",
           "later_fall", "min_div10", "next_step", "ragged_bottom", "scatter", "steepest", "suggest",
           "trend_bottom", "valley"]


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


def fell(d) -> str:
    """How far a curve's trend fell, in words: ``fell by X``, or that it never fell below
    the level it started from (a negative drop read as a fall confuses); a curve read at
    the loss of its classes' shares (:attr:`~lrlab.search._readings.Descent.prior`) says
    that it fell only to there."""
    if math.isfinite(d.prior):
        return (f"fell only to {d.prior:.3g}, the loss of predicting each class's share: it "
                f"learned how common the classes are, not the inputs (then "
                + (f"by {d.drop:.3g}" if d.drop > 0 else "not") + " below it)")
    return f"fell by {d.drop:.3g}" if d.drop > 0 else "never fell below its starting level"


def falls_at_once(d, rules: Rules) -> bool:
    """Whether a clear curve falls from its first rates: its trend has improved by
    ``rules.improve`` of the drop within the first stretch (``d.head``) and does not climb
    back by more than the curve's noise before its best. A noisy curve whose trend starts
    below its starting level (the level a median of noisy first points; the trend's first
    point an edge pulled down by a low first batch) and then rises to a plateau has not
    started to fall there (a Gaussian NLL regression under Adam read so at 1e-7 and was told
    to start at 1e-9)."""
    i = d.crossing(rules.improve)
    return i < d.head and float(np.max(d.trend[i: d.best + 1])) <= d.trend[i] + d.noise


#: A curve without a clear descent that broke upwards and ended its test without diverging,
#: its loss (the highest median of 5 points in a row past the break) at most this factor
#: above its starting level, never blew up: the range test's own divergence factor
#: (``diverge=4``). Its advice is to run the test further (:func:`next_step`), not that a
#: wider range cannot help: a bag-of-words over a sparse embedding under SGD rose from 3.8
#: to 2.3x its level at the test's end, 10, diverged at 52 when run on, and 10-46 trained
#: best (its first epoch's loss spikes and comes back).
RISE_ONLY = 4.0


def risen(d, broke: int) -> float:
    """How high a curve's loss rose past its break (index ``broke``), as a share of its
    starting level: its highest median of 5 points in a row (the trend is monotone past its
    bottom, and one batch's loss is noise); ``inf`` for a level at or below 0."""
    if d.level <= 0:
        return math.inf
    after = d.raw[broke:]
    runs = np.lib.stride_tricks.sliding_window_view(after, min(5, len(after)))
    return float(np.max(np.median(runs, axis=1))) / d.level


def rose_only(d, rules: Rules, diverged: bool) -> bool:
    """Whether a curve without a clear descent broke upwards and never blew up: it reached
    its test's end without diverging, its loss at most :data:`RISE_ONLY` x its level
    (:func:`risen`)."""
    broke = None if d.clear or diverged else broke_at(d, rules, diverged)
    return broke is not None and risen(d, broke) <= RISE_ONLY


def next_step(lrs: ArrayLike, losses: ArrayLike, *, rules: Rules = DEFAULT_RULES,
              diverged: bool = False, reason: str = "",
              earlier: float | None = None, prior: float = math.nan) -> str:
    """What to do so that a range test reads better: one line, or ``""`` (nothing to do).

    Advice must be able to help where it is given, so it follows the curve's shape (see
    :func:`describe`, :func:`broke_at`); widening the range never helps a curve that broke:

    * under 5 points: the test diverged at once (start lower) or stopped early (``reason``);
    * a clear descent from the first rates (start lower) or still falling at the last rate
      (end higher; not when it fell there only after rising above its start: :func:`early_rise`);
    * no clear descent and the loss never rose: the descent has not started (end higher),
      unless the test reached :data:`STILL`: then the gradients are near zero;
    * no clear descent, then the loss broke upwards: less than three decades above the
      lowest rate tested, counting an ``earlier`` test (start lower: the flat part may be
      the bottom of a descent that began below it); after fewer than :data:`FEW` points
      (more steps); a curve that fell only to the loss of its classes' shares (``prior``,
      :func:`~lrlab.search._readings.describe`) and was no zoom below its break: a denser
      test below the break (the zoom of :func:`~lrlab.search.range_test`, ``extend=True``),
      where a ConvNeXt's loss fell on to 1.2; a curve that reached its test's end without
      diverging, its trend at most :data:`RISE_ONLY` x its starting level: the rise may be
      a spike a longer training recovers from (end higher, then train the rates up to where
      it blows up); else a range test shows this network no clear descent below the break,
      whatever its range, and its loss blew up: train a few rates below it for epochs.

    Args:
        lrs, losses: the curve (rates increasing).
        rules: the readings' constants.
        diverged: whether the test stopped because the loss diverged.
        reason: why the test stopped (named when it stopped too early to read).
        earlier: the first rate of the test that made :func:`~lrlab.search.range_test`
            (``extend=True``) run this one, if any: this test is its second look (further
            up, lower down, or zoomed below a break).
        prior: the loss of predicting the classes' shares (``nan``: not known).

    Example:
        >>> lrs = np.geomspace(1e-7, 10.0, 100)
        >>> next_step(lrs, np.where(lrs > 1, 1 + np.log10(lrs), 1.0))[:38]
        'a test of 100 steps shows no clear des'
    """
    x, y = check_curve(lrs, losses)
    n = len(x)
    d = describe(x, y, rules, prior)
    if d is None:
        if diverged and n:
            again = earlier is not None and earlier > x[0]
            return (f"the loss diverged within {n} step(s) even from {x[0]:.3g}: check the "
                    "data and the loss for huge or non-finite values" if again else
                    f"the loss diverged within {n} step(s), at {x[-1]:.3g}: start lower "
                    f"(start={x[0] / 1000:g})")
        if diverged:
            return "the loss was not finite at the first step: check the data and the loss"
        return (f"the test stopped after {n} step(s) ({reason or 'no reason given'}); "
                f"reading it needs at least {MIN_POINTS}")
    if d.clear:
        notes = []
        zoomed = earlier is not None and earlier < x[0]  # a zoom's start is not the user's
        if falls_at_once(d, rules) and not zoomed:
            notes.append(f"the loss falls from the first rates: start lower "
                         f"(start={x[0] / 100:g})")
        if d.best == n - 1 and later_fall(d, rules) is None:  # a late fall: not the rate's
            notes.append(f"the loss still falls at the last rate: end higher "
                         f"(end={x[-1] * 100:g})")
        return "; ".join(notes)
    broke = broke_at(d, rules, diverged)
    if broke is None:
        if x[-1] >= STILL:
            return (f"the loss did not move up to {x[-1]:.3g}, so a higher end will not help: "
                    "its gradients are near zero; check that they reach the parameters and "
                    "that the targets can be learned")
        return f"the descent has not started: run the test further (end={x[-1] * 1000:g})"
    at = float(x[broke])
    low = min(x[0], earlier) if earlier is not None else x[0]
    if broke <= d.head or at / low < 1000:
        # the loss rose from the first rates, or the flat part may be the bottom of a
        # descent that began below the test: its start level is not the untrained loss
        return (f"the loss broke at {at:.3g}, less than three decades above the first rate: "
                f"start lower (start={at / 1e5:.3g})")
    if n < FEW:
        return f"{n} steps are too few to show a descent: run more (steps={max(100, 4 * n)})"
    if math.isfinite(d.prior) and (earlier is None or earlier >= x[0]):
        # not yet a zoom below this break: at this density the test barely passed the
        # classes' shares; a denser one below the break shows the inputs being learned
        return (f"the loss fell only to the loss of predicting each class's share and broke "
                f"at {at:.3g}: run a denser test below the break (start={at / 1000:.3g}, "
                f"end={min(float(x[-1]), 10 * at):.3g}, steps={2 * n})")
    peak = risen(d, broke)
    if not diverged and peak <= RISE_ONLY:
        # it rose and stopped at the test's end, never near a blow-up: a short test's rise
        # may be a spike that a training of epochs recovers from (a sparse embedding's
        # bag-of-words, SGD: the range test rose 1.3x from 3.8, and 10-46 trained best)
        return (f"a test of {n} steps shows no clear descent below {at:.3g}, and its loss "
                f"rose from there but never blew up (at most {peak:.2f}x its starting level "
                f"up to the test's end, {x[-1]:.3g}): a rise in a short test can be a spike a "
                f"longer training recovers from, so run it further (end={x[-1] * 100:g}) to "
                f"see where the loss blows up, and train a few rates from {at / 100:.3g} up "
                f"to that point for epochs (lrlab auto)")
    blew = (f"its loss blew up at {x[-1]:.3g}" if diverged else
            f"its loss rose to {peak:.2f}x its starting level by {x[-1]:.3g}")
    return (f"a test of {n} steps shows no clear descent below {at:.3g}, and a wider range "
            f"will not change that ({blew}): train a few rates below it for epochs (lrlab "
            f"auto, or a grid from {at / 100:.3g} to {at / 2:.3g})")


def shallow(d, rules: Rules) -> bool:
    """Whether a clear descent is shallow: it fell by less than :data:`FIRM` x the clear bar
    (``rules.clear`` x its noise, so under six noise units by default).

    Why: a wobble of three or four noise units passes the clear test now and then (three
    sigmoid layers: a dip of 3.3 noise units at 0.057, two decades below the rates that
    train, lost 55 points), and real descents that shallow place the rate roughly: of the
    90 clear curves of ``benchmarks/finder_quality.py`` (12 networks x 5 seeds, SGD and
    Adam), the 10 shallow ones lost up to 9.4 points (22.5% excess loss on a regression),
    the firm ones up to 4.4.
    """
    return bool(d.clear) and d.drop < FIRM * rules.clear * d.noise


def deep(d, rules: Rules) -> bool:
    """Whether a descent fell by :data:`FIRM` x ``rules.clear`` x :data:`NOISY` of its
    starting level or more (60% by default; a level above 0): a fall that deep is real,
    however few noise units it makes, and a :func:`shallow` one that deep has a noise over
    :data:`NOISY` of its level (it fell by under ``FIRM`` x ``rules.clear`` noise units),
    so the warning names the noise (``noisy_loss``), not a shallow descent.

    Why: a regression's noise is the untrained batches' spread (random targets, random
    series levels), a share of the starting level, so a loss that fell by most of its level
    counts few noise units: a DLinear forecaster under Adam (``new_user.py``'s ``horizon``,
    seed 0) fell by 71% of its level, 4.4 noise units, and was called shallow. The zoom's
    choice (:func:`dip`) still reads :func:`shallow` alone.

    Example:
        >>> from types import SimpleNamespace as D
        >>> deep(D(level=3.4, drop=2.4), DEFAULT_RULES), deep(D(level=3.4, drop=1.7), DEFAULT_RULES)
        (True, False)
    """
    return d.level > 0 and d.drop >= FIRM * rules.clear * NOISY * d.level


def scatter(d, rules: Rules) -> float:
    """The noise of a curve about its trend at its bottom: the raw points from ``2h`` before
    ``best`` to ``h`` after it (``h`` the trend's half-width), robustly.

    ``d.noise`` is measured up to the bottom, mostly before the descent: a model that has
    not moved yet gives nearly the same loss on every batch (a linear model's first logits
    are near zero), however few examples a batch holds. Once it learns, each step's loss is
    one batch's, and a tiny batch scatters it widely (see :func:`ragged_bottom`).
    """
    from lrlab.search._smooth import half_width, noise_level

    h = half_width(len(d.raw), rules.window)
    part = slice(max(0, d.best - 2 * h), min(len(d.raw), d.best + h + 1))
    return noise_level(d.raw[part] - d.trend[part])


def ragged_bottom(d, rules: Rules) -> bool:
    """Whether a clear curve scatters more about its trend at its bottom (:func:`scatter`)
    than the trend fell: where that bottom lies, and the turn read from it, is chance.

    A linear model over 8,192 hashed features trained on batches of 4 stays at its starting
    loss (noise 1-2% of it) until 0.3, then scatters by 1.2-2x its fall of 0.16-0.24 (seeds
    1, 2 of ``new_user.py``'s ``hashed``): the suggestions read 1.91 and 1.09 off bottoms
    at 4.75 and 2.72, losing 7.3 and 2.3 points to a 13-rate grid's best (0.464), unwarned.
    The clear range tests of 66 of ``new_user.py``'s other scenarios (seed 0, batches of 16
    and more) scatter at most 0.73x their fall there, most under half
    (``benchmarks/ragged_bottom.py``, docs/benchmarks.md).
    """
    return bool(d.clear) and scatter(d, rules) > d.drop


def dip(d, rules: Rules) -> bool:
    """Whether a clear descent is a dip: shallow (:func:`shallow`) and back at its starting
    level before the loss breaks (the shape a weak fall is rejected for, see
    :func:`_one_shape`), not a fall that leads into the rise (a noisy regression's)."""
    return shallow(d, rules) and not _one_shape(d)


def early_rise(d, rules: Rules) -> int | None:
    """Where a curve that fell clearly rose above its starting level *before* its lowest
    point: the first index where the trend is ``rules.clear`` x the noise above ``level``,
    provided the curve up to there holds a clear descent of its own; None otherwise.

    Such a curve fell, broke upwards, then fell again at higher rates: the later fall comes
    from the steps taken, not from the rate (an LSTM with Adam stays flat for many steps and
    then learns suddenly at whatever rate the test has reached, read as 1.29 where 1e-4..0.1
    train it: 33 points). Only the descent before the rise says something about the rate.

    Example:
        >>> from lrlab.search._readings import describe
        >>> lrs = np.geomspace(1e-5, 10.0, 120)
        >>> v = np.r_[np.ones(40), np.linspace(1, 0.6, 20), np.full(20, 1.5), np.linspace(1.5, 0, 40)]
        >>> float(lrs[early_rise(describe(lrs, v), DEFAULT_RULES)]) < 0.1
        True
    """
    if not d.clear:
        return None
    above = np.flatnonzero(d.trend[: d.best] > d.level + rules.clear * d.noise)
    if not len(above) or above[0] < MIN_POINTS:
        return None
    i = int(above[0])
    before = describe(d.lrs[:i], d.raw[:i], rules)
    return i if before is not None and before.clear else None


def fell_back(d, rules: Rules) -> int | None:
    """Where a clear curve rose past its low and later fell back to about that low: the
    first index before its lowest point where the trend stands ``rules.rebound`` x the noise
    above its lowest point so far, that low having fallen clearly (``rules.clear`` x the
    noise below the starting level), when the trend stays up there for more than its
    half-width (as a clear descent must stay down) and below its starting level, its lowest
    point past the rise lies below that low by less than the trend rose above it, and the
    curve up to the rise holds a clear descent of its own; None otherwise, and with
    ``rules.rebound`` 0.

    A network whose outputs do not change with its weights' scale (normalised features or
    class weights, as ArcFace's and cosine classifiers'; layers before a normalisation) is
    pushed to larger weights by every step, and each step then moves it less: its effective
    rate shrinks as the weights grow. Its loss in a range test falls over decades at the
    pace of the steps, rises where a rate is too high and blows the weights up rather than
    the loss, and falls back at higher rates as the weights, grown large, take each step
    in: a later fall back to about the low says nothing about a rate (ArcFace at scale 30 under
    momentum 0.9: low at 0.015-0.066, up for a decade, back to the low by 3-10, and 10-step
    races at 0.1-10 learned nothing; a full training learns best at 1e-4 to 5e-4). Only the
    descent below the rise places a rate. A second descent deeper than the rise (below the
    low by more than the trend rose above it) is another fall, read as before; so is a curve
    whose trend rose to its starting level or above: it lost all it had learned, a blow-up
    that a network may recover from at higher rates (the built-in blobs' MLP rose to 1.2x
    its start at 0.14 and fell back to its low by 1-2, and trains best at 0.17-0.3 over 20
    epochs, where reading below that rise raced from 0.01 and took 0.0057, 5 points worse).

    Example:
        >>> from lrlab.search._readings import describe
        >>> lrs = np.geomspace(1e-5, 10.0, 120)
        >>> v = np.r_[np.linspace(2, 1, 60), np.full(20, 1.4), np.linspace(1.4, 0.95, 40)]
        >>> float(lrs[fell_back(describe(lrs, v), DEFAULT_RULES)]) < 0.02
        True
        >>> fell_back(describe(lrs, v - np.r_[np.zeros(80), np.linspace(0, 0.9, 40)]),
        ...           DEFAULT_RULES) is None
        True
    """
    if not d.clear or rules.rebound <= 0:
        return None
    trend = d.trend[: d.best]
    low = np.minimum.accumulate(trend) if len(trend) else trend
    above = (trend > low + rules.rebound * d.noise) & (low < d.level - rules.clear * d.noise)
    up = np.flatnonzero(above)
    if not len(up) or up[0] < MIN_POINTS:
        return None
    i = int(up[0])
    held = np.flatnonzero(~above[i:])
    if (int(held[0]) if len(held) else len(above) - i) <= half_width(len(d.raw), rules.window):
        return None  # a wiggle of the trend, not a rise: held no longer than its half-width
    peak = float(np.max(d.trend[i: d.best]))
    if peak >= d.level:  # it lost all it had learned: a blow-up, not weights that grew
        return None
    if d.trend[d.best] < low[i] - (peak - low[i]):  # a deeper second descent: another fall
        return None
    before = describe(d.lrs[:i], d.raw[:i], rules)
    return i if before is not None and before.clear else None


def later_fall(d, rules: Rules) -> int | None:
    """Where a clear curve's reading stops, its later fall being the steps' doing: above its
    starting level (:func:`early_rise`) or rose past its low and fell back to about it
    (:func:`fell_back`); None when neither."""
    rose = early_rise(d, rules)
    return rose if rose is not None else fell_back(d, rules)


def trend_bottom(lrs: ArrayLike, losses: ArrayLike, *, rules: Rules = DEFAULT_RULES) -> float:
    """The first rate where the loss trend is within ``rules.plateau`` of its minimum's drop,
    or ``nan`` under 5 points or without a clear descent (see :func:`describe`).

    Example:
        >>> lrs = np.geomspace(1e-5, 10.0, 61)
        >>> 0.6 < trend_bottom(lrs, np.abs(np.log10(lrs))) <= 1
        True
    """
    d = describe(lrs, losses, rules)
    if d is None or not d.clear:
        return math.nan
    back = fell_back(d, rules)
    if back is not None:  # a later fall back to the low is not the rate's: read below the rise
        return trend_bottom(d.lrs[:back], d.raw[:back], rules=rules)
    return float(d.lrs[d.crossing(1.0 - rules.plateau)])


def into_bottom(d, rules: Rules) -> int:
    """Where the trend has fallen ``rules.depth`` of its drop on the descent that leads into
    its lowest point: the first such index after the trend last stood above that level by
    more than half its noise (:meth:`~lrlab.search._readings.Descent.crossing` when it never
    came back up; the bottom itself, ``depth`` 0.99, is read as before).

    An earlier descent that came back up is another one: a classifier whose untrained
    outputs sit above its classes' own loss falls first to that loss (the output layer
    learns the classes' shares, 1.46 to 1.39 = ln 4 for three sigmoid layers under Adam), sits
    there for a decade, and falls again where its features learn; halfway down the whole drop
    lay in the first fall, two decades below the rates that train best.

    Example:
        >>> from lrlab.search import ADAPTIVE_RULES
        >>> lrs = np.geomspace(1e-5, 1.0, 101)
        >>> two = np.select([lrs < 1e-3, lrs < 3e-3, lrs < 0.03], [1.5, 1.1, 1.3], 0.8)
        >>> d = describe(lrs, two, ADAPTIVE_RULES)
        >>> float(lrs[d.crossing(0.5)]) < 1e-2 < float(lrs[into_bottom(d, ADAPTIVE_RULES)])
        True
    """
    if rules.depth >= 1.0 - rules.plateau:
        return d.crossing(rules.depth)
    goal = d.level - rules.depth * d.drop
    back = np.flatnonzero(d.trend[d.top: d.best] > goal + d.noise / 2)
    start = d.top + (int(back[-1]) if len(back) else 0)
    return start + int(np.argmax(d.trend[start: d.best + 1] <= goal))


def turn_up(d, rules: Rules) -> int:
    """The first index after the trend's minimum where it has risen by ``rules.turn`` of the
    drop above that minimum; the last index when it never does (the test stopped first)."""
    after = np.flatnonzero(d.trend[d.best:] > d.trend[d.best] + rules.turn * d.drop)
    return d.best + int(after[0]) if len(after) else len(d.lrs) - 1


def rise(d, rules: Rules) -> int | None:
    """Where a flat curve breaks upwards for good: the first index from which the running
    median of the raw curve (half-width ``h // 2``) stays above its starting level by
    ``rules.clear`` x the noise (of the whole curve about its trend) to the end. None if it
    does not end there."""
    from lrlab.search._smooth import half_width, noise_level, running_median

    h = half_width(len(d.raw), rules.window)
    med = running_median(d.raw, max(1, h // 2))
    noise = noise_level(d.raw - d.trend)  # the whole curve's: ``d.noise`` stops at the best
    above = med > d.level + rules.clear * noise
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)  # the rise must hold to the end: noise does not
    return int(below[-1]) + 1 if len(below) else 0


def broke_at(d, rules: Rules, diverged: bool) -> int | None:
    """Where a curve without a clear descent first moved for good: the index where it
    breaks upwards (:func:`rise`), else the last index when the test diverged, else None
    (the loss never moved: the descent has not started)."""
    broke = rise(d, rules)
    if broke is None and diverged:
        return len(d.lrs) - 1
    return broke


def _one_shape(d) -> bool:
    """Whether a curve's lowest trend and its rise are one shape: after its lowest point the
    trend climbs clearly above the starting level (by half the noise) and from there stays
    at or above that level to the end.

    A weak descent (more than ``WEAK`` x the noise, less than ``clear`` x) counts only
    then: a noisy loss (an MSE regression's batches) can fall by two or three noise units
    over a decade and rise again, and its trend tells that shape clearly. A dip in a flat
    part returns to the level and wanders about it until the loss breaks: that is noise
    (deep tanh and GRU networks with SGD, where reading it lost 58 points).
    """
    back = np.flatnonzero(d.trend[d.best:] > d.level + d.noise / 2)
    return bool(len(back)) and bool(np.all(d.trend[d.best + int(back[0]):] >= d.level))


def _unclear(d, rules: Rules, diverged: bool, advice: str) -> Reading:
    """The suggestion of a curve without a clear descent (see :func:`suggest`)."""
    weak = f"no clear descent (it {fell(d)}, within {rules.clear:g}x its noise {d.noise:.3g})"
    broke = broke_at(d, rules, diverged)
    if broke is None:
        return Reading(math.nan, f"suggestion: the loss did not fall clearly from "
                       f"{d.lrs[0]:.3g} to {d.lrs[-1]:.3g} (it {fell(d)}, within "
                       f"{rules.clear:g}x its noise {d.noise:.3g}) and never rose: {advice}")
    # The flat part's lowest point is noise, never a reading: the evidence of such a curve
    # is where the loss moves for good, upwards (the rate is too large to train stably
    # within a few steps); the suggestion keeps a wide margin below it.
    at = float(d.lrs[broke])
    what = "breaks upwards" if broke < len(d.lrs) - 1 or not diverged else "diverged"
    reads = [(at / rules.unclear, f"the loss {what} at {at:.3g}, / {rules.unclear:g}")]
    if d.drop > WEAK * d.noise and d.best < broke and _one_shape(d):
        anchor = float(d.lrs[d.crossing(rules.depth)])
        up = float(d.lrs[turn_up(d, rules)])
        reads += [(anchor / rules.divisor, f"its weak descent at {anchor:.3g} / {rules.divisor:g}"),
                  (up / rules.margin, f"it turns up at {up:.3g}, / {rules.margin:g}")]
    lr, how = min(reads)
    return Reading(lr, f"suggestion: {how}; {weak}: weak evidence")


def suggest(lrs: ArrayLike, losses: ArrayLike, *, rules: Rules = DEFAULT_RULES,
            diverged: bool = False, advice: str | None = None,
            prior: float = math.nan) -> Reading:
    """lrlab's suggested rate: below the bottom of the loss trend, away from where it turns up.

    On the zero-phase robust trend (see :func:`~lrlab.search._readings.describe` for
    ``level``, ``best``, ``drop``, ``noise`` and when a descent is *clear*), ``anchor`` is
    the first rate where the trend has fallen ``rules.depth`` of ``drop`` (0.99: its bottom;
    adaptive rules 0.5: halfway down) and ``turn`` the first rate after the minimum where the
    trend has risen by ``rules.turn`` (5%) of ``drop`` (the last rate if it never does), and

        ``lr = min(lrs[anchor] / rules.divisor, lrs[turn] / rules.margin)``

    SGD-like rules: the bottom / 2, at most the turn / 3. Adaptive rules (:func:`rules_for`):
    halfway down / 1, at most the turn / 4: an adaptive rule's test falls late and steeply,
    and the rate that trains best for many epochs sits in the fall, where the loss falls
    fastest, not at its bottom (3-15x lower on the networks measured). So the suggestion
    keeps at least a factor 3 from where the loss turns up or the test diverged, and never
    sits next to divergence. On a task ranked by its loss :func:`~lrlab.search.range_test`
    reads an adaptive rule with :data:`~lrlab.search.LOSS_RULES`: the bottom / 2, at most
    the turn / 4 (a regression's best rate is the one that converges fastest).

    Without a clear descent the evidence is weak and the reason says so. The flat part's
    lowest point is noise and never read (on a recurrent network it sat at the first
    rate). The suggestion is where the curve breaks upwards for good (its running median
    rises ``rules.clear`` x the noise above the starting level and stays there; else, when
    the test diverged (``diverged=True``), the last rate) / ``rules.unclear`` (10: at a
    range test's usual density that point is known to a factor of 2-3 only); or, lower,
    the rule above on a weak fall (more than ``WEAK`` x the noise) that leads straight into
    that rise. A flat curve that never rose gives no rate, and the reason says what to do
    (:func:`next_step`: run the test further, unless it already was).
    A curve that fell clearly, rose above its starting level and fell again at higher rates
    is read below that rise (:func:`early_rise`): the later fall is the steps' doing.
    :func:`~lrlab.search.range_test` with ``extend=True`` (``lrlab find``) takes a second,
    zoomed look at a flat curve that broke.

    Why this shape: calibrated against oracle grids trained for the full epochs, five
    seeds, on tasks unlike the built-ins (``benchmarks/finder_quality.py``), per family on
    the shape of the curve: the bottom itself, lrlab's earlier rule, sat next to divergence
    on networks whose loss falls until it blows up, and with Adam it missed by about 2.5
    points on every seed.

    Args:
        lrs: the rates, increasing.
        losses: the raw losses.
        rules: the constants (:data:`DEFAULT_RULES`; :data:`ADAPTIVE_RULES` for Adam).
        diverged: whether the test stopped because the loss diverged.
        advice: what the why names as the next step when the curve cannot be read well
            (default: :func:`next_step` of the curve alone; a range test that ran again
            passes its own, which knows the earlier test).
        prior: the loss of predicting the classes' shares (``nan``: not known): a descent
            that does not fall clearly below it is read as flat there
            (:func:`~lrlab.search._readings.describe`).

    Returns:
        The rate and why (``nan`` under 5 points, or without a clear descent in a test that
        did not diverge; the why says what to do).

    Example:
        >>> lrs = np.geomspace(1e-5, 10.0, 61)
        >>> r = suggest(lrs, np.abs(np.log10(lrs)))   # a V, bottom at 1, turning up after
        >>> 0.2 < r.lr <= 0.5
        True

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
    """
    d = describe(lrs, losses, rules, prior)
    if advice is None:
        advice = next_step(lrs, losses, rules=rules, diverged=diverged, prior=prior)
    if d is None:
        return Reading(math.nan, f"suggestion: too few points to read the loss curve: {advice}")
    if not d.clear:
        return _unclear(d, rules, diverged, advice)
    # a curve whose later fall is not the rate's is read below the rise, early_rise first
    rises = ((early_rise, ("rose above its starting level before it fell again at higher "
                           "rates (a later fall comes from the steps taken, not from the "
                           "rate)")),
             (fell_back, ("rose past its low before it fell back to about it at higher "
                          "rates (a later fall back to the low is not the rate's)")))
    for rule, what in rises:
        cut = rule(d, rules)
        if cut is not None:
            first = suggest(d.lrs[:cut], d.raw[:cut], rules=rules, advice="")
            return Reading(first.lr, f"{first.why}; read below {float(d.lrs[cut]):.3g}, "
                           f"where the loss {what}")
    bottom = float(d.lrs[d.crossing(1.0 - rules.plateau)])
    anchor = float(d.lrs[into_bottom(d, rules)])
    name = ("its bottom" if rules.depth >= 1.0 - rules.plateau else
            f"{rules.depth:.0%} down its descent")
    turn = turn_up(d, rules)
    up = float(d.lrs[turn])
    where = "the loss turns up" if turn < len(d.lrs) - 1 else "the test ended"
    # the other landmarks in brackets: each said once
    if anchor / rules.divisor <= up / rules.margin:
        lr, how = anchor / rules.divisor, f"{name} {anchor:.3g}" + (
            f" / {rules.divisor:g}" if rules.divisor != 1 else "")
        also = ([] if name == "its bottom" and math.isclose(anchor, bottom) else
                [f"the trend reaches its bottom at {bottom:.3g}"]) + [f"{where} at {up:.3g}"]
    else:
        lr, how = up / rules.margin, f"{where} at {up:.3g}, / {rules.margin:g}"
        also = [f"the trend reaches its bottom at {bottom:.3g}"]
    if rules.reach:
        half = float(d.lrs[into_bottom(d, replace(rules, depth=0.5))])
        if half * rules.reach < lr:
            lr, how = half * rules.reach, f"50% down its descent {half:.3g}, x {rules.reach:g}"
            also = [f"the trend reaches its bottom at {bottom:.3g}", f"{where} at {up:.3g}"]
    return Reading(lr, f"suggestion: {how} ({', '.join(also)})"
                   + (f"; {advice}" if advice else ""))


#: The popular tools' rules, by name, for :meth:`RangeTestResult.suggestions`.
COMPARISONS: dict[str, Callable[..., Reading]] = {
    "valley": valley, "steepest": steepest, "min_div10": min_div10,
}
