"""Leslie Smith's readings of a range-test curve: ``min_lr``, ``max_lr``, the start rate, a cycle.

Smith (2017) trains while the rate rises and plots accuracy (or loss) against the rate: where
the curve *starts to improve* is a good minimum rate; where it *starts to get worse, plateau
or turn ragged* is the maximum that still converges and a good initial rate; 1/3 to 1/4 of
that maximum is a good lower bound for cyclical or decaying schedules.

lrlab reads those words off the zero-phase :func:`~lrlab.search.trend` of the curve, with
the constants of :class:`Rules` (the defaults are :data:`DEFAULT_RULES`):

* the *improvement* is ``drop = level - trend[best]``: ``best`` is the trend's minimum,
  ``level`` the median of the first tenth of the raw curve (at least ``2h + 1`` points);
  the descent is searched from ``top``, the last point before ``best`` where the trend is
  still at ``level``; it is *clear* when ``drop > clear * noise``, ``noise`` being
  1.4826 x the MAD of ``raw - trend`` up to ``best``;
* ``min_lr``: the first rate after ``top`` where the trend has improved by ``improve`` (10%)
  of ``drop``;
* ``max_lr``: the first rate where the trend is within ``plateau`` (1%) of ``drop`` of its
  best, or earlier the first rate from ``min_lr`` on where the curve turns ragged: its local
  noise (MAD in a window of half-width ``h``) exceeds both ``ragged`` (4) x the median local
  noise up to ``best`` and ``ragged_floor`` (10%) of ``drop``;
* ``recommended = max_lr``; ``cycle = (max_lr / 3, max_lr)``.

Without a clear improvement (or with fewer than 5 points) every reading is ``nan`` and its
``why`` says so, and names the next step it is given (``advice``: the curve alone cannot
say whether a wider range would help; :class:`~lrlab.search.RangeTestResult` passes
:func:`~lrlab.search.next_step` of its test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from lrlab._errors import LrlabError
from lrlab.search._smooth import Array, half_width, local_noise, noise_level, trend

__all__ = [
    "ADAPTIVE_RULES",
    "BOUNDED_RULES",
    "DEFAULT_RULES",
    "LOSS_RULES",
    "MIN_POINTS",
    "CycleRange",
    "Descent",
    "Reading",
    "Rules",
    "SmithReadings",
    "check_curve",
    "describe",
    "rules_for",
    "smith_readings",
]

#: Fewer recorded points than this give ``nan`` readings.
MIN_POINTS = 5

#: A curve's noise is taken as at least this fraction of its starting level.
NOISE_FLOOR = 1e-3


class Reading(NamedTuple):
    """One reading of a range test: a rate and a one-line reason (``lr`` is nan if none)."""

    lr: float
    why: str


class CycleRange(NamedTuple):
    """A range for cyclical / one-cycle schedules: ``lower .. upper`` and why."""

    lower: float
    upper: float
    why: str


@dataclass(frozen=True)
class Rules:
    """The constants behind lrlab's readings (see the module docstring and :func:`suggest`).

    Attributes:
        window: trend half-width as a fraction of the number of points.
        clear: an improvement counts when it exceeds ``clear`` x the noise.
        improve: ``min_lr`` is where the trend has improved by this fraction of its total.
        plateau: ``max_lr`` is where the trend is within this fraction of its best.
        ragged: a local-noise jump of this factor over its earlier median marks ragged-ness,
        ragged_floor: ... provided the local noise also exceeds this fraction of the drop.
        depth: lrlab's suggestion is anchored where the trend has fallen this fraction of
            its drop (0.99: the bottom; adaptive rules 0.5: halfway down, where it falls
            fastest) ...
        divisor: ... and is at most that rate / ``divisor``,
        turn: ... and at most the rate where the trend has turned up by ``turn`` of the drop
            above its minimum (else the last rate) / ``margin``,
        margin: ... (see :func:`~lrlab.search.suggest`);
        reach: ... and, when above 0, at most ``reach`` x the rate halfway down the descent
            (:data:`LOSS_RULES`: a bottom read far above where the loss fell fastest);
        unclear: without a clear descent, where the curve breaks upwards / ``unclear``;
        flat: ... and where a zoomed second test that stayed flat broke / ``flat``
            (:func:`~lrlab.search.range_test`, ``extend=True``).
        place: :func:`~lrlab.search.auto` centres its race at the trend's bottom x ``place``.
        rebound: a clear curve whose trend rose this many noise units above its low, then
            fell back at higher rates to about that low (by less than it rose), is read
            below that rise (:func:`~lrlab.search._suggest.fell_back`; 0: never).
        cycle_divisor: the cycle's lower bound is ``max_lr / cycle_divisor``.
    """

    window: float = 0.05
    clear: float = 3.0
    improve: float = 0.10
    plateau: float = 0.01
    ragged: float = 4.0
    ragged_floor: float = 0.1
    depth: float = 0.99
    divisor: float = 2.0
    turn: float = 0.05
    margin: float = 3.0
    reach: float = 0.0
    unclear: float = 10.0
    flat: float = 4.0
    place: float = 1.0
    rebound: float = 3.0
    cycle_divisor: float = 3.0

    def __post_init__(self) -> None:
        checks = [
            (0 < self.window <= 0.5, "window must lie in (0, 0.5]"),
            (self.clear >= 0, "clear must be >= 0"),
            (0 < self.improve < 1 and 0 <= self.plateau < 1, "improve and plateau must be in (0, 1)"),
            (self.ragged > 1 and self.ragged_floor >= 0, "ragged must be > 1, ragged_floor >= 0"),
            (self.divisor >= 1 and self.cycle_divisor >= 1, "divisor, cycle_divisor must be >= 1"),
            (self.margin >= 1 and self.unclear >= 1 and self.flat >= 1 and 0 < self.turn < 1,
             "margin, unclear and flat must be >= 1, turn in (0, 1)"),
            (self.reach == 0 or self.reach >= 1, "reach must be 0 (no bound) or >= 1"),
            (0 < self.depth < 1 and self.place > 0, "depth must be in (0, 1), place > 0"),
            (self.rebound >= 0, "rebound must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise LrlabError(f"bad Rules: {message}")


DEFAULT_RULES = Rules()

#: The rules for adaptive update rules (Adam and its kin). Their range test falls late and
#: steeply and the rate that trains best for many epochs sits in the fall, not at its bottom:
#: the suggestion is the rate halfway down the descent (``depth`` 0.5), at most a quarter of
#: where the trend turns up. Calibrated on the shapes of 35 Adam range tests (7 networks x 5
#: seeds, ``benchmarks/finder_quality.py``): anchors halfway down with divisors 0.8-1.2 all
#: kept every run within 1.6 points of the Adam oracle, while the bottom / 6 lost up to 6.
#: ``auto`` centres its race at the bottom / 3 (``place``); a flat zoomed test keeps one
#: step more margin than a clear curve's turn-up (``flat`` 5), as SGD's (3 -> 4).
ADAPTIVE_RULES = Rules(depth=0.5, divisor=1.0, margin=4.0, flat=5.0, place=1 / 3, rebound=0.0)

#: The rules for adaptive update rules on a task ranked by its loss (a regression: what
#: :func:`~lrlab.search.range_test` reads there): the bottom of the descent / 2, at most a
#: quarter of where the trend turns up and at most four times the rate halfway down. A loss
#: keeps falling through a training, so the rate that ends lowest is the one that converges
#: fastest, and on a regression it sits near the bottom of an Adam test, not halfway down
#: (SIREN, Friedman, a residual MLP, a noisy linear target: the grid's best 0.1-3x the
#: bottom, halfway down 3-50x below it); a bottom more than eight times above halfway is a
#: slow fall the steps made (a triplet loss bottoms at Adam rates of 1-2, best 0.005-0.01; a
#: GPT-like model under AdamW read 10x halfway, 0.0586, above every seed's best, 38.8% more
#: validation loss, where 4x reads 0.0234, -3.4%, and the three rates the warning names
#: then hold the best; the tables' regressions read the same, a few new-user ones lower:
#: a residual MLP's seed 2 4.2 -> 6.4%).
LOSS_RULES = Rules(depth=0.99, divisor=2.0, margin=4.0, reach=4.0, flat=5.0, place=1 / 3,
                   rebound=0.0)

#: The rules :func:`~lrlab.search.range_test` (``extend=True``) reads an SGD-like rule's test
#: with when the loss never blew up: run on to 1000x its end, it fell clearly and reached
#: that end without diverging (a bounded loss: a sigmoid's outputs under MSE). Such a loss
#: falls to a floor and keeps it for decades, its trend wandering within the floor's scatter,
#: so the first rate within 1% of its lowest point is noise, and no blow-up gives an edge to
#: keep a margin from: the descent is read halfway down, where it falls fastest, as an
#: adaptive rule's. A weight-tied sigmoid autoencoder (SGD, MSE) floors from about 100 to
#: 1e4; its bottom / 2 read 179-376 where 21.5-100 train best (85-310% more validation
#: loss), halfway down its fall 56-68.
BOUNDED_RULES = Rules(depth=0.5, divisor=1.0)

#: Update rules (lrlab's names) whose step is scaled per parameter.
ADAPTIVE = ("adam", "adamw", "adam_hd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam",
            "radam", "lion")

#: Parts of other packages' optimizer class names that mark a per-parameter scaled step
#: (bitsandbytes' AdamW8bit and PagedAdamW, apex's FusedAdam, Hugging Face's Adafactor, ...).
ADAPTIVE_NAMES = ("adam", "adafactor", "lion", "rmsprop", "adagrad", "adadelta")

#: Hyperparameters only such rules take (Adam's ``betas``; Adafactor's ``beta1`` and
#: ``decay_rate``), read from a torch optimizer's ``defaults`` whatever its class is named.
ADAPTIVE_KEYS = ("betas", "beta1", "beta2", "decay_rate")


def rules_for(optimizer: object) -> Rules:
    """The readings' rules for an update rule: :data:`ADAPTIVE_RULES` for Adam and its kin
    (a name, a torch optimizer or an lrlab one; another package's optimizer by its class
    name, :data:`ADAPTIVE_NAMES`, or its hyperparameters, :data:`ADAPTIVE_KEYS`), else
    :data:`DEFAULT_RULES`.

    Example:
        >>> rules_for("adam").depth, rules_for("sgd").depth
        (0.5, 0.99)
    """
    name = optimizer if isinstance(optimizer, str) else getattr(
        getattr(optimizer, "rule", None), "name", None)
    if name is not None:
        return ADAPTIVE_RULES if str(name).lower() in ADAPTIVE else DEFAULT_RULES
    named = type(optimizer).__name__.lower()
    defaults = getattr(optimizer, "defaults", None)
    adaptive = (named in ADAPTIVE or any(part in named for part in ADAPTIVE_NAMES)
                or (isinstance(defaults, dict) and any(k in defaults for k in ADAPTIVE_KEYS)))
    return ADAPTIVE_RULES if adaptive else DEFAULT_RULES


#: lrlab's rules whose ``momentum`` is a heavy-ball buffer, ``b = m b + g``, ``p -= lr b``:
#: once built up a step moves ``lr / (1 - m)``. (``sf_sgd``'s is schedule-free's
#: interpolation of two iterates, no sum of steps; ``rmsprop``'s and ``delta_bar_delta``'s
#: ride an adaptive step, read by :data:`ADAPTIVE_RULES`.)
HEAVY_BALL = ("momentum", "nesterov")


def heavy_ball(optimizer: object, hparams: Mapping[str, float] | None = None) -> float:
    """The heavy-ball momentum ``m`` of an update rule, 0 for none: the factor
    ``1 / (1 - m)`` by which a step outruns the rate once the buffer has built up, which the
    advice on a test's suggestion scales its lowest rate by
    (:func:`~lrlab.search._result.rates_to_try`).

    ``optimizer`` is one of lrlab's rule names (with its ``hparams``), an lrlab optimizer,
    or any torch optimizer, read from its first param group. Read only for an SGD-like rule
    (:func:`rules_for`: :data:`DEFAULT_RULES`) whose group keeps a ``momentum``: lrlab's
    :data:`HEAVY_BALL` rules, ``torch.optim.SGD`` (with ``dampening`` ``d`` its buffer adds
    ``(1 - d) g``, the heavy ball of ``(m - d) / (1 - d)``) and another package's SGD
    (LARS, SGDW, ...). An adaptive rule gives 0: Adam's ``betas[0]`` (and Lion's) averages
    the gradients (the debiased average's weights sum to 1, so a step moves about the rate
    whatever ``beta1``), and what the test's advice should be under RMSprop's momentum is
    unmeasured; so does a schedule-free optimizer, whose ``momentum`` interpolates.

    Example:
        >>> heavy_ball("nesterov"), heavy_ball("momentum", {"momentum": 0.5}), heavy_ball("adam")
        (0.9, 0.5, 0.0)
        >>> import torch
        >>> w = [torch.zeros(1, requires_grad=True)]
        >>> heavy_ball(torch.optim.SGD(w, lr=0.1, momentum=0.9, dampening=0.5))
        0.8
        >>> heavy_ball(torch.optim.Adam(w, betas=(0.9, 0.999)))
        0.0
    """
    if isinstance(optimizer, str):
        if optimizer not in HEAVY_BALL:
            return 0.0
        from lrlab.optim import RULES

        return float({**RULES[optimizer].defaults, **dict(hparams or {})}["momentum"])
    name = getattr(getattr(optimizer, "rule", None), "name", None)
    if name is not None:  # lrlab's optimizer: by its rule
        return heavy_ball(str(name), optimizer.param_groups[0]) if str(name) in HEAVY_BALL \
            else 0.0
    groups = getattr(optimizer, "param_groups", None)
    if (not groups or rules_for(optimizer) is not DEFAULT_RULES
            or "schedulefree" in type(optimizer).__name__.lower()):
        return 0.0
    m, d = (groups[0].get(key, 0.0) for key in ("momentum", "dampening"))
    try:
        m, d = float(m or 0.0), float(d or 0.0)
    except (TypeError, ValueError):  # not a number: no momentum lrlab can read
        return 0.0
    return max(0.0, (m - d) / (1 - d)) if 0 <= m < 1 and 0 <= d < 1 else 0.0


def check_curve(lrs: ArrayLike, values: ArrayLike, what: str = "losses") -> tuple[Array, Array]:
    """Validate a curve: float64 1-D arrays of equal length, rates positive and increasing.

    Raises:
        LrlabError: on unequal lengths, non-finite values, or rates that are not positive
            and strictly increasing.
    """
    x = np.asarray(lrs, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(x) != len(y):
        raise LrlabError(f"lrs has {len(x)} points but {what} has {len(y)}: pass equal lengths")
    if not np.all(np.isfinite(y)):
        raise LrlabError(f"{what} holds nan or inf: drop those points before reading the curve")
    if not (np.all(np.isfinite(x)) and np.all(x > 0) and np.all(np.diff(x) > 0)):
        raise LrlabError("lrs must be finite, positive and strictly increasing: pass the test's lrs")
    return x, y


@dataclass(frozen=True)
class Descent:
    """The shape of a lower-is-better curve: trend, start level, top, best, drop and noise."""

    lrs: Array
    raw: Array
    trend: Array
    level: float
    head: int
    top: int
    best: int
    drop: float
    noise: float
    clear: bool
    prior: float = math.nan

    def crossing(self, fraction: float) -> int:
        """First index in ``[top, best]`` where ``trend <= level - fraction * drop``."""
        goal = self.level - fraction * self.drop
        return self.top + int(np.argmax(self.trend[self.top: self.best + 1] <= goal))


def describe(lrs: ArrayLike, values: ArrayLike, rules: Rules = DEFAULT_RULES,
             prior: float = math.nan) -> Descent | None:
    """Trend, start level, top, best, drop and noise of a lower-is-better curve.

    ``best = argmin(trend)``; ``level`` = median of the raw curve over its first
    ``m = max(2h + 1, n // 10)`` points (at most up to ``best``): the level it starts from;
    ``top`` = the last index before ``best`` where the trend is still at or above ``level``
    (0 if none), so a noisy start or an early bump is passed over; ``drop = level - trend[best]``;
    ``noise`` = 1.4826 x MAD of ``raw - trend`` up to ``best``, and over at least the first
    ``m`` points (at least ``NOISE_FLOOR`` x ``|level|``). The descent is *clear* when ``drop > clear x noise`` and the trend stays
    below ``level - clear x noise`` for more than ``h`` points (the trend's half-width).
    Returns None under 5 points.

    ``prior``: the loss of a model that predicts only its classes' shares (a classifier's
    :func:`~lrlab.search._task_range.prior_loss`; ``nan``: none known). A clear descent
    whose trend does not fall ``clear`` x the noise below it learned those shares, not the
    inputs: it is read as a flat curve at that level (``level = prior``, ``clear`` False,
    :attr:`Descent.prior` set). A ConvNeXt whose layer-scaled blocks start as identities
    (MNIST, AdamW) fell from 2.51 to ln 10 = 2.30 in a 100-step test and sat there; halfway
    down that "descent", 0.000628, lost 54 points to the rates that train (0.01-0.05), which
    a denser test below the loss's break shows falling to 1.2.

    Why these guards: a descent is real only when the loss falls by clearly more than the
    curve's own noise, over a stretch the trend cannot draw from a few noisy points. A
    flat curve whose trend is lowest at its first points once had its noise measured over
    those one or two points (zero), so any wobble read as a "clear descent" at 1e-7 (deep
    tanh and GRU networks with SGD: 40-60 points lost).
    """
    x, y = check_curve(lrs, values, "values")
    n = len(y)
    if n < MIN_POINTS:
        return None
    tr = trend(y, window=rules.window)
    best = int(np.argmin(tr))
    m = max(2 * half_width(n, rules.window) + 1, n // 10)
    level = float(np.median(y[: min(m, best + 1)]))
    above = np.nonzero(tr[: best + 1] >= level)[0]
    top = int(above[-1]) if len(above) else 0
    drop = level - float(tr[best])
    k = max(best + 1, m)  # the noise of at least the first stretch, never of a point or two
    # ... and at least 0.1% of the level: a curve that does not move at all (the validation
    # accuracy of a network that learns nothing is the same at every step) has zero noise,
    # and a rise by less than one validation example read as clear.
    noise = max(noise_level(y[:k] - tr[:k]), NOISE_FLOOR * abs(level))
    deep = int(np.count_nonzero(tr[top:] < level - rules.clear * noise))  # sustained, not a dip
    clear = drop > 0 and drop > rules.clear * noise and deep > half_width(n, rules.window)
    if clear and tr[best] > prior - rules.clear * noise:
        # fell only to the loss of predicting the classes' shares: flat from there
        above = np.nonzero(tr[: best + 1] >= prior)[0]
        return Descent(x, y, tr, prior, m, int(above[-1]) if len(above) else 0, best,
                       prior - float(tr[best]), noise, False, prior)
    return Descent(x, y, tr, level, m, top, best, drop, noise, clear)


def first_ragged(d: Descent, rules: Rules, start: int) -> int | None:
    """First index in ``[start, best)`` where the curve's local noise jumps (see module doc)."""
    h = half_width(len(d.raw), rules.window)
    local = local_noise(d.raw[: d.best + 1] - d.trend[: d.best + 1], h)
    limit = max(rules.ragged * float(np.median(local)), rules.ragged_floor * d.drop)
    hits = np.nonzero(local[start: d.best] > limit)[0]
    return start + int(hits[0]) if len(hits) else None


class SmithReadings(NamedTuple):
    """Smith's four readings of one curve."""

    min_lr: Reading
    max_lr: Reading
    recommended: Reading
    cycle: CycleRange


def _unreadable(why: str, advice: str) -> SmithReadings:
    nan = math.nan
    why += f"; {advice}" if advice else ""
    return SmithReadings(Reading(nan, why), Reading(nan, why), Reading(nan, why),
                         CycleRange(nan, nan, why))


def smith_readings(lrs: ArrayLike, values: ArrayLike, *, higher_is_better: bool = False,
                   what: str = "loss", rules: Rules = DEFAULT_RULES,
                   advice: str = "") -> SmithReadings:
    """Smith's ``min_lr``, ``max_lr``, recommended start rate and cycle of one curve.

    Rules (constants from ``rules``): ``min_lr`` = first rate where the trend has improved
    by ``improve`` of its total improvement; ``max_lr`` = first rate within ``plateau`` of the
    best, or earlier where the curve turns ragged; ``recommended = max_lr``;
    ``cycle = (max_lr / cycle_divisor, max_lr)``.

    Args:
        lrs: the rates, increasing.
        values: the curve at those rates (a loss, or an accuracy with ``higher_is_better``).
        higher_is_better: read an accuracy-like curve.
        what: the curve's name, for the explanations.
        rules: the constants.
        advice: the next step to name when the curve cannot be read (none by default).

    Returns:
        :class:`SmithReadings`; all ``nan`` (with the reason and ``advice``) when the curve
        is unreadable.

    Example:
        >>> lrs = np.geomspace(1e-4, 1.0, 60)
        >>> r = smith_readings(lrs, np.log10(lrs) ** 2)
        >>> 0.3 < r.max_lr.lr <= 1.0
        True

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks", sec. 3.3.
    """
    sign = -1.0 if higher_is_better else 1.0
    d = describe(lrs, sign * np.asarray(values, dtype=np.float64), rules)
    if d is None:
        return _unreadable(f"too few points (under {MIN_POINTS}) to read the {what} curve",
                           advice)
    verb, noun = ("risen", "rise") if higher_is_better else ("fallen", "drop")
    if not d.clear:
        how = (f"no clear {noun} in the {what}: {d.drop:.3g} is within {rules.clear:g}x its "
               f"noise {d.noise:.3g}" if d.drop > 0 else
               f"no {noun} at all in the {what} (its noise: {d.noise:.3g})")
        return _unreadable(how, advice)
    lo = d.crossing(rules.improve)
    min_lr = Reading(float(d.lrs[lo]), f"the {what} trend has {verb} {rules.improve:.0%} of its "
                     f"total {noun} ({d.drop:.3g}) here: it starts to improve")
    hi = d.crossing(1.0 - rules.plateau)
    why = (f"the {what} trend comes within {rules.plateau:.0%} of its best "
           f"(at {d.lrs[d.best]:.3g}) here: it stops improving")
    ragged = first_ragged(d, rules, lo)
    if ragged is not None and ragged < hi:
        hi, why = ragged, f"the {what} turns ragged here (local noise > {rules.ragged:g}x before)"
    top = float(d.lrs[hi])
    max_lr = Reading(top, why)
    recommended = Reading(top, "= max_lr: the largest rate that still converges, a good start")
    k = rules.cycle_divisor
    cycle = CycleRange(top / k, top, f"lower = max_lr / {k:g} (Smith: 1/3 to 1/4 of max_lr; "
                       f"max_lr / 4 = {top / 4:.3g}), upper = max_lr")
    return SmithReadings(min_lr, max_lr, recommended, cycle)
