"""Studies of today's learning-rate practice, one function (and one command) each.

* :func:`cooldown`: warmup-stable-decay's cooldown sweep, the stable phase trained once and
  forked into K cooldowns as one population (``lrlab cooldown``), with the literature's
  claims judged from the records.

Each returns a result object with ``table()``, ``claims()`` (:class:`lrlab.reproduce.Claim`
rows), ``verdict()``, ``save(out)`` / ``load(out)`` and ``write_report(path)``.
"""

from lrlab.studies._cooldown import CooldownResult, cooldown, plot_cooldown

__all__ = ["CooldownResult", "cooldown", "plot_cooldown"]
