"""Two-dimensional loss surfaces for watching update rules move: the registry :data:`SURFACES`.

Each surface is a function ``f(x, y)`` over tensors (any shape, float64 in the playground),
a box to draw it in, its minima, a start from which the usual rules tell different stories,
and a rate at which comparing them is instructive. The minima are exact where a closed form
exists; Himmelblau's three irrational ones are Newton's method's float64 roots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from lrlab._errors import LrlabError

__all__ = ["SURFACES", "Surface", "get_surface"]

Box = tuple[float, float, float, float]
Point = tuple[float, float]


@dataclass(frozen=True)
class Surface:
    """A loss surface over two parameters.

    Attributes:
        name: the name users pass (``lrlab playground NAME``).
        f: ``f(x, y) -> loss``, elementwise over tensors of one shape.
        box: ``(x_min, x_max, y_min, y_max)``: the view, and the scale of divergence.
        minima: every local minimum inside the box, as ``(x, y)``.
        start: where trajectories start unless told otherwise.
        lr: a rate at which the rules' default comparison is instructive.
        log_levels: draw contours at log-spaced heights above the lowest minimum (for
            surfaces whose interesting part is a deep, flat valley).
        description: one line: the formula and what to look for.
    """

    name: str
    f: Callable[[Tensor, Tensor], Tensor]
    box: Box
    minima: tuple[Point, ...]
    start: Point
    lr: float
    log_levels: bool
    description: str

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x, y)

    def contains(self, point: Point) -> bool:
        """Whether ``point`` lies in the box (edges included)."""
        x0, x1, y0, y1 = self.box
        return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def _quadratic(x: Tensor, y: Tensor) -> Tensor:
    return 0.5 * (x * x + 25.0 * y * y)


def _rosenbrock(x: Tensor, y: Tensor) -> Tensor:
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _beale(x: Tensor, y: Tensor) -> Tensor:
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2)


def _saddle(x: Tensor, y: Tensor) -> Tensor:
    return x * x + y**4 - 2.0 * y * y


def _himmelblau(x: Tensor, y: Tensor) -> Tensor:
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface(
            "quadratic", _quadratic, (-5.0, 5.0, -2.5, 2.5), ((0.0, 0.0),), (-4.5, 2.0),
            0.03, True,
            "0.5 (x^2 + 25 y^2): condition number 25; SGD must stay below 2/25 = 0.08 and "
            "crawls along x, momentum overshoots, adaptive rules rescale each axis",
        ),
        Surface(
            "rosenbrock", _rosenbrock, (-2.0, 2.0, -1.0, 3.0), ((1.0, 1.0),), (-1.2, 1.0),
            0.002, True,
            "(1 - x)^2 + 100 (y - x^2)^2: a curved, flat valley to (1, 1); easy to enter, "
            "slow to follow; large rates bounce off its steep walls",
        ),
        Surface(
            "beale", _beale, (-4.5, 4.5, -4.5, 4.5), ((3.0, 0.5),), (1.0, 1.5), 0.01, True,
            "Beale's function, minimum at (3, 0.5): flat plateaus beside walls whose "
            "gradients reach 1e5; plain SGD blows up at rates adaptive rules shrug off",
        ),
        Surface(
            "saddle", _saddle, (-2.0, 2.0, -2.0, 2.0), ((0.0, -1.0), (0.0, 1.0)), (1.8, 1e-3),
            0.01, False,
            "x^2 + y^4 - 2 y^2: a saddle at the origin between minima at (0, -1) and (0, 1); "
            "from near the ridge, gradient-scale rules linger at the saddle, adaptive ones "
            "escape at once",
        ),
        Surface(
            "himmelblau", _himmelblau, (-5.0, 5.0, -5.0, 5.0),
            ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
             (-3.779310253377747, -3.283185991286169),
             (3.5844283403304917, -1.8481265269644034)),
            (-0.3, -0.9), 0.01, True,
            "(x^2 + y - 11)^2 + (x + y^2 - 7)^2: four equal minima; from near the central "
            "maximum, which one a rule reaches depends on the rule and its rate",
        ),
    )
}


def get_surface(name: str | Surface) -> Surface:
    """The surface called ``name`` (a :class:`Surface` passes through); a one-line error
    lists the known ones otherwise."""
    if isinstance(name, Surface):
        return name
    try:
        return SURFACES[name]
    except KeyError:
        raise LrlabError(f"unknown surface {name!r}; choose one of: "
                         f"{', '.join(SURFACES)} (lrlab list surfaces)") from None
