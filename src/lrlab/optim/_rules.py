"""The classic update rules and the registry of every rule, :data:`RULES`.

Each rule is written once as a pure function over tensors with a leading member axis (the
contract is in :mod:`lrlab.optim._base`). The formulas follow ``torch.optim`` exactly (same
defaults, same order of operations where it matters), which is what the parity tests check
to 1e-10 in float64. Each is written for few passes over memory: fused elementwise ops
(``lerp``, ``addcmul``) and in-place work on the temporaries a step creates (never on its
inputs), since on the flat ``(K, P)`` parameters of a large network every pass counts. The rules without a ``torch.optim`` twin live in
:mod:`lrlab.optim._adaptive` (rprop, delta-bar-delta) and :mod:`lrlab.optim._hypergradient`
(SGD-HD, Adam-HD); the learning-rate-free ones in :mod:`lrlab.optim._free` (Prodigy,
D-Adaptation, DoG, Schedule-Free SGD and AdamW).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.optim._adaptive import DELTA_BAR_DELTA, RPROP
from lrlab.optim._base import State, UpdateRule, lr_for, per_member, with_decay, zeros
from lrlab.optim._free import DADAPT_ADAM, DOG, PRODIGY, SF_ADAMW, SF_SGD
from lrlab.optim._fused import (
    adagrad_apply,
    adam_apply,
    adamw_apply,
    momentum_apply,
    nesterov_apply,
    rmsprop_apply,
    sgd_apply,
)
from lrlab.optim._hypergradient import ADAM_HD, SGD_HD

__all__ = ["RULES", "UpdateRule", "get_rule", "lr_for", "per_member"]


# -- sgd, momentum, nesterov -------------------------------------------------------------


def _sgd_init(params: Sequence[Tensor]) -> State:
    return {}


def _sgd_update(grads, state, params, hp):
    """``p <- p - lr * (g + wd p)``."""
    grads = with_decay(grads, params, hp)
    return [-lr_for(hp, i, g) * g for i, g in enumerate(grads)], state


def _momentum_init(params: Sequence[Tensor]) -> State:
    return {"buf": zeros(params)}


def _momentum_update(grads, state, params, hp, *, nesterov: bool = False):
    """Heavy ball: ``b <- mu b + g``; ``p <- p - lr b`` (Nesterov: ``p <- p - lr (g + mu b)``)."""
    grads = with_decay(grads, params, hp)
    bufs, updates = [], []
    for i, (g, b) in enumerate(zip(grads, state["buf"])):
        mu = per_member(hp["momentum"], g)
        b = torch.addcmul(g, b, mu)  # mu b + g
        d = torch.addcmul(g, b, mu) if nesterov else b
        bufs.append(b)
        updates.append(-lr_for(hp, i, g) * d)
    return updates, {"buf": bufs}


def _nesterov_update(grads, state, params, hp):
    return _momentum_update(grads, state, params, hp, nesterov=True)


# -- adagrad, rmsprop ---------------------------------------------------------------------


def _adagrad_init(params: Sequence[Tensor]) -> State:
    return {"sum": zeros(params), "t": 0}


def _adagrad_update(grads, state, params, hp):
    """Duchi et al. 2011: ``s <- s + g^2``; ``p <- p - lr_t g / (sqrt(s) + eps)``,
    with ``lr_t = lr / (1 + (t - 1) lr_decay)``."""
    t = state["t"] + 1
    grads = with_decay(grads, params, hp)
    sums, updates = [], []
    for i, (g, s) in enumerate(zip(grads, state["sum"])):
        s = torch.addcmul(s, g, g)
        clr = lr_for(hp, i, g) / per_member(1 + (t - 1) * hp["lr_decay"], g)
        sums.append(s)
        denom = s.sqrt().add_(per_member(hp["eps"], g))
        updates.append(torch.div(g, denom, out=denom).mul_(-clr))
    return updates, {"sum": sums, "t": t}


def _rmsprop_init(params: Sequence[Tensor]) -> State:
    return {"sq": zeros(params), "buf": zeros(params)}


def _rmsprop_update(grads, state, params, hp):
    """Tieleman & Hinton 2012: ``v <- a v + (1 - a) g^2``; ``b <- mu b + g / (sqrt(v) + eps)``;
    ``p <- p - lr b`` (``mu = 0`` is plain RMSProp)."""
    grads = with_decay(grads, params, hp)
    sqs, bufs, updates = [], [], []
    for i, (g, v, b) in enumerate(zip(grads, state["sq"], state["buf"])):
        v = torch.mul(g, g).lerp_(v, per_member(hp["alpha"], g))  # a v + (1 - a) g^2
        step = v.sqrt().add_(per_member(hp["eps"], g))
        step = torch.div(g, step, out=step)  # g / (sqrt(v) + eps)
        b = step.addcmul_(b, per_member(hp["momentum"], g))
        sqs.append(v)
        bufs.append(b)
        updates.append(-lr_for(hp, i, g) * b)
    return updates, {"sq": sqs, "buf": bufs}


# -- adam, adamw --------------------------------------------------------------------------


def _adam_init(params: Sequence[Tensor]) -> State:
    return {"m": zeros(params), "v": zeros(params), "t": 0}


def _adam_update(grads, state, params, hp, *, decoupled: bool = False):
    """Kingma & Ba 2014: ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) g^2``;
    ``p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    AdamW (Loshchilov & Hutter 2019) decays the weights directly, ``p <- p (1 - lr wd)``,
    instead of adding ``wd p`` to the gradient.
    """
    t = state["t"] + 1
    if not decoupled:
        grads = with_decay(grads, params, hp)
    ms, vs, updates = [], [], []
    for i, (g, m, v, p) in enumerate(zip(grads, state["m"], state["v"], params)):
        b1, b2 = per_member(hp["beta1"], g), per_member(hp["beta2"], g)
        lr = lr_for(hp, i, g)
        m = torch.lerp(m, g, 1 - b1)  # b1 m + (1 - b1) g, as torch.optim.Adam
        v = torch.mul(g, g).lerp_(v, b2)  # b2 v + (1 - b2) g^2
        denom = v.sqrt().div_((1 - b2**t).sqrt()).add_(per_member(hp["eps"], g))
        u = torch.div(m, denom, out=denom).mul_(-(lr / (1 - b1**t)))
        if decoupled and "weight_decay" in hp:
            u = u.addcmul_(p, -lr * per_member(hp["weight_decay"], p))
        ms.append(m)
        vs.append(v)
        updates.append(u)
    return updates, {"m": ms, "v": vs, "t": t}


def _adamw_update(grads, state, params, hp):
    return _adam_update(grads, state, params, hp, decoupled=True)


RULES: dict[str, UpdateRule] = {
    r.name: r
    for r in (
        UpdateRule("sgd", _sgd_init, _sgd_update, {"weight_decay": 0.0}, "SGD",
                   apply=sgd_apply),
        UpdateRule(
            "momentum", _momentum_init, _momentum_update,
            {"momentum": 0.9, "weight_decay": 0.0}, "SGD", apply=momentum_apply,
        ),
        UpdateRule(
            "nesterov", _momentum_init, _nesterov_update,
            {"momentum": 0.9, "weight_decay": 0.0}, "SGD", apply=nesterov_apply,
        ),
        UpdateRule(
            "adagrad", _adagrad_init, _adagrad_update,
            {"lr_decay": 0.0, "eps": 1e-10, "weight_decay": 0.0}, "Adagrad",
            apply=adagrad_apply,
        ),
        UpdateRule(
            "rmsprop", _rmsprop_init, _rmsprop_update,
            {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}, "RMSprop",
            apply=rmsprop_apply,
        ),
        UpdateRule(
            "adam", _adam_init, _adam_update,
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}, "Adam",
            apply=adam_apply,
        ),
        UpdateRule(
            "adamw", _adam_init, _adamw_update,
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}, "AdamW",
            apply=adamw_apply,
        ),
        RPROP,
        DELTA_BAR_DELTA,
        SGD_HD,
        ADAM_HD,
        PRODIGY,
        DADAPT_ADAM,
        DOG,
        SF_SGD,
        SF_ADAMW,
    )
}


def get_rule(name: str) -> UpdateRule:
    """The update rule called ``name``; a one-line error lists the known ones otherwise."""
    from lrlab._errors import LrlabError

    try:
        return RULES[name]
    except KeyError:
        known = ", ".join(sorted(RULES))
        raise LrlabError(f"unknown update rule {name!r}; choose one of: {known}") from None
