"""How far a validation score must beat chance to count: the noise of one score.

For a share (accuracy, error, AUC) on ``n`` examples the binomial standard error
``sqrt(p (1 - p) / n)``, with ``p`` clipped to ``[0.02, 0.98]`` (a share at 0 or 1 is not
known to be exact); for a loss, ``|s| / sqrt(n)`` (a mean loss's standard error is a multiple
of its size over ``sqrt(n)``). A score *learned* when it beats chance by more than
:data:`LEARNED` such units: the searches' rule and the sweep verdict's.
"""

from __future__ import annotations

import math

__all__ = ["LEARNED", "score_noise"]

#: A score learned when it beats chance by this many noise units.
LEARNED = 2.0

_SHARES = ("accuracy", "error", "auc")


def score_noise(score: float, monitor: str, n: int) -> float:
    """The noise of one validation ``monitor`` score ``score`` on ``n`` examples.

    Example:
        >>> round(score_noise(0.5, "accuracy", 100), 3), round(score_noise(0.2, "loss", 400), 3)
        (0.05, 0.01)
    """
    if not math.isfinite(score):
        return math.inf
    if monitor in _SHARES:
        p = min(max(score, 0.02), 0.98)
        return math.sqrt(p * (1 - p) / n)
    return abs(score) / math.sqrt(n)
