"""A claim of the brief, what a run measured, and the verdict its thresholds give.

Every verdict is a pure function of a run's records: an experiment's ``judge`` reads the
numbers from the records, compares them with thresholds that are either constants of the
experiment (a field of its ``Thresholds``, stated in the claim's ``rule``) or margins
computed from the run itself (``z`` standard errors of the seed-to-seed spread), and
returns one :class:`Claim` per claim of the brief. Nothing is decided in advance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["VERDICTS", "Claim", "Verdict", "claims_frame", "graded", "margin", "mean_se"]

Verdict = Literal["holds", "partly", "does not hold", "not run"]

#: The verdicts, strongest first; "not run" when a claim could not be measured here
#: (e.g. Keras is not installed).
VERDICTS: tuple[Verdict, ...] = ("holds", "partly", "does not hold", "not run")


@dataclass(frozen=True)
class Claim:
    """One row of a verdict table.

    Attributes:
        claim: the brief's claim, in its words.
        measured: what the run measured, with its numbers.
        verdict: ``holds``, ``partly``, ``does not hold`` (or ``not run``).
        rule: the thresholds that turned the numbers into the verdict.
        values: the numbers behind ``measured``, by name (for tests and the claims file).
    """

    claim: str
    measured: str
    verdict: Verdict
    rule: str
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def graded(full: bool, part: bool) -> Verdict:
    """``holds`` when ``full``, else ``partly`` when ``part``, else ``does not hold``."""
    if full:
        return "holds"
    return "partly" if part else "does not hold"


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """The mean of the finite ``values`` and its standard error (``0`` for one value,
    ``nan`` mean for none): ``se = std(ddof=1) / sqrt(n)``.

    Example:
        >>> mean_se([1.0, 3.0])
        (2.0, 1.0)
    """
    v = np.asarray(list(values), dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan
    if len(v) == 1:
        return float(v[0]), 0.0
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


def margin(ses: Sequence[float], z: float, floor: float) -> float:
    """The smallest difference that counts: ``max(floor, z * sqrt(sum(se**2)))``.

    ``ses`` are the standard errors of the means being compared (from the run's seeds);
    ``floor`` keeps a run with one seed (``se = 0``) from calling any difference real.
    """
    spread = math.sqrt(sum(s * s for s in ses if math.isfinite(s)))
    return max(floor, z * spread)


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    """The verdict table as a DataFrame: claim, measured, verdict, rule."""
    return pd.DataFrame({"claim": [c.claim for c in claims],
                         "measured": [c.measured for c in claims],
                         "verdict": [c.verdict for c in claims],
                         "rule": [c.rule for c in claims]})
