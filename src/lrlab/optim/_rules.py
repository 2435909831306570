"""Update rules written once, as functions over tensors with a leading member axis.

Every parameter and gradient has shape ``(K, ...)``: K members of one network stacked. Every
hyperparameter is a tensor of shape ``(K,)``, so member k may have its own rate, momentum or
betas and all K still move in one pass. A rule is a pair of plain functions:

* ``init(params) -> state``: the rule's buffers (zeros shaped like the parameters);
* ``update(grads, state, params, hp) -> (updates, state)``: the increments to *add* to the
  parameters, and the new state. Nothing is changed in place, so a caller can drop the
  update of a member (a diverged one) with ``torch.where``.

The formulas follow ``torch.optim`` exactly (same defaults, same order of operations where
it matters), which is what the parity tests check to 1e-10 in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["UpdateRule", "RULES", "get_rule", "lr_for", "per_member"]

State = dict[str, Any]
Hyper = Mapping[str, Tensor]


def per_member(h: Tensor, like: Tensor) -> Tensor:
    """View a ``(K,)`` hyperparameter so it broadcasts against a ``(K, ...)`` tensor."""
    return h.view(h.shape[0], *([1] * (like.dim() - 1)))


def lr_for(hp: Hyper, i: int, like: Tensor) -> Tensor:
    """The rate of parameter ``i``: ``hp["lr"]`` per member, times its layer multiplier.

    ``hp["lr_mult"]``, when present, holds one float per parameter tensor (Caffe's
    ``lr_mult``): a fine-tuned backbone at 0.1, a new head at 10.
    """
    lr = per_member(hp["lr"], like)
    mult = hp.get("lr_mult")
    return lr if mult is None or mult[i] == 1.0 else lr * mult[i]


def _zeros(params: Sequence[Tensor]) -> list[Tensor]:
    return [torch.zeros_like(p) for p in params]


def _with_decay(grads: Sequence[Tensor], params: Sequence[Tensor], hp: Hyper) -> list[Tensor]:
    """L2 penalty folded into the gradient: ``g + wd * p`` (torch's ``weight_decay``)."""
    wd = hp.get("weight_decay")
    if wd is None:
        return list(grads)
    return [g + per_member(wd, p) * p for g, p in zip(grads, params)]


@dataclass(frozen=True)
class UpdateRule:
    """A named update rule: its hyperparameters with defaults, and its two functions.

    Attributes:
        name: the name users pass (``--optimizer NAME``).
        defaults: every hyperparameter other than ``lr`` with its default value.
        init: ``init(params) -> state``.
        update: ``update(grads, state, params, hp) -> (updates, state)``.
        torch_name: the ``torch.optim`` class with the same formula, if one exists.
    """

    name: str
    init: Callable[[Sequence[Tensor]], State]
    update: Callable[[Sequence[Tensor], State, Sequence[Tensor], Hyper], tuple[list[Tensor], State]]
    defaults: Mapping[str, float] = field(default_factory=dict)
    torch_name: str | None = None


# -- sgd, momentum, nesterov -------------------------------------------------------------


def _sgd_init(params: Sequence[Tensor]) -> State:
    return {}


def _sgd_update(grads, state, params, hp):
    """``p <- p - lr * (g + wd p)``."""
    grads = _with_decay(grads, params, hp)
    return [-lr_for(hp, i, g) * g for i, g in enumerate(grads)], state


def _momentum_init(params: Sequence[Tensor]) -> State:
    return {"buf": _zeros(params)}


def _momentum_update(grads, state, params, hp, *, nesterov: bool = False):
    """Heavy ball: ``b <- mu b + g``; ``p <- p - lr b`` (Nesterov: ``p <- p - lr (g + mu b)``)."""
    grads = _with_decay(grads, params, hp)
    bufs, updates = [], []
    for i, (g, b) in enumerate(zip(grads, state["buf"])):
        mu = per_member(hp["momentum"], g)
        b = mu * b + g
        d = g + mu * b if nesterov else b
        bufs.append(b)
        updates.append(-lr_for(hp, i, g) * d)
    return updates, {"buf": bufs}


def _nesterov_update(grads, state, params, hp):
    return _momentum_update(grads, state, params, hp, nesterov=True)


# -- adagrad, rmsprop ---------------------------------------------------------------------


def _adagrad_init(params: Sequence[Tensor]) -> State:
    return {"sum": _zeros(params), "t": 0}


def _adagrad_update(grads, state, params, hp):
    """Duchi et al. 2011: ``s <- s + g^2``; ``p <- p - lr_t g / (sqrt(s) + eps)``,
    with ``lr_t = lr / (1 + (t - 1) lr_decay)``."""
    t = state["t"] + 1
    grads = _with_decay(grads, params, hp)
    sums, updates = [], []
    for i, (g, s) in enumerate(zip(grads, state["sum"])):
        s = s + g * g
        clr = lr_for(hp, i, g) / per_member(1 + (t - 1) * hp["lr_decay"], g)
        sums.append(s)
        updates.append(-clr * g / (s.sqrt() + per_member(hp["eps"], g)))
    return updates, {"sum": sums, "t": t}


def _rmsprop_init(params: Sequence[Tensor]) -> State:
    return {"sq": _zeros(params), "buf": _zeros(params)}


def _rmsprop_update(grads, state, params, hp):
    """Tieleman & Hinton 2012: ``v <- a v + (1 - a) g^2``; ``b <- mu b + g / (sqrt(v) + eps)``;
    ``p <- p - lr b`` (``mu = 0`` is plain RMSProp)."""
    grads = _with_decay(grads, params, hp)
    sqs, bufs, updates = [], [], []
    for i, (g, v, b) in enumerate(zip(grads, state["sq"], state["buf"])):
        a = per_member(hp["alpha"], g)
        v = a * v + (1 - a) * g * g
        b = per_member(hp["momentum"], g) * b + g / (v.sqrt() + per_member(hp["eps"], g))
        sqs.append(v)
        bufs.append(b)
        updates.append(-lr_for(hp, i, g) * b)
    return updates, {"sq": sqs, "buf": bufs}


# -- adam, adamw --------------------------------------------------------------------------


def _adam_init(params: Sequence[Tensor]) -> State:
    return {"m": _zeros(params), "v": _zeros(params), "t": 0}


def _adam_update(grads, state, params, hp, *, decoupled: bool = False):
    """Kingma & Ba 2014: ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) g^2``;
    ``p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    AdamW (Loshchilov & Hutter 2019) decays the weights directly, ``p <- p (1 - lr wd)``,
    instead of adding ``wd p`` to the gradient.
    """
    t = state["t"] + 1
    if not decoupled:
        grads = _with_decay(grads, params, hp)
    ms, vs, updates = [], [], []
    for i, (g, m, v, p) in enumerate(zip(grads, state["m"], state["v"], params)):
        b1, b2 = per_member(hp["beta1"], g), per_member(hp["beta2"], g)
        lr = lr_for(hp, i, g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = v.sqrt() / (1 - b2**t).sqrt() + per_member(hp["eps"], g)
        u = -(lr / (1 - b1**t)) * m / denom
        if decoupled and "weight_decay" in hp:
            u = u - lr * per_member(hp["weight_decay"], p) * p
        ms.append(m)
        vs.append(v)
        updates.append(u)
    return updates, {"m": ms, "v": vs, "t": t}


def _adamw_update(grads, state, params, hp):
    return _adam_update(grads, state, params, hp, decoupled=True)


RULES: dict[str, UpdateRule] = {
    r.name: r
    for r in (
        UpdateRule("sgd", _sgd_init, _sgd_update, {"weight_decay": 0.0}, "SGD"),
        UpdateRule(
            "momentum", _momentum_init, _momentum_update,
            {"momentum": 0.9, "weight_decay": 0.0}, "SGD",
        ),
        UpdateRule(
            "nesterov", _momentum_init, _nesterov_update,
            {"momentum": 0.9, "weight_decay": 0.0}, "SGD",
        ),
        UpdateRule(
            "adagrad", _adagrad_init, _adagrad_update,
            {"lr_decay": 0.0, "eps": 1e-10, "weight_decay": 0.0}, "Adagrad",
        ),
        UpdateRule(
            "rmsprop", _rmsprop_init, _rmsprop_update,
            {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}, "RMSprop",
        ),
        UpdateRule(
            "adam", _adam_init, _adam_update,
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}, "Adam",
        ),
        UpdateRule(
            "adamw", _adam_init, _adamw_update,
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}, "AdamW",
        ),
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
