"""Hand-differentiated gradients of the playground's surfaces, and their minimum values:
the independent reference the surface and trajectory tests check against."""

from __future__ import annotations


def _grad_quadratic(x, y):
    return x, 25 * y


def _grad_rosenbrock(x, y):
    return -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)


def _grad_beale(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    return (2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1),
            2 * a * x + 4 * b * x * y + 6 * c * x * y**2)


def _grad_saddle(x, y):
    return 2 * x, 4 * y**3 - 4 * y


def _grad_himmelblau(x, y):
    u, v = x * x + y - 11, x + y * y - 7
    return 4 * x * u + 2 * v, 2 * u + 4 * y * v


#: name -> (the hand-written gradient, the value at every minimum)
HAND = {
    "quadratic": (_grad_quadratic, 0.0),
    "rosenbrock": (_grad_rosenbrock, 0.0),
    "beale": (_grad_beale, 0.0),
    "saddle": (_grad_saddle, -1.0),
    "himmelblau": (_grad_himmelblau, 0.0),
}
