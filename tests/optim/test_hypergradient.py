"""SGD-HD and Adam-HD against hand computations, and the rate's behaviour.

The reference loops over weights with plain floats, written from the paper's formulas:
``alpha_t = alpha_{t-1} + beta * sum_j m_j g_{t,j} d_{t-1,j}`` (``d = g`` for SGD, the Adam
direction ``m_hat / (sqrt(v_hat) + eps)`` for Adam), then the step with ``alpha_t``.
"""

from __future__ import annotations

import math

import pytest
import torch
from optim_helpers import stacked
from torch import Tensor

from lrlab.optim import RULES

F64 = torch.float64
SHAPES = [(3, 2), (5,)]
STEPS = 50


def _problem() -> tuple[list[float], list[list[float]], list[float]]:
    """Curvatures, per-step noise and a start: g_t = a * p + noise_t."""
    gen = torch.Generator().manual_seed(5)
    n = sum(math.prod(s) for s in SHAPES)
    a = torch.linspace(0.5, 2.0, n, dtype=F64).tolist()
    noise = (0.05 * torch.randn(STEPS, n, generator=gen, dtype=F64)).tolist()
    start = (1.0 + torch.rand(n, generator=gen, dtype=F64)).tolist()
    return a, noise, start


def _split(flat: list[float], members: int) -> list[Tensor]:
    return stacked(flat, SHAPES, members)


def _reference(name: str, h: dict[str, float], mult: list[float]
               ) -> tuple[list[list[float]], list[float]]:
    """The weights and the rate after every step, one weight at a time."""
    a, noise, p = _problem()
    n = len(p)
    alpha = h["lr"]
    direction, m, v = [0.0] * n, [0.0] * n, [0.0] * n
    weights, rates = [], []
    for t in range(1, STEPS + 1):
        g = [a[j] * p[j] + noise[t - 1][j] + h["weight_decay"] * p[j] for j in range(n)]
        alpha += h["beta"] * sum(mult[j] * g[j] * direction[j] for j in range(n))
        for j in range(n):
            if name == "sgd_hd":
                direction[j] = g[j]
            else:
                m[j] = h["beta1"] * m[j] + (1 - h["beta1"]) * g[j]
                v[j] = h["beta2"] * v[j] + (1 - h["beta2"]) * g[j] ** 2
                m_hat, v_hat = m[j] / (1 - h["beta1"] ** t), v[j] / (1 - h["beta2"] ** t)
                direction[j] = m_hat / (math.sqrt(v_hat) + h["eps"])
            p[j] -= alpha * mult[j] * direction[j]
        weights.append(list(p))
        rates.append(alpha)
    return weights, rates


MEMBERS = {
    "sgd_hd": [{"lr": 0.05}, {"lr": 0.2, "beta": 0.02, "weight_decay": 0.01}],
    "adam_hd": [{"lr": 0.01},
                {"lr": 0.05, "beta": 1e-3, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                 "weight_decay": 0.01}],
}


def _hp(values: list[dict[str, float]]) -> dict[str, Tensor]:
    return {k: torch.tensor([v[k] for v in values], dtype=F64) for k in values[0]}


