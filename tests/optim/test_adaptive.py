"""Rprop and delta-bar-delta against hand computations written weight by weight.

Rprop's parity with ``torch.optim.Rprop`` is in ``test_rules.py`` (registry-driven); here a
few steps worked out on paper. Delta-bar-delta has no torch twin, so a plain-float loop
over weights is the reference, for two members with different settings in one call.
"""

from __future__ import annotations

import math

import pytest
import torch
from optim_helpers import stacked
from torch import Tensor

from lrlab.optim import RULES

F64 = torch.float64
SHAPES = [(2, 3), (4,)]  # two parameter tensors, 10 weights per member
STEPS = 40


def test_full_batch_marks_the_sign_and_gain_rules():
    """Exactly the rules that read gradient signs per weight are flagged for full batches."""
    assert {n for n, r in RULES.items() if r.full_batch} == {"rprop", "delta_bar_delta"}


def _hp(values: list[dict[str, float]]) -> dict[str, Tensor]:
    return {k: torch.tensor([v[k] for v in values], dtype=F64) for k in values[0]}


# -- rprop --------------------------------------------------------------------------------


def test_rprop_steps_worked_out_by_hand():
    """Grow on agreement, shrink and skip on a flip, restart after the skip; lr_mult scales
    the first step size."""
    rule = RULES["rprop"]
    hp = _hp([{"lr": 0.1, **rule.defaults}])
    hp["lr_mult"] = (2.0,)
    p = [torch.zeros(1, 1, dtype=F64)]
    state = rule.init(p)
    got = []
    for g in (1.0, 1.0, -1.0, -1.0, -1.0):
        (u,), state = rule.update([torch.tensor([[g]], dtype=F64)], state, p, hp)
        got.append(u.item())
    # steps 0.2, 0.24, flip -> 0.12 and no move, then sign(g) = -1 steps of 0.12, 0.144
    expected = [-0.2, -0.24, 0.0, 0.12, 0.144]
    assert got == pytest.approx(expected, abs=1e-15)


def test_rprop_step_sizes_stay_within_limits():
    """Step sizes never leave [step_min, step_max], however long the signs agree or flip."""
    rule = RULES["rprop"]
    hp = _hp([{**rule.defaults, "lr": 0.1, "step_min": 0.01, "step_max": 0.5}])
    p = [torch.zeros(1, 2, dtype=F64)]
    state = rule.init(p)
    for t in range(60):  # weight 0 always agrees, weight 1 flips every step
        g = torch.tensor([[1.0, (-1.0) ** t]], dtype=F64)
        _, state = rule.update([g], state, p, hp)
    assert state["step"][0].tolist() == [[0.5, 0.01]]


# -- delta-bar-delta ----------------------------------------------------------------------


def _problem() -> tuple[list[float], list[list[float]], list[float]]:
    """Curvatures, per-step noise and a start: g_t = a * p + noise_t (signs flip often)."""
    gen = torch.Generator().manual_seed(3)
    n = sum(math.prod(s) for s in SHAPES)
    a = torch.linspace(0.5, 3.0, n, dtype=F64).tolist()
    noise = (0.3 * torch.randn(STEPS, n, generator=gen, dtype=F64)).tolist()
    start = torch.randn(n, generator=gen, dtype=F64).tolist()
    return a, noise, start


def _split(flat: list[float], members: int) -> list[Tensor]:
    return stacked(flat, SHAPES, members)


def _multiplier_of_each_weight(mult: tuple[float, ...]) -> list[float]:
    return [m for m, shape in zip(mult, SHAPES) for _ in range(math.prod(shape))]


def _dbd_reference(h: dict[str, float], mult: list[float]) -> list[list[float]]:
    """Delta-bar-delta by hand, one weight at a time; the weights after every step."""
    a, noise, p = _problem()
    p = list(p)
    n = len(p)
    gain, bar, vel = [1.0] * n, [0.0] * n, [0.0] * n
    history = []
    for t in range(STEPS):
        for j in range(n):
            g = a[j] * p[j] + noise[t][j] + h["weight_decay"] * p[j]
            if g * bar[j] > 0:
                gain[j] += h["kappa"]
            elif g * bar[j] < 0:
                gain[j] *= h["phi"]
            gain[j] = min(max(gain[j], h["gain_min"]), h["gain_max"])
            bar[j] = (1 - h["theta"]) * g + h["theta"] * bar[j]
            vel[j] = h["momentum"] * vel[j] - h["lr"] * mult[j] * gain[j] * g
            p[j] += vel[j]
        history.append(list(p))
    return history


DBD_MEMBERS = [
    {"lr": 0.05},  # Hinton's variant, defaults
    {"lr": 0.02, "kappa": 0.1, "phi": 0.8, "gain_min": 0.5, "gain_max": 3.0, "theta": 0.7,
     "momentum": 0.9, "weight_decay": 0.01},  # Jacobs' bar average, momentum, decay
]


@pytest.mark.parametrize("mult", [None, (0.5, 4.0)], ids=["no-mult", "lr-mult"])
def test_delta_bar_delta_matches_hand_computation(mult: tuple[float, ...] | None):
    """Two members with their own settings follow the weight-by-weight loop to 1e-12."""
    rule = RULES["delta_bar_delta"]
    settings = [{**rule.defaults, **m} for m in DBD_MEMBERS]
    hp = _hp(settings)
    if mult is not None:
        hp["lr_mult"] = mult
    a, noise, start = _problem()
    curvature = _split(a, len(settings))
    params = _split(start, len(settings))
    state = rule.init(params)
    references = [_dbd_reference(s, _multiplier_of_each_weight(mult or (1.0, 1.0)))
                  for s in settings]
    for t in range(STEPS):
        step_noise = _split(noise[t], len(settings))
        grads = [c * p + e for c, p, e in zip(curvature, params, step_noise)]
        updates, state = rule.update(grads, state, params, hp)
        params = [p + u for p, u in zip(params, updates)]
        for k, reference in enumerate(references):
            ours = torch.cat([p[k].flatten() for p in params])
            diff = (ours - torch.tensor(reference[t], dtype=F64)).abs().max().item()
            assert diff <= 1e-12, f"member {k} off by {diff:.3g} after step {t + 1}"
    gains = torch.cat([g.flatten(1) for g in state["gain"]], dim=1)
    assert gains.min() < 1.0 < gains.max(), "the problem should both grow and shrink gains"
