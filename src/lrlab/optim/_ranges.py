"""The valid range of every hyperparameter, by name, checked before any training.

torch.optim refuses out-of-range values (a momentum of -3, ``beta1 = 1``); without the same
check a sweep would train, diverge, and advise smaller rates. One table serves every rule,
since a name means the same thing in each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from lrlab._errors import LrlabError

__all__ = ["RANGES", "check_ranges"]

#: name -> (low, high, low included, high included, as written in messages)
RANGES: dict[str, tuple[float, float, bool, bool, str]] = {
    "momentum": (0.0, 1.0, True, False, "[0, 1)"),
    "beta1": (0.0, 1.0, True, False, "[0, 1)"),
    "beta2": (0.0, 1.0, True, False, "[0, 1)"),
    "alpha": (0.0, 1.0, True, True, "[0, 1]"),
    "theta": (0.0, 1.0, True, False, "[0, 1)"),
    "phi": (0.0, 1.0, False, True, "(0, 1]"),
    "eta_minus": (0.0, 1.0, False, False, "(0, 1)"),
    "eta_plus": (1.0, math.inf, False, False, "(1, inf)"),
    "eps": (0.0, math.inf, True, False, ">= 0"),
    "weight_decay": (0.0, math.inf, True, False, ">= 0"),
    "lr_decay": (0.0, math.inf, True, False, ">= 0"),
    "kappa": (0.0, math.inf, True, False, ">= 0"),
    "beta": (0.0, math.inf, True, False, ">= 0"),
    "step_min": (0.0, math.inf, True, False, ">= 0"),
    "step_max": (0.0, math.inf, False, False, "> 0"),
    "gain_min": (0.0, math.inf, False, False, "> 0"),
    "gain_max": (0.0, math.inf, False, False, "> 0"),
    "d0": (0.0, math.inf, False, False, "> 0"),
    "d_coef": (0.0, math.inf, False, False, "> 0"),
    "reps_rel": (0.0, math.inf, False, False, "> 0"),
    "r": (0.0, math.inf, True, False, ">= 0"),
    "weight_lr_power": (0.0, math.inf, True, False, ">= 0"),
}


def _inside(v: float, lo: float, hi: float, lo_in: bool, hi_in: bool) -> bool:
    return (v > lo or (lo_in and v == lo)) and (v < hi or (hi_in and v == hi))


def check_ranges(rule: str, values: Mapping[str, float | Sequence[float]]) -> None:
    """Raise one :class:`LrlabError` line for the first value outside its range, naming
    the setting as it is given (``momentum=1.5``) and then the rule: a rule may share its
    hyperparameter's name (``momentum``), and a prefix of the rule read as a doubled word.

    Example:
        >>> check_ranges("momentum", {"momentum": 0.9})
        >>> try:
        ...     check_ranges("momentum", {"momentum": 1.5})
        ... except LrlabError as err:
        ...     print(err)
        momentum=1.5 must be in [0, 1) for the update rule momentum
    """
    for name, value in values.items():
        spec = RANGES.get(name)
        for v in (value if isinstance(value, Sequence) else [value]):
            v = float(v)
            if not math.isfinite(v):
                raise LrlabError(f"{name}={v:g} must be finite for the update rule {rule}")
            if spec is not None and not _inside(v, *spec[:4]):
                where = f"in {spec[4]}" if spec[4][0] in "[(" else spec[4]
                raise LrlabError(f"{name}={v:g} must be {where} for the update rule {rule}")
    lo, hi = values.get("gain_min"), values.get("gain_max")
    if lo is not None and hi is not None:
        pairs = zip(lo, hi) if isinstance(lo, Sequence) else [(lo, hi)]
        for a, b in pairs:
            if not float(a) < float(b):
                raise LrlabError(f"gain_min={a:g} must be below gain_max={b:g} for the update "
                                 f"rule {rule}")
