"""The classic rules applied in place by torch's fused kernels, one call per member.

A rule's ``update`` is pure: it builds the update as a new tensor and leaves parameters and
state alone, which is what lets the population mask a diverged member and the
``Optimizer`` face keep torch's bookkeeping. The price is memory traffic: on the flat
``(K, P)`` parameters of a population, Adam's ``update`` makes about eight passes over
``K x P`` numbers plus the population's add, where ``torch.optim.Adam(fused=True)`` makes
one. For a caller that owns its parameters and state, :attr:`UpdateRule.apply` runs the
same formula through torch's fused kernel instead (``torch._fused_sgd_``,
``_fused_adagrad_``, ``_fused_adam_``, ``_fused_adamw_``): one pass per member, its
hyperparameters as numbers, the parameters and the rule's state changed in place. RMSprop,
which torch has no fused kernel for, runs torch's in-place foreach sequence member by
member, on rows that stay in the cache between its operations; so do Rprop, SGD-HD and
Adam-HD (one dot product per member for the hypergradient).

``grads`` may also be a function of the member index giving that member's gradient rows,
called once per live member just before its step: the population makes each member's
gradient then, in one reused row that is still in the cache for the kernel (the
hypergradient rules, whose rate needs every member's gradient first, decline it).

The formulas are ``torch.optim``'s, which is what ``update`` follows too; the rounding of
the last bit may differ from ``update`` (another order of operations inside the kernel).
``apply`` returns ``None`` where it does not run, and the caller then uses ``update``:
off the CPU (reading per-member numbers would wait on an accelerator every step), and
with layer-wise multipliers (``lr_mult``: a rate per element, which the kernels lack).

Example:
    >>> import torch
    >>> from lrlab.optim import RULES
    >>> rule, p = RULES["adam"], [torch.zeros(2, 3)]          # K = 2 members
    >>> hp = {k: torch.full((2,), v) for k, v in {"lr": 0.1, **rule.defaults}.items()}
    >>> state = rule.apply([torch.ones(2, 3)], rule.init(p), p, hp, None)
    >>> p[0][0], state["t"]
    (tensor([-0.1000, -0.1000, -0.1000]), 1)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from lrlab.optim._base import Grads, Hyper, State, with_decay

__all__ = [
    "adagrad_apply",
    "adam_apply",
    "adam_hd_apply",
    "adamw_apply",
    "momentum_apply",
    "nesterov_apply",
    "rmsprop_apply",
    "rprop_apply",
    "sgd_apply",
    "sgd_hd_apply",
]


def _members(params: Sequence[Tensor], hp: Hyper, alive: Tensor | None
             ) -> Iterator[tuple[int, dict[str, float]]]:
    """Each live member's index and hyperparameters as numbers (``weight_decay`` 0 when
    absent)."""
    values = {name: h.tolist() for name, h in hp.items()}
    flags = [True] * len(values["lr"]) if alive is None else alive.tolist()
    for k, live in enumerate(flags):
        if live:
            own = {name: v[k] for name, v in values.items()}
            own.setdefault("weight_decay", 0.0)
            yield k, own


def _runs(params: Sequence[Tensor], hp: Hyper, *state: Sequence[Tensor]) -> bool:
    """Whether the kernels can run: CPU tensors, no per-element rates, and parameters and
    state in plain memory order (the kernels walk memory, not strides)."""
    tensors = [*params, *(t for s in state for t in s)]
    return "lr_mult" not in hp and all(t.device.type == "cpu" and t.is_contiguous()
                                       for t in tensors)


def _rows(tensors: Sequence[Tensor], k: int) -> list[Tensor]:
    return [t[k] for t in tensors]


def _grad_rows(grads: Grads, k: int) -> list[Tensor]:
    """Member ``k``'s gradient rows: made now by the caller's function, or sliced."""
    rows = grads(k) if callable(grads) else [g[k] for g in grads]
    return [g.contiguous() for g in rows]  # autograd may hand back any layout


def _steps(tensors: Sequence[Tensor], t: int) -> list[Tensor]:
    """The step counters the kernels read (``t``, counted from 1), one per tensor."""
    return [torch.tensor(float(t), dtype=torch.float32) for _ in tensors]


def _sgd_family(grads, state, params, hp, alive, *, momentum: bool, nesterov: bool = False):
    bufs = state["buf"] if momentum else []
    if not _runs(params, hp, bufs):
        return None
    for k, h in _members(params, hp, alive):
        # a zero buffer and is_first_step=False give b = g on the first step, as update does
        torch._fused_sgd_(_rows(params, k), _grad_rows(grads, k), _rows(bufs, k),
                          weight_decay=h["weight_decay"], momentum=h.get("momentum", 0.0),
                          lr=h["lr"], dampening=0.0, nesterov=nesterov, maximize=False,
                          is_first_step=False)
    return state


def sgd_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
              alive: Tensor | None) -> State | None:
    """SGD in place: ``p <- p - lr (g + wd p)``."""
    return _sgd_family(grads, state, params, hp, alive, momentum=False)


def momentum_apply(grads: Grads, state: State, params: Sequence[Tensor],
                   hp: Hyper, alive: Tensor | None) -> State | None:
    """Heavy ball in place: ``b <- mu b + g``; ``p <- p - lr b``."""
    return _sgd_family(grads, state, params, hp, alive, momentum=True)


def nesterov_apply(grads: Grads, state: State, params: Sequence[Tensor],
                   hp: Hyper, alive: Tensor | None) -> State | None:
    """Nesterov momentum in place: ``b <- mu b + g``; ``p <- p - lr (g + mu b)``."""
    return _sgd_family(grads, state, params, hp, alive, momentum=True, nesterov=True)


def adagrad_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                  alive: Tensor | None) -> State | None:
    """Adagrad in place (``torch._fused_adagrad_``)."""
    if not _runs(params, hp, state["sum"]):
        return None
    t = state["t"] + 1
    for k, h in _members(params, hp, alive):
        torch._fused_adagrad_(_rows(params, k), _grad_rows(grads, k), _rows(state["sum"], k),
                              _steps(params, t), lr=h["lr"], lr_decay=h["lr_decay"],
                              weight_decay=h["weight_decay"], eps=h["eps"], maximize=False)
    return {"sum": state["sum"], "t": t}


def _adam(grads, state, params, hp, alive, kernel):
    if not _runs(params, hp, state["m"], state["v"]):
        return None
    t = state["t"] + 1
    for k, h in _members(params, hp, alive):
        kernel(_rows(params, k), _grad_rows(grads, k), _rows(state["m"], k), _rows(state["v"], k),
               [], _steps(params, t), lr=h["lr"], beta1=h["beta1"], beta2=h["beta2"],
               weight_decay=h["weight_decay"], eps=h["eps"], amsgrad=False, maximize=False)
    return {"m": state["m"], "v": state["v"], "t": t}


def adam_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
               alive: Tensor | None) -> State | None:
    """Adam in place (``torch._fused_adam_``)."""
    return _adam(grads, state, params, hp, alive, torch._fused_adam_)


def adamw_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                alive: Tensor | None) -> State | None:
    """AdamW in place (``torch._fused_adamw_``)."""
    return _adam(grads, state, params, hp, alive, torch._fused_adamw_)


def rmsprop_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                  alive: Tensor | None) -> State | None:
    """RMSprop in place. torch has no fused kernel for it, so this runs its foreach
    sequence of in-place operations member by member: each member's rows are small enough
    to stay in the cache between the operations, where the pure ``update`` streams all K
    members through memory once per operation."""
    if not _runs(params, hp, state["sq"], state["buf"]):
        return None
    for k, h in _members(params, hp, alive):
        for p, g, v, b in zip(_rows(params, k), _grad_rows(grads, k), _rows(state["sq"], k),
                              _rows(state["buf"], k)):
            if h["weight_decay"]:
                g = g.add(p, alpha=h["weight_decay"])
            v.mul_(h["alpha"]).addcmul_(g, g, value=1 - h["alpha"])
            avg = v.sqrt().add_(h["eps"])
            b.mul_(h["momentum"]).addcdiv_(g, avg)
            p.add_(b, alpha=-h["lr"])
    return state


def rprop_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                alive: Tensor | None) -> State | None:
    """Rprop in place, member by member (torch has no fused kernel for it either)."""
    if not _runs(params, hp, state["prev"], state["step"]):
        return None
    first = state["t"] == 0
    for k, h in _members(params, hp, alive):
        for g, p, prev, step in zip(_grad_rows(grads, k), _rows(params, k),
                                    _rows(state["prev"], k), _rows(state["step"], k)):
            if first:
                step.fill_(h["lr"])
            s = torch.mul(g, prev).sign_()
            factor = torch.ones_like(s).masked_fill_(s > 0, h["eta_plus"])
            step.mul_(factor.masked_fill_(s < 0, h["eta_minus"]))
            step.clamp_(h["step_min"], h["step_max"])
            prev.copy_(g).masked_fill_(s < 0, 0.0)  # a flip: skip this weight once
            p.addcmul_(prev.sign(), step, value=-1)
    return {"prev": state["prev"], "step": state["step"], "t": state["t"] + 1}


def _hyper_rate(grads, state, hp, before: str) -> Tensor:
    """Hypergradient descent's rate, ``alpha + beta <g, d>`` per member (``d`` the state's
    ``before`` tensors: the last gradient or direction), one dot product per member."""
    dots = [sum(torch.dot(g[k].reshape(-1), d[k].reshape(-1)) for g, d in
                zip(grads, state[before])) for k in range(len(hp["lr"]))]
    return state.get("lr", hp["lr"]) + hp["beta"] * torch.stack(dots).to(hp["beta"])


def sgd_hd_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                 alive: Tensor | None) -> State | None:
    """SGD-HD in place, member by member."""
    if callable(grads):  # the rate needs every member's gradient before any step
        return None
    if not _runs(params, hp, state["prev"]):
        return None
    grads = with_decay(grads, params, hp)  # the hypergradient sees the decayed gradient
    alpha = _hyper_rate(grads, state, hp, "prev")
    rates = alpha.tolist()
    for k, _ in _members(params, hp, alive):
        for p, g, prev in zip(_rows(params, k), _grad_rows(grads, k), _rows(state["prev"], k)):
            p.add_(g, alpha=-rates[k])
            prev.copy_(g)
    return {"prev": state["prev"], "lr": alpha}


def adam_hd_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                  alive: Tensor | None) -> State | None:
    """Adam-HD in place, member by member."""
    if callable(grads):  # the rate needs every member's gradient before any step
        return None
    if not _runs(params, hp, state["m"], state["v"], state["direction"]):
        return None
    grads = with_decay(grads, params, hp)  # the hypergradient sees the decayed gradient
    t = state["t"] + 1
    alpha = _hyper_rate(grads, state, hp, "direction")
    rates = alpha.tolist()
    for k, h in _members(params, hp, alive):
        b1, b2 = h["beta1"], h["beta2"]
        for p, g, m, v, d in zip(_rows(params, k), _grad_rows(grads, k), _rows(state["m"], k),
                                 _rows(state["v"], k), _rows(state["direction"], k)):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            torch.sqrt(v, out=d).div_((1 - b2**t) ** 0.5).add_(h["eps"])
            torch.div(m, d, out=d).div_(1 - b1**t)
            p.add_(d, alpha=-rates[k])
    return {"m": state["m"], "v": state["v"], "direction": state["direction"], "t": t,
            "lr": alpha}
