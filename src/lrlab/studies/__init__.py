"""Studies of today's learning-rate practice, one function (and one command) each.

* :func:`cooldown`: warmup-stable-decay's cooldown sweep, the stable phase trained once and
  forked into K cooldowns as one population (``lrlab cooldown``), with the literature's
  claims judged from the records.

* :func:`race`: update rules racing in one population, tuned SGD or Adam against the
  learning-rate-free rules (``lrlab race``), each member with its own rule.

* :func:`scaling`: the best rate per batch size, a fitted exponent against the linear and
  square-root rules (``lrlab scaling``).

* :func:`width`: the rate against the width under the standard parametrisation and muP,
  the optimum's drift and a coordinate check (``lrlab width``).

Each returns a result object with ``table()``, ``claims()`` (:class:`lrlab.reproduce.Claim`
rows), ``verdict()``, ``save(out)`` / ``load(out)`` and ``write_report(path)``.
"""

from lrlab.studies._cooldown import CooldownResult, cooldown, plot_cooldown
from lrlab.studies._race import FREE, RaceResult, parse_entry, race
from lrlab.studies._scaling import ScalingResult, optimum, plot_scaling, scaling
from lrlab.studies._width import (
    WidthResult,
    coordinate_check,
    mup_multipliers,
    plot_width,
    width,
    width_mlp,
)

__all__ = [
    "FREE",
    "CooldownResult",
    "RaceResult",
    "ScalingResult",
    "WidthResult",
    "cooldown",
    "coordinate_check",
    "mup_multipliers",
    "optimum",
    "parse_entry",
    "plot_cooldown",
    "plot_scaling",
    "plot_width",
    "race",
    "scaling",
    "width",
    "width_mlp",
]