@pytest.mark.parametrize("mult", [None, (0.5, 3.0)], ids=["no-mult", "lr-mult"])
@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_matches_hand_computation(name: str, mult: tuple[float, ...] | None):
    """Weights and rate of two members in one call follow the float loop to 1e-12."""
    rule = RULES[name]
    settings = [{**rule.defaults, **m} for m in MEMBERS[name]]
    hp = _hp(settings)
    if mult is not None:
        hp["lr_mult"] = mult
    per_weight = [m for m, s in zip(mult or (1.0, 1.0), SHAPES) for _ in range(math.prod(s))]
    a, noise, start = _problem()
    curvature, params = _split(a, 2), _split(start, 2)
    state = rule.init(params)
    references = [_reference(name, s, per_weight) for s in settings]
    for t in range(STEPS):
        grads = [c * p + e for c, p, e in zip(curvature, params, _split(noise[t], 2))]
        updates, state = rule.update(grads, state, params, hp)
        params = [p + u for p, u in zip(params, updates)]
        for k, (weights, rates) in enumerate(references):
            ours = torch.cat([p[k].flatten() for p in params])
            diff = (ours - torch.tensor(weights[t], dtype=F64)).abs().max().item()
            assert diff <= 1e-12, f"member {k} off by {diff:.3g} after step {t + 1}"
            assert state["lr"][k].item() == pytest.approx(rates[t], rel=1e-12, abs=0)
    assert state["lr"][1] != settings[1]["lr"], "the rate should have moved"


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_first_step_uses_lr_and_reports_it(name: str):
    """The first step's rate is hp["lr"] exactly; state["lr"] is (K,) from then on."""
    rule = RULES[name]
    params = [torch.ones(3, 4, dtype=F64)]
    hp = _hp([{**rule.defaults, "lr": lr} for lr in (0.1, 0.01, 0.001)])
    assert "lr" not in rule.init(params)
    _, state = rule.update([torch.ones(3, 4, dtype=F64)], rule.init(params), params, hp)
    assert torch.equal(state["lr"], hp["lr"])


def test_adam_hd_without_hyper_rate_is_adam():
    """beta = 0 freezes the rate: Adam-HD then takes Adam's steps (to rounding)."""
    adam, adam_hd = RULES["adam"], RULES["adam_hd"]
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(2, 6, generator=gen, dtype=F64)]
    hp = _hp([{**adam_hd.defaults, "lr": lr, "beta": 0.0} for lr in (0.1, 0.01)])
    s1, s2 = adam.init(params), adam_hd.init(params)
    for _ in range(STEPS):
        grads = [torch.randn(2, 6, generator=gen, dtype=F64)]
        (u1,), s1 = adam.update(grads, s1, params, hp)
        (u2,), s2 = adam_hd.update(grads, s2, params, hp)
        assert torch.allclose(u1, u2, rtol=1e-13, atol=1e-16)
    assert torch.equal(s2["lr"], hp["lr"])


def _rates(name: str, lr: float, beta: float, steps: int = 30) -> tuple[list[float], float]:
    """The rate after each step on f = 0.5 sum a_j x_j^2 (a in [0.5, 2]), and the final f."""
    rule = RULES[name]
    a = torch.linspace(0.5, 2.0, 8, dtype=F64)
    x = torch.ones(1, 8, dtype=F64)
    hp = _hp([{**rule.defaults, "lr": lr, "beta": beta}])
    state, rates = rule.init([x]), []
    for _ in range(steps):
        (u,), state = rule.update([a * x], state, [x], hp)
        x = x + u
        rates.append(state["lr"].item())
    return rates, (0.5 * a * x * x).sum().item()


@pytest.mark.parametrize(("name", "small", "large", "beta"), [
    ("sgd_hd", 0.01, 1.5, 0.01),  # plain SGD diverges above 2 / max(a) = 1
    ("adam_hd", 0.001, 1.0, 0.01),
])
def test_rate_rises_from_too_small_and_falls_from_too_large(name, small, large, beta):
    """On a smooth convex problem the hypergradient pushes a bad rate the right way."""
    rises, _ = _rates(name, small, beta)
    falls, final = _rates(name, large, beta)
    assert rises[-1] > 10 * small, f"{name}: rate {rises[-1]:.3g} from {small}"
    assert falls[-1] < large, f"{name}: rate {falls[-1]:.3g} from {large}"
    assert final < 0.5 * 0.5 * sum(torch.linspace(0.5, 2.0, 8).tolist())  # below f(start)
    if name == "sgd_hd":
        assert falls[-1] < 1.0, "SGD-HD should bring the rate into the stable range"
