"""Rules that adapt a step size per weight from the signs of successive gradients.

Both compare this step's gradient with the last one, weight by weight: agreeing signs mean
the step can grow, a flip means it overshot. Mini-batch noise flips signs at random, so both
are meant for full batches (``full_batch=True``; large mini-batches may do).

* ``rprop`` (Riedmiller & Braun 1993): the step ignores the gradient's size entirely.
* ``delta_bar_delta`` (Jacobs 1988; Hinton's lecture 6b): a global rate times a gain per
  weight, optionally with momentum.

Example:
    >>> import torch
    >>> from lrlab.optim import RULES
    >>> rule, p = RULES["rprop"], [torch.ones(2, 3)]          # K = 2 members
    >>> hp = {k: torch.full((2,), v) for k, v in {"lr": 0.1, **rule.defaults}.items()}
    >>> updates, state = rule.update([torch.ones(2, 3)], rule.init(p), p, hp)
    >>> updates[0][0]
    tensor([-0.1000, -0.1000, -0.1000])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.optim._base import State, UpdateRule, lr_for, per_member, with_decay, zeros
from lrlab.optim._fused import rprop_apply
from lrlab.optim._inplace import dbd_apply

__all__ = ["DELTA_BAR_DELTA", "RPROP"]


def _rprop_init(params: Sequence[Tensor]) -> State:
    return {"prev": zeros(params), "step": zeros(params), "t": 0}


def _rprop_update(grads, state, params, hp):
    """Resilient backpropagation, as ``torch.optim.Rprop``.

    Per weight, with ``s = sign(g_t * g_{t-1})`` (``g_0 = 0``) and step sizes starting at
    ``lr`` (times the layer's ``lr_mult``)::

        step_t = clamp(step_{t-1} * (eta_plus if s > 0 else eta_minus if s < 0 else 1),
                       step_min, step_max)
        g_t    = 0 where s < 0            (a flip: shrink, and skip this weight once)
        p     <- p - sign(g_t) * step_t

    The skipped gradient is also what is remembered, so the next step sees ``s = 0`` there.
    ``lr`` is read at the first step only: a schedule has no effect on Rprop.

    Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning: the
    RPROP algorithm", ICNN 1993.
    """
    first = state["t"] == 0
    prevs, steps, updates = [], [], []
    for i, (g, prev, step) in enumerate(zip(grads, state["prev"], state["step"])):
        if first:
            step = lr_for(hp, i, g).expand_as(g)
        s = torch.sign(g * prev)
        factor = torch.where(s > 0, per_member(hp["eta_plus"], g),
                             torch.where(s < 0, per_member(hp["eta_minus"], g), 1.0))
        step = torch.minimum(torch.maximum(step * factor, per_member(hp["step_min"], g)),
                             per_member(hp["step_max"], g))
        g = torch.where(s < 0, 0.0, g)
        prevs.append(g)
        steps.append(step)
        updates.append(-torch.sign(g) * step)
    return updates, {"prev": prevs, "step": steps, "t": state["t"] + 1}


def _dbd_init(params: Sequence[Tensor]) -> State:
    return {"gain": [torch.ones_like(p) for p in params], "bar": zeros(params),
            "velocity": zeros(params)}


def _dbd_update(grads, state, params, hp):
    """Per-weight adaptive gains: a global rate times a local gain per weight.

    Per weight, with ``g_t`` the gradient (plus ``weight_decay * p``) and ``bar`` an
    exponential average of past gradients (``bar_0 = 0``)::

        gain_t = clamp(gain + kappa   if g_t * bar_{t-1} > 0,
                       gain * phi     if g_t * bar_{t-1} < 0,
                       gain           otherwise,             gain_min, gain_max)
        bar_t  = (1 - theta) g_t + theta bar_{t-1}
        v_t    = momentum v_{t-1} - lr gain_t g_t
        p     <- p + v_t

    Gains start at 1. With ``theta = 0`` (the default) ``bar_{t-1} = g_{t-1}``: the gain
    follows the sign of consecutive gradients, as in Hinton's lecture 6b; ``theta > 0`` is
    Jacobs' delta-bar-delta, whose bar average smooths out isolated flips. A zero product
    (the first step, a zero gradient) is no evidence and leaves the gain alone. Jacobs
    adapts per-weight rates directly; here the adaptation acts on the gain, so ``kappa`` is
    in units of ``lr`` and ``lr`` stays a global knob (and follows a schedule).

    Jacobs, "Increased rates of convergence through learning rate adaptation", Neural
    Networks 1988; Hinton, Srivastava & Swersky, Neural Networks for Machine Learning,
    lecture 6b, 2012.
    """
    grads = with_decay(grads, params, hp)
    gains, bars, velocities = [], [], []
    for i, (g, gain, bar, v) in enumerate(
            zip(grads, state["gain"], state["bar"], state["velocity"])):
        agree = g * bar
        gain = torch.where(agree > 0, gain + per_member(hp["kappa"], g),
                           torch.where(agree < 0, gain * per_member(hp["phi"], g), gain))
        gain = torch.minimum(torch.maximum(gain, per_member(hp["gain_min"], g)),
                             per_member(hp["gain_max"], g))
        theta = per_member(hp["theta"], g)
        gains.append(gain)
        bars.append((1 - theta) * g + theta * bar)
        velocities.append(per_member(hp["momentum"], g) * v - lr_for(hp, i, g) * gain * g)
    return list(velocities), {"gain": gains, "bar": bars, "velocity": velocities}


RPROP = UpdateRule(
    "rprop", _rprop_init, _rprop_update,
    {"eta_minus": 0.5, "eta_plus": 1.2, "step_min": 1e-6, "step_max": 50.0}, "Rprop",
    full_batch=True, apply=rprop_apply,
)

DELTA_BAR_DELTA = UpdateRule(
    "delta_bar_delta", _dbd_init, _dbd_update,
    {"kappa": 0.05, "phi": 0.95, "gain_min": 0.1, "gain_max": 10.0, "theta": 0.0,
     "momentum": 0.0, "weight_decay": 0.0},
    full_batch=True, apply=dbd_apply,
)
