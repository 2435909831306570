"""Hypergradient descent: the learning rate itself descends the loss (Baydin et al. 2018).

The step just taken was ``theta_{t-1} = theta_{t-2} + u_{t-1}(alpha)``, so the loss at
``theta_{t-1}`` depends on the rate through that step, and its derivative is one dot product
of quantities already at hand::

    h_t = d f(theta_{t-1}) / d alpha = g_t . d u_{t-1} / d alpha

``alpha`` then takes a gradient step of its own, ``alpha_t = alpha_{t-1} - beta h_t``, before
the parameters take theirs with ``alpha_t``. ``beta`` is the hyper-rate. The dot product runs
over *all* parameters of a member, so each member has one rate, a ``(K,)`` tensor kept in
``state["lr"]`` (the rate used in the step just taken). ``hp["lr"]`` is ``alpha_0``, read
at the first step only: after that the rule owns its rate and a schedule has no effect.
The rate is not clipped: a hyper-rate too large for the gradients' scale (``beta |g|^2``
comparable to ``alpha``) can drive it negative.

With layer multipliers ``m_i`` (``hp["lr_mult"]``) parameter ``i`` moves by ``alpha m_i`` times
its direction, so ``m_i`` weights its share of the dot product: the hypergradient stays the
exact derivative of the loss with respect to the one shared ``alpha``.

Baydin, Cornish, Martinez Rubio, Schmidt & Wood, "Online learning rate adaptation with
hypergradient descent", ICLR 2018.

Example:
    >>> import torch
    >>> from lrlab.optim import RULES
    >>> rule, p = RULES["sgd_hd"], [torch.ones(1, 2)]
    >>> hp = {"lr": torch.tensor([0.1]), "beta": torch.tensor([0.01])}
    >>> _, state = rule.update([torch.ones(1, 2)], rule.init(p), p, hp)
    >>> _, state = rule.update([torch.ones(1, 2)], state, p, hp)  # same sign: rate grows
    >>> state["lr"]
    tensor([0.1200])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.optim._base import (
    Hyper,
    State,
    UpdateRule,
    lr_for,
    lr_mult_for,
    per_member,
    with_decay,
    zeros,
)
from lrlab.optim._fused import adam_hd_apply, sgd_hd_apply

__all__ = ["ADAM_HD", "SGD_HD"]


def _dot(hp: Hyper, a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    """``sum_i m_i <a_i, b_i>`` per member, over every parameter: ``(K,)``."""
    return sum((lr_mult_for(hp, i) * x * y).flatten(1).sum(1)
               for i, (x, y) in enumerate(zip(a, b)))


def _next_rate(hp: Hyper, state: State, grads: Sequence[Tensor],
               directions: Sequence[Tensor]) -> Tensor:
    """``alpha_t = alpha_{t-1} + beta * sum_i m_i <g_t, d_{t-1}>``, ``alpha_0 = hp["lr"]``."""
    return state.get("lr", hp["lr"]) + hp["beta"] * _dot(hp, grads, directions)


def _sgd_hd_init(params: Sequence[Tensor]) -> State:
    return {"prev": zeros(params)}


def _sgd_hd_update(grads, state, params, hp):
    """SGD-HD: SGD whose rate follows the hypergradient.

    The SGD step is ``u_{t-1} = -alpha g_{t-1}``, so ``h_t = -g_t . g_{t-1}`` and::

        alpha_t = alpha_{t-1} + beta g_t . g_{t-1}      (g_0 = 0, alpha_0 = lr)
        p      <- p - alpha_t m_i g_t

    where ``g`` includes ``weight_decay * p``. Paper default: ``beta = 0.001``.
    """
    grads = with_decay(grads, params, hp)
    alpha = _next_rate(hp, state, grads, state["prev"])
    updates = [-lr_for(hp, i, g, alpha) * g for i, g in enumerate(grads)]
    return updates, {"prev": grads, "lr": alpha}


def _adam_hd_init(params: Sequence[Tensor]) -> State:
    return {"m": zeros(params), "v": zeros(params), "direction": zeros(params), "t": 0}


def _adam_hd_update(grads, state, params, hp):
    """Adam-HD: Adam whose rate follows the hypergradient.

    Adam's step is ``u_{t-1} = -alpha d_{t-1}`` with the direction
    ``d_{t-1} = m_hat_{t-1} / (sqrt(v_hat_{t-1}) + eps)``, so ``h_t = -g_t . d_{t-1}`` and::

        alpha_t = alpha_{t-1} + beta g_t . d_{t-1}      (d_0 = 0, alpha_0 = lr)
        m_t = b1 m + (1 - b1) g_t;  v_t = b2 v + (1 - b2) g_t^2
        d_t = (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)
        p  <- p - alpha_t m_i d_t

    where ``g`` includes ``weight_decay * p`` (Adam's L2 form). With ``beta = 0`` this is
    Adam. Paper default: ``beta = 1e-7``.
    """
    t = state["t"] + 1
    grads = with_decay(grads, params, hp)
    alpha = _next_rate(hp, state, grads, state["direction"])
    ms, vs, directions, updates = [], [], [], []
    for i, (g, m, v) in enumerate(zip(grads, state["m"], state["v"])):
        b1, b2 = per_member(hp["beta1"], g), per_member(hp["beta2"], g)
        m = torch.lerp(m, g, 1 - b1)  # b1 m + (1 - b1) g
        v = torch.mul(g, g).lerp_(v, b2)  # b2 v + (1 - b2) g^2
        d = v.sqrt().div_((1 - b2**t).sqrt()).add_(per_member(hp["eps"], g))
        d = torch.div(m, d, out=d).div_(1 - b1**t)
        ms.append(m)
        vs.append(v)
        directions.append(d)
        updates.append(-lr_for(hp, i, g, alpha) * d)
    return updates, {"m": ms, "v": vs, "direction": directions, "t": t, "lr": alpha}


SGD_HD = UpdateRule("sgd_hd", _sgd_hd_init, _sgd_hd_update,
                    {"beta": 0.001, "weight_decay": 0.0}, apply=sgd_hd_apply)

ADAM_HD = UpdateRule(
    "adam_hd", _adam_hd_init, _adam_hd_update,
    {"beta": 1e-7, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    apply=adam_hd_apply,
)
