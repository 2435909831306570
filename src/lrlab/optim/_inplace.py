"""The rules torch has no optimizer for, applied in place member by member.

Delta-bar-delta and the learning-rate-free rules (DoG, Prodigy, D-Adaptation Adam; the
Schedule-Free rules' in-place steps live beside their averaging weight in
:mod:`lrlab.optim._free`) build their ``update`` from several ``(K, P)`` temporaries:
on the population's flat parameters each one is a pass through memory, 1.2-2.9x the cost
of the torch rule they extend (``benchmarks/rules_throughput.py``). Their
:attr:`~lrlab.optim.UpdateRule.apply` here runs the same formulas as in-place sequences
on one member's rows at a time, which stay in the cache between the operations (a member
of the MNIST MLP is 800 KB), as :mod:`lrlab.optim._fused` does for RMSprop and Rprop.
The per-member numbers their rates need (DoG's distance and gradient sum, Prodigy's and
D-Adaptation's ``d``) are reductions over that member's rows, read as numbers on the host.

The formulas are each rule's ``update`` (see their docstrings); the rounding of the last
bit may differ (another order of operations). Like the other ``apply`` functions these
return ``None`` off the CPU and with layer-wise multipliers, and leave a frozen member's
parameters and state alone.

Example:
    >>> import torch
    >>> from lrlab.optim import RULES
    >>> rule, p = RULES["dog"], [torch.ones(2, 3)]            # K = 2 members
    >>> hp = {k: torch.full((2,), v) for k, v in {"lr": 1.0, **rule.defaults}.items()}
    >>> state = rule.apply([torch.ones(2, 3)], rule.init(p), p, hp, None)
    >>> state["t"], p[0].shape
    (1, torch.Size([2, 3]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.optim._base import Grads, Hyper, State
from lrlab.optim._fused import _grad_rows, _members, _rows, _runs

__all__ = ["dadapt_adam_apply", "dbd_apply", "dog_apply", "prodigy_apply"]


def _decayed(grads: list[Tensor], params: list[Tensor], wd: float) -> list[Tensor]:
    """``g + wd p`` (new tensors; the gradients are left as they are) or the gradients."""
    return [g.add(p, alpha=wd) for g, p in zip(grads, params)] if wd else grads


def _squares(tensors: Sequence[Tensor]) -> Tensor:
    """The sum of squares over every element of ``tensors`` (one member's rows)."""
    return sum(torch.dot(t.reshape(-1), t.reshape(-1)) for t in tensors)


def _abs_sum(tensors: Sequence[Tensor]) -> float:
    return float(sum(torch.linalg.vector_norm(t, 1) for t in tensors))


def _vector(values: dict[int, float], fallback: Tensor) -> Tensor:
    """``fallback`` (a ``(K,)`` tensor) with the members in ``values`` replaced."""
    out = fallback.clone()
    for k, value in values.items():
        out[k] = value
    return out


# -- delta-bar-delta ----------------------------------------------------------------------


def dbd_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
              alive: Tensor | None) -> State | None:
    """Delta-bar-delta in place (see ``_adaptive._dbd_update``)."""
    if not _runs(params, hp, state["gain"], state["bar"], state["velocity"]):
        return None
    for k, h in _members(params, hp, alive):
        ps = _rows(params, k)
        for p, g, gain, bar, v in zip(ps, _decayed(_grad_rows(grads, k), ps,
                                                   h["weight_decay"]),
                                      _rows(state["gain"], k), _rows(state["bar"], k),
                                      _rows(state["velocity"], k)):
            agree = g * bar
            gain.add_(agree > 0, alpha=h["kappa"])  # + kappa where they agree, + 0 elsewhere
            torch.where(agree < 0, gain * h["phi"], gain, out=gain)
            gain.clamp_(h["gain_min"], h["gain_max"])
            bar.lerp_(g, 1 - h["theta"])  # exactly g for theta = 0 (lerp's weight-1 branch)
            v.mul_(h["momentum"]).addcmul_(gain, g, value=-h["lr"])
            p.add_(v)
    return state


# -- DoG ----------------------------------------------------------------------------------


def dog_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
              alive: Tensor | None) -> State | None:
    """DoG in place (see ``_free._dog_update``): member by member, its distance and
    gradient sum as numbers, then ``p <- p - eta g``."""
    if not _runs(params, hp, state["x0"]):
        return None
    first = state["t"] == 0
    rbar, big_g = state["rbar"].tolist(), state["G"].tolist()
    eta = state["lr"].tolist() if "lr" in state else [0.0] * len(rbar)
    for k, h in _members(params, hp, alive):
        ps, x0s = _rows(params, k), _rows(state["x0"], k)
        gs = _decayed(_grad_rows(grads, k), ps, h["weight_decay"])
        squares = float(_squares(gs))
        if first:
            rbar[k] = h["reps_rel"] * (1 + float(_squares(x0s)) ** 0.5)
            big_g[k] = squares + h["eps"]
        else:
            distance = float(_squares([p - x0 for p, x0 in zip(ps, x0s)])) ** 0.5
            rbar[k], big_g[k] = max(rbar[k], distance), big_g[k] + squares
        eta[k] = h["lr"] * rbar[k] / big_g[k] ** 0.5
        for p, g in zip(ps, gs):
            p.add_(g, alpha=-eta[k])
    like = state["rbar"]
    return {"x0": state["x0"], "rbar": like.new_tensor(rbar), "G": like.new_tensor(big_g),
            "t": state["t"] + 1, "lr": like.new_tensor(eta)}


