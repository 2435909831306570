"""The surfaces: each minimum's value and zero gradient, from hand-derived derivatives.

The gradients (``surface_derivatives``) are differentiated by hand, not by autograd, so they
also check that each function is the formula its description states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from surface_derivatives import HAND

from lrlab import LrlabError
from lrlab.playground import SURFACES, Surface, get_surface

F64 = torch.float64


def test_every_surface_has_hand_derivatives() -> None:
    assert set(HAND) == set(SURFACES)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_minima_have_their_value_and_zero_gradient(name: str) -> None:
    surf = SURFACES[name]
    grad, value = HAND[name]
    for mx, my in surf.minima:
        x, y = torch.tensor(mx, dtype=F64), torch.tensor(my, dtype=F64)
        assert float(surf(x, y)) == pytest.approx(value, abs=1e-24)
        gx, gy = grad(mx, my)
        assert abs(gx) < 1e-12 and abs(gy) < 1e-12, (gx, gy)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_minima_are_minima(name: str) -> None:
    """Every listed minimum is lower than a ring of points around it (not a saddle)."""
    surf = SURFACES[name]
    angles = torch.linspace(0, 2 * math.pi, 16, dtype=F64)
    for mx, my in surf.minima:
        centre = float(surf(torch.tensor(mx, dtype=F64), torch.tensor(my, dtype=F64)))
        ring = surf(mx + 1e-3 * torch.cos(angles), my + 1e-3 * torch.sin(angles))
        assert bool((ring > centre).all())


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_autograd_matches_hand_gradient(name: str) -> None:
    surf = SURFACES[name]
    x0, x1, y0, y1 = surf.box
    gen = torch.Generator().manual_seed(0)
    x = (x0 + (x1 - x0) * torch.rand(50, generator=gen, dtype=F64)).requires_grad_(True)
    y = (y0 + (y1 - y0) * torch.rand(50, generator=gen, dtype=F64)).requires_grad_(True)
    gx, gy = torch.autograd.grad(surf(x, y).sum(), (x, y))
    hx, hy = _grad_np(HAND[name][0], x.detach().numpy(), y.detach().numpy())
    np.testing.assert_allclose(gx.numpy(), hx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy.numpy(), hy, rtol=1e-12, atol=1e-12)


def _grad_np(grad, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = zip(*(grad(float(a), float(b)) for a, b in zip(x, y)))
    return np.array(gx), np.array(gy)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_start_and_minima_lie_in_the_box(name: str) -> None:
    surf = SURFACES[name]
    assert surf.name == name and surf.lr > 0 and surf.description
    assert surf.contains(surf.start)
    assert all(surf.contains(m) for m in surf.minima)


def test_get_surface_names_the_known_ones() -> None:
    assert get_surface("beale") is SURFACES["beale"]
    assert get_surface(SURFACES["saddle"]) is SURFACES["saddle"]
    with pytest.raises(LrlabError, match="unknown surface 'ackley'; choose one of: "
                                         "quadratic, rosenbrock, beale, saddle, himmelblau"):
        get_surface("ackley")


def test_a_user_surface_is_a_plain_record() -> None:
    bowl = Surface("bowl", lambda x, y: x * x + y * y, (-1.0, 1.0, -1.0, 1.0), ((0.0, 0.0),),
                   (0.5, 0.5), 0.1, False, "x^2 + y^2")
    assert bowl.contains((1.0, -1.0)) and not bowl.contains((1.01, 0.0))
    assert float(bowl(torch.tensor(3.0), torch.tensor(4.0))) == 25.0
