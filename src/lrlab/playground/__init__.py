"""The optimizer playground: update rules (or rates) racing on a 2-D loss surface.

* :data:`SURFACES` / :func:`get_surface`: an ill-conditioned quadratic, Rosenbrock, Beale, a
  saddle between two minima, Himmelblau; each with its box, minima, start and a rate.
* :func:`trajectories`: run several rules (lrlab's own update functions) at several rates
  from one start, all members in one ``(K, 2)`` state; returns :class:`Trajectories` (plain
  arrays, divergence flagged) with a per-member :meth:`~Trajectories.summary`.
* :func:`contours`, :func:`draw`, :func:`write_png`, :func:`write_gif`: draw the
  trajectories over the surface's contours (compute first, then draw; matplotlib is
  imported only when drawing).

Example:
    >>> from lrlab.playground import trajectories
    >>> t = trajectories("rosenbrock", ["sgd", "momentum", "adam"], [0.001], steps=300)
    >>> t.labels
    ('sgd', 'momentum', 'adam')
"""

from lrlab.playground._draw import Contours, contours, draw, write_gif, write_png
from lrlab.playground._run import ESCAPE, MAX_STEPS, Trajectories, trajectories
from lrlab.playground._surfaces import SURFACES, Surface, get_surface

__all__ = [
    "ESCAPE",
    "MAX_STEPS",
    "SURFACES",
    "Contours",
    "Surface",
    "Trajectories",
    "contours",
    "draw",
    "get_surface",
    "trajectories",
    "write_gif",
    "write_png",
]
