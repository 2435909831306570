"""Smoothing a range-test curve: the tools' causal EMA and lrlab's zero-phase robust trend.

Two smoothers, for two jobs:

* :func:`ema` is the debiased exponential moving average every popular range-test tool
  records (and :func:`~lrlab.search.find_lr` uses for its divergence stop). It is causal,
  so it lags: on a rising-rate curve its minimum sits a little to the right of the raw one.
* :func:`trend` is what lrlab's own readings look at: a running median (robust to single
  spiky batches), clipped at the highest level before the best point (so a divergence
  blow-up cannot drag its neighbours up), then a centred local-linear fit with tricube
  weights (zero phase: no lag, no bias at the ends for a straight trend).

All work in index space, which is log-rate space for ``mode="exp"``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lrlab._errors import LrlabError

__all__ = ["ema", "ema_step", "half_width", "local_noise", "noise_level", "running_median",
           "trend"]

Array = NDArray[np.float64]

#: 1.4826 x the median absolute deviation estimates a Gaussian standard deviation.
MAD_TO_STD = 1.4826


def ema_step(avg: float, value: float, t: int, smooth: float) -> tuple[float, float]:
    """One step of the debiased exponential moving average.

    ``avg_t = smooth * avg_{t-1} + (1 - smooth) * value_t`` (``avg_{-1} = 0``) and
    ``smoothed_t = avg_t / (1 - smooth**(t + 1))``.

    Args:
        avg: the running average before this step (0.0 before the first).
        value: this step's value.
        t: this step's index, from 0.
        smooth: the decay ``beta`` in ``[0, 1)``.

    Returns:
        ``(avg_t, smoothed_t)``.
    """
    avg = smooth * avg + (1.0 - smooth) * value
    return avg, avg / (1.0 - smooth ** (t + 1))


def ema(values: ArrayLike, smooth: float = 0.98) -> Array:
    """Debiased exponential moving average of a curve (float64).

    ``avg_t = smooth * avg_{t-1} + (1 - smooth) * x_t``; ``s_t = avg_t / (1 - smooth**(t+1))``,
    so ``s_0 = x_0`` and ``smooth = 0`` returns the curve unchanged.

    Args:
        values: the raw curve.
        smooth: the decay ``beta`` in ``[0, 1)``; 0.98 as in fastai's range test.

    Returns:
        The smoothed curve, same length.

    Example:
        >>> ema([1.0, 0.0], smooth=0.5).tolist()
        [1.0, 0.3333333333333333]

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
    """
    if not (0.0 <= smooth < 1.0):
        raise LrlabError(f"smooth={smooth!r} must lie in [0, 1): use e.g. 0.98, or 0 for none")
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.empty_like(x)
    avg = 0.0
    for t, value in enumerate(x):
        avg, out[t] = ema_step(avg, float(value), t, smooth)
    return out


def half_width(n: int, window: float) -> int:
    """The smoothing half-width in points: ``max(2, round(window * n))``."""
    return max(2, round(window * n))


def running_median(x: Array, k: int) -> Array:
    """Median over ``[i - j, i + j]``, ``j = min(k, i, n - 1 - i)`` (symmetric at the ends)."""
    n = len(x)
    half = [min(k, i, n - 1 - i) for i in range(n)]
    return np.array([np.median(x[i - j: i + j + 1]) for i, j in enumerate(half)])


def _local_linear(y: Array, h: int) -> Array:
    """Centred weighted straight-line fit at each point, tricube weights of half-width ``h``.

    ``w(d) = (1 - (|d| / (h + 1))**3)**3`` for ``|d| <= h``; the fitted line's value at ``d = 0``.
    """
    n = len(y)
    out = np.empty(n)
    for i in range(n):
        lo, hi = max(0, i - h), min(n, i + h + 1)
        d = np.arange(lo, hi, dtype=np.float64) - i
        w = (1.0 - (np.abs(d) / (h + 1)) ** 3) ** 3
        sw, sd, sdd = w.sum(), (w * d).sum(), (w * d * d).sum()
        sy, sdy = (w * y[lo:hi]).sum(), (w * d * y[lo:hi]).sum()
        det = sw * sdd - sd * sd
        out[i] = (sdd * sy - sd * sdy) / det if det > 1e-12 * sw * sw else sy / sw
    return out


def trend(values: ArrayLike, *, window: float = 0.05) -> Array:
    """lrlab's zero-phase robust trend of a range-test curve (lower is better).

    Steps: running median of half-width ``max(1, h // 2)``; clip at ``max(median[:argmin + 1])``
    (the highest level before the best point), at least the median of the first ``2h + 1``
    raw points; local-linear fit with tricube weights of
    half-width ``h = max(2, round(window * n))``.

    Args:
        values: the raw curve (for accuracy, pass its negative).
        window: the half-width as a fraction of the number of points.

    Returns:
        The trend, same length (a copy of the curve when it has fewer than 5 points).

    Example:
        >>> bool(np.allclose(trend(np.linspace(3.0, 1.0, 40)), np.linspace(3.0, 1.0, 40)))
        True
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(x) < 5:
        return x.copy()
    h = half_width(len(x), window)
    med = running_median(x, max(1, h // 2))
    # the clip stops a blow-up after the best point from dragging its neighbours up; it is
    # never below the first stretch's level (a minimum among the first points would clip a
    # flat curve everywhere to that low start, and read it as one long descent)
    cap = max(med[: int(np.argmin(med)) + 1].max(), float(np.median(x[: 2 * h + 1])))
    return _local_linear(np.minimum(med, cap), h)


def noise_level(residual: ArrayLike) -> float:
    """Robust noise of a residual: ``1.4826 * median(|r - median(r)|)``."""
    r = np.asarray(residual, dtype=np.float64).reshape(-1)
    if len(r) == 0:
        return 0.0
    return float(MAD_TO_STD * np.median(np.abs(r - np.median(r))))


def local_noise(residual: ArrayLike, h: int) -> Array:
    """Robust noise in a centred window of half-width ``h``: :func:`noise_level` per point."""
    r = np.asarray(residual, dtype=np.float64).reshape(-1)
    n = len(r)
    return np.array([noise_level(r[max(0, i - h): min(n, i + h + 1)]) for i in range(n)])