# -- Prodigy and D-Adaptation Adam ----------------------------------------------------------


def _start(state: State, name: str, hp: Hyper, default: str) -> list[float]:
    """``state[name]`` per member, or the ``default`` hyperparameter on the first step."""
    return (hp[default] if state["t"] == 0 else state[name]).tolist()


def prodigy_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                  alive: Tensor | None) -> State | None:
    """Prodigy in place (see ``_free._prodigy_update``): member by member, the moments and
    ``s`` updated, then ``d`` from the new ``|s|_1``, then the step."""
    if not _runs(params, hp, state["m"], state["v"], state["s"], state["p0"]):
        return None
    d, d_max = _start(state, "d", hp, "d0"), _start(state, "d_max", hp, "d0")
    r = state["r"].tolist()
    new_d, new_r = dict(enumerate(d)), {}
    for k, h in _members(params, hp, alive):
        b3, dk = h["beta2"] ** 0.5, d[k]
        dlr = dk * h["lr"]
        scale = dk / h["d0"] * dlr
        ps, gs = _rows(params, k), _grad_rows(grads, k)
        ms, vs, ss = _rows(state["m"], k), _rows(state["v"], k), _rows(state["s"], k)
        cross = float(sum(torch.dot(g.reshape(-1), (x0 - p).reshape(-1))
                          for g, x0, p in zip(gs, _rows(state["p0"], k), ps)))
        rk = b3 * r[k] + scale * cross
        for g, m, v, s in zip(gs, ms, vs, ss):
            m.mul_(h["beta1"]).add_(g, alpha=dk * (1 - h["beta1"]))
            v.mul_(h["beta2"]).addcmul_(g, g, value=dk * dk * (1 - h["beta2"]))
            s.mul_(b3).add_(g, alpha=scale)
        denom = _abs_sum(ss)
        if denom <= 0:  # no step; r and d kept, as the reference returns early
            continue
        new_r[k] = rk
        new_d[k] = max(d_max[k], h["d_coef"] * rk / denom)
        for p, m, v in zip(ps, ms, vs):
            if h["weight_decay"]:
                p.mul_(1 - dlr * h["weight_decay"])
            p.addcdiv_(m, v.sqrt().add_(new_d[k] * h["eps"]), value=-dlr)
    ds = state["r"].new_tensor([new_d[k] for k in range(len(d))])
    return {"m": state["m"], "v": state["v"], "s": state["s"], "p0": state["p0"],
            "r": _vector(new_r, state["r"]), "d": ds, "d_max": ds.clone(),
            "t": state["t"] + 1, "lr": state["r"].new_tensor(d) * hp["lr"]}


def dadapt_adam_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                      alive: Tensor | None) -> State | None:
    """D-Adaptation Adam in place (see ``_free._dadapt_adam_update``): member by member,
    the sum against the old ``s`` and ``v``, the moments and ``s`` updated, then ``d`` and
    the step."""
    if not _runs(params, hp, state["m"], state["v"], state["s"]):
        return None
    d, r = _start(state, "d", hp, "d0"), state["r"].tolist()
    new_d, new_r = dict(enumerate(d)), {}
    for k, h in _members(params, hp, alive):
        b = h["beta2"] ** 0.5
        dlr, eps = d[k] * h["lr"], h["eps"]
        ps = _rows(params, k)
        gs = _decayed(_grad_rows(grads, k), ps, h["weight_decay"])
        ms, vs, ss = _rows(state["m"], k), _rows(state["v"], k), _rows(state["s"], k)
        acc = float(sum(torch.dot(g.reshape(-1), (s / (v.sqrt() + eps)).reshape(-1))
                        for g, s, v in zip(gs, ss, vs)))
        rk = b * r[k] + (1 - b) * dlr * acc
        for g, m, v, s in zip(gs, ms, vs, ss):
            m.mul_(h["beta1"]).add_(g, alpha=dlr * (1 - h["beta1"]))
            v.mul_(h["beta2"]).addcmul_(g, g, value=1 - h["beta2"])
            s.mul_(b).add_(g, alpha=dlr * (1 - b))
        l1 = _abs_sum(ss)
        if l1 <= 0:
            continue
        new_r[k] = rk
        new_d[k] = max(d[k], rk / ((1 - b) * l1))
        for p, m, v in zip(ps, ms, vs):
            p.addcdiv_(m, v.sqrt().add_(eps), value=-1)
    return {"m": state["m"], "v": state["v"], "s": state["s"],
            "r": _vector(new_r, state["r"]),
            "d": state["r"].new_tensor([new_d[k] for k in range(len(d))]),
            "t": state["t"] + 1, "lr": state["r"].new_tensor(d) * hp["lr"]}
