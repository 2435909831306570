"""Studies of today's learning-rate practice, one function (and one command) each.

* :func:`cooldown`: warmup-stable-decay's cooldown sweep, the stable phase trained once and
  forked into K cooldowns as one population (``lrlab cooldown``), with the literature's
  claims judged from the records.

* :func:`race`: update rules racing in one population, tuned SGD or Adam against the
  learning-rate-free rules (``lrlab race``), each member with its own rule.

Each returns a result object with ``table()``, ``claims()`` (:class:`lrlab.reproduce.Claim`
rows), ``verdict()``, ``save(out)`` / ``load(out)`` and ``write_report(path)``.
"""

from lrlab.studies._cooldown import CooldownResult, cooldown, plot_cooldown
from lrlab.studies._race import FREE, RaceResult, parse_entry, race

__all__ = ["FREE", "CooldownResult", "RaceResult", "cooldown", "parse_entry", "plot_cooldown",
           "race"]
