"""Learning-rate-free rules: Prodigy, D-Adaptation (Adam), DoG and Schedule-Free SGD/AdamW.

Each estimates its own step size (or, for Schedule-Free, replaces the decay schedule by
averaging), so the member's ``lr`` is a *multiplier*: 1 for Prodigy, D-Adaptation and DoG
(their papers' advice), the Adam or SGD rate for Schedule-Free. A schedule still multiplies
it (a warm-up, a cooldown). Estimates are per member, over all of its parameters at once:
the dot products and norms run over every parameter tensor.

Prodigy, D-Adaptation and DoG keep the step size they used in ``state["lr"]`` (``d * lr``,
or DoG's ``eta``), which the population records as the member's rate, so a run shows what
each rule settled on (and :func:`lrlab.search.prodigy_probe` reads Prodigy's estimate).

Schedule-Free keeps three sequences: ``z`` (the SGD/Adam iterate), ``x`` (its weighted
average, the weights to *evaluate*) and ``y = beta x + (1 - beta) z`` (where gradients are
taken, the weights the population trains). :attr:`UpdateRule.eval_params` gives ``x``; the
population evaluates with it (:meth:`lrlab.population.Population.predict`).

The formulas follow the reference packages (``prodigyopt`` 1.1, ``dadaptation`` 3.2,
``dog-optimizer`` 1.0, ``schedulefree`` 1.4, their defaults; no growth-rate limit and no
bias correction), which the tests hold them to over 100+ float64 steps. Hyperparameters
the references take but these rules do not: Prodigy's ``beta3`` (always ``sqrt(beta2)``),
``growth_rate``, ``safeguard_warmup`` and ``use_bias_correction``; DoG's ``init_eta``;
Schedule-Free's ``warmup_steps`` (use a schedule's warm-up: the population hands the rule
the scheduled rate, which is what the reference computes inside).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.optim._base import (
    Grads,
    Hyper,
    State,
    UpdateRule,
    lr_for,
    per_member,
    with_decay,
    zeros,
)
from lrlab.optim._fused import _grad_rows, _rows, _runs
from lrlab.optim._fused import _members as _live_members
from lrlab.optim._inplace import _decayed, dadapt_adam_apply, dog_apply, prodigy_apply

__all__ = ["DADAPT_ADAM", "DOG", "FREE_RULES", "PRODIGY", "SF_ADAMW", "SF_SGD"]


def _total(tensors: Sequence[Tensor]) -> Tensor:
    """Per member, the sum over every element of every tensor: ``(K,)``."""
    return sum(t.flatten(1).sum(1) for t in tensors)


def _members(params: Sequence[Tensor]) -> int:
    return params[0].shape[0]


def _first(state: State, name: str, value: Tensor) -> Tensor:
    """``state[name]``, or ``value`` on the first step (when hyperparameters are first seen)."""
    return value.clone() if state["t"] == 0 else state[name]


# -- Prodigy ------------------------------------------------------------------------------


def _prodigy_init(params: Sequence[Tensor]) -> State:
    k = _members(params)
    blank = params[0].new_zeros(k)
    return {"m": zeros(params), "v": zeros(params), "s": zeros(params),
            "p0": [p.detach().clone() for p in params], "r": blank, "d": blank,
            "d_max": blank, "t": 0}


def _prodigy_update(grads, state, params, hp):
    """Prodigy (Mishchenko & Defazio 2023): Adam whose rate ``d lr`` estimates the distance
    to the solution. With ``b3 = sqrt(b2)`` and ``dlr = d lr``::

        r <- b3 r + (d / d0) dlr <g, x0 - x>
        m <- b1 m + d (1 - b1) g;     v <- b2 v + d^2 (1 - b2) g^2
        s <- b3 s + (d / d0) dlr g
        d <- max(d, d_coef r / |s|_1)                      (d starts at d0)
        x <- x - dlr wd x - dlr m / (sqrt(v) + d eps)      (the new d under eps)

    ``weight_decay`` is decoupled (the reference's default). A member whose ``|s|_1`` is 0
    takes no step and keeps ``r`` and ``d``, as the reference returns early.
    """
    d0 = hp["d0"]
    d, d_max = _first(state, "d", d0), _first(state, "d_max", d0)
    b1, b2, lr = hp["beta1"], hp["beta2"], hp["lr"]
    b3, dlr, scale = b2.sqrt(), d * lr, d / d0 * d * lr
    cross = _total([g * (x0 - p) for g, x0, p in zip(grads, state["p0"], params)])
    r = b3 * state["r"] + scale * cross
    ms, vs, ss = [], [], []
    for g, m, v, s in zip(grads, state["m"], state["v"], state["s"]):
        ms.append(per_member(b1, g) * m + per_member(d * (1 - b1), g) * g)
        vs.append(per_member(b2, g) * v + per_member(d * d * (1 - b2), g) * g * g)
        ss.append(per_member(b3, g) * s + per_member(scale, g) * g)
    denom = _total([s.abs() for s in ss])
    moved = denom > 0
    d_hat = hp["d_coef"] * r / torch.where(moved, denom, torch.ones_like(denom))
    new_d = torch.where(moved, torch.maximum(d_max, d_hat), d)
    updates = []
    for i, (m, v, p) in enumerate(zip(ms, vs, params)):
        step = lr_for(hp, i, p, dlr)
        u = -step * m / (v.sqrt() + per_member(new_d * hp["eps"], p))
        if "weight_decay" in hp:
            u = u - step * per_member(hp["weight_decay"], p) * p
        updates.append(torch.where(per_member(moved, p), u, 0.0))
    return updates, {"m": ms, "v": vs, "s": ss, "p0": state["p0"],
                     "r": torch.where(moved, r, state["r"]),
                     "d": new_d, "d_max": new_d, "t": state["t"] + 1, "lr": dlr}


# -- D-Adaptation (Adam) ------------------------------------------------------------------


def _dadapt_init(params: Sequence[Tensor]) -> State:
    blank = params[0].new_zeros(_members(params))
    return {"m": zeros(params), "v": zeros(params), "s": zeros(params), "r": blank,
            "d": blank, "t": 0}


def _dadapt_adam_update(grads, state, params, hp):
    """D-Adaptation with Adam (Defazio & Mishchenko 2023). With ``b = sqrt(b2)``, ``dlr = d lr``
    and the old ``s`` and ``v``::

        r <- b r + (1 - b) dlr <g, s / (sqrt(v) + eps)>
        m <- b1 m + dlr (1 - b1) g;   v <- b2 v + (1 - b2) g^2;   s <- b s + dlr (1 - b) g
        d <- max(d, r / ((1 - b) |s|_1))                         (d starts at d0)
        x <- x - m / (sqrt(v) + eps)

    where ``g`` includes ``weight_decay * x`` (the reference's default, L2).
    """
    grads = with_decay(grads, params, hp)
    d = _first(state, "d", hp["d0"])
    b1, b2 = hp["beta1"], hp["beta2"]
    b, dlr = b2.sqrt(), d * hp["lr"]
    eps = hp["eps"]
    acc = _total([g * s / (v.sqrt() + per_member(eps, v))
                  for g, s, v in zip(grads, state["s"], state["v"])])
    r = b * state["r"] + (1 - b) * dlr * acc
    ms, vs, ss = [], [], []
    for g, m, v, s in zip(grads, state["m"], state["v"], state["s"]):
        ms.append(per_member(b1, g) * m + per_member(dlr * (1 - b1), g) * g)
        vs.append(per_member(b2, g) * v + per_member(1 - b2, g) * g * g)
        ss.append(per_member(b, g) * s + per_member(dlr * (1 - b), g) * g)
    l1 = _total([s.abs() for s in ss])
    moved = l1 > 0
    d_hat = r / ((1 - b) * torch.where(moved, l1, torch.ones_like(l1)))
    new_d = torch.where(moved, torch.maximum(d, d_hat), d)
    updates = [torch.where(per_member(moved, m),
                           -lr_for(hp, i, m, torch.ones_like(d)) * m
                           / (v.sqrt() + per_member(eps, v)), 0.0)
               for i, (m, v) in enumerate(zip(ms, vs))]
    return updates, {"m": ms, "v": vs, "s": ss, "r": torch.where(moved, r, state["r"]),
                     "d": new_d, "t": state["t"] + 1, "lr": dlr}


# -- DoG ----------------------------------------------------------------------------------


def _dog_init(params: Sequence[Tensor]) -> State:
    blank = params[0].new_zeros(_members(params))
    return {"x0": [p.detach().clone() for p in params], "rbar": blank, "G": blank, "t": 0}


def _norm(tensors: Sequence[Tensor]) -> Tensor:
    return _total([t * t for t in tensors]).sqrt()


def _dog_update(grads, state, params, hp):
    """DoG, distance over gradients (Ivgi, Hinder & Carmon 2023): SGD at the rate::

        eta_t = lr * max_{i <= t} |x_i - x_0| / sqrt(sum_{i <= t} |g_i|^2 + eps)

    with the first distance ``reps_rel (1 + |x_0|)``; ``g`` includes ``weight_decay * x``.
    """
    grads = with_decay(grads, params, hp)
    squares = _total([g * g for g in grads])
    if state["t"] == 0:
        rbar = hp["reps_rel"] * (1 + _norm(state["x0"]))
        big_g = squares + hp["eps"]
    else:
        rbar = torch.maximum(state["rbar"],
                             _norm([p - x0 for p, x0 in zip(params, state["x0"])]))
        big_g = state["G"] + squares
    eta = hp["lr"] * rbar / big_g.sqrt()
    updates = [-lr_for(hp, i, g, eta) * g for i, g in enumerate(grads)]
    return updates, {"x0": state["x0"], "rbar": rbar, "G": big_g, "t": state["t"] + 1,
                     "lr": eta}


# -- Schedule-Free SGD and AdamW ----------------------------------------------------------


def _sf_init(params: Sequence[Tensor], *, adam: bool = False) -> State:
    blank = params[0].new_zeros(_members(params))
    state = {"z": [p.detach().clone() for p in params], "x": [p.detach().clone() for p in params],
             "lr_max": blank, "weight_sum": blank, "t": 0}
    return state | ({"v": zeros(params)} if adam else {})


def _sf_adamw_init(params: Sequence[Tensor]) -> State:
    return _sf_init(params, adam=True)


def _sf_weight(state: State, hp: Hyper) -> tuple[Tensor, Tensor, Tensor]:
    """The averaging weight ``c = w_t / sum w``, ``w_t = (t + 1)^r lr_max^p``, with
    ``lr_max`` the largest rate so far (0 weight while every rate so far was 0)."""
    lr = hp["lr"]
    lr_max = _first(state, "lr_max", lr)
    lr_max = torch.maximum(lr_max, lr)
    weight = (state["t"] + 1) ** hp["r"] * lr_max ** hp["weight_lr_power"]
    weight_sum = state["weight_sum"] + weight
    c = torch.where(weight_sum > 0, weight / torch.where(weight_sum > 0, weight_sum, 1.0), 0.0)
    return c, lr_max, weight_sum


def _sf_finish(state: State, params, zs, c: Tensor, beta: Tensor, lr_max, weight_sum,
               **extra) -> tuple[list[Tensor], State]:
    """``x <- (1 - c) x + c z``; ``y <- beta x + (1 - beta) z``; the step is ``y - params``."""
    xs = [per_member(1 - c, x) * x + per_member(c, x) * z for x, z in zip(state["x"], zs)]
    ys = [per_member(beta, x) * x + per_member(1 - beta, x) * z for x, z in zip(xs, zs)]
    new = {"z": zs, "x": xs, "lr_max": lr_max, "weight_sum": weight_sum, "t": state["t"] + 1}
    return [y - p for y, p in zip(ys, params)], new | extra


def _sf_sgd_update(grads, state, params, hp):
    """Schedule-Free SGD (Defazio et al. 2024), gradients taken at ``y`` (the parameters)::

        z <- z - lr (g + wd y);   x <- (1 - c) x + c z;   y <- m x + (1 - m) z

    ``m`` is ``momentum``, ``c`` the averaging weight (see :func:`_sf_weight`).
    """
    grads = with_decay(grads, params, hp)
    c, lr_max, weight_sum = _sf_weight(state, hp)
    zs = [z - lr_for(hp, i, g) * g for i, (z, g) in enumerate(zip(state["z"], grads))]
    return _sf_finish(state, params, zs, c, hp["momentum"], lr_max, weight_sum)


def _sf_adamw_update(grads, state, params, hp):
    """Schedule-Free AdamW (Defazio et al. 2024), gradients taken at ``y`` (the parameters)::

        z <- z - lr wd y;   v <- b2 v + (1 - b2) g^2
        z <- z - lr g / (sqrt(v / (1 - b2^t)) + eps)
        x <- (1 - c) x + c z;   y <- b1 x + (1 - b1) z
    """
    t = state["t"] + 1
    c, lr_max, weight_sum = _sf_weight(state, hp)
    b2 = hp["beta2"]
    zs, vs = [], []
    for i, (z, v, g, y) in enumerate(zip(state["z"], state["v"], grads, params)):
        lr = lr_for(hp, i, g)
        if "weight_decay" in hp:
            z = z - lr * per_member(hp["weight_decay"], y) * y
        v = per_member(b2, g) * v + per_member(1 - b2, g) * g * g
        denom = (v / per_member(1 - b2**t, v)).sqrt() + per_member(hp["eps"], v)
        zs.append(z - lr * g / denom)
        vs.append(v)
    return _sf_finish(state, params, zs, c, hp["beta1"], lr_max, weight_sum, v=vs)


def _sf_eval(state: State, params: Sequence[Tensor]) -> list[Tensor]:
    """The weights to evaluate: the average ``x`` (the parameters before any step)."""
    return list(state["x"])


def _sf_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
              alive: Tensor | None, *, adam: bool) -> State | None:
    """Schedule-Free SGD or AdamW in place (see ``_free._sf_sgd_update`` and
    ``_sf_adamw_update``): ``z`` stepped, ``x`` moved towards it, the parameters set to
    ``y``, member by member; the averaging weight for all members at once, as ``update``
    computes it."""
    if not _runs(params, hp, state["z"], state["x"], *([state["v"]] if adam else [])):
        return None
    t = state["t"] + 1
    c, lr_max, weight_sum = _sf_weight(state, hp)
    cs = c.tolist()
    for k, h in _live_members(params, hp, alive):
        lr, wd = h["lr"], h["weight_decay"]
        ps, zs, xs = _rows(params, k), _rows(state["z"], k), _rows(state["x"], k)
        gs = _grad_rows(grads, k)
        if adam:
            for g, z, v, y in zip(gs, zs, _rows(state["v"], k), ps):
                if wd:
                    z.add_(y, alpha=-lr * wd)
                v.mul_(h["beta2"]).addcmul_(g, g, value=1 - h["beta2"])
                denom = torch.div(v, 1 - h["beta2"] ** t).sqrt_().add_(h["eps"])
                z.addcdiv_(g, denom, value=-lr)
        else:
            for g, z in zip(_decayed(gs, ps, wd), zs):
                z.add_(g, alpha=-lr)
        beta = h["beta1"] if adam else h["momentum"]
        for p, z, x in zip(ps, zs, xs):
            x.lerp_(z, cs[k])
            torch.lerp(z, x, beta, out=p)
    return {"z": state["z"], "x": state["x"], "lr_max": lr_max, "weight_sum": weight_sum,
            "t": t} | ({"v": state["v"]} if adam else {})


def sf_sgd_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                 alive: Tensor | None) -> State | None:
    """Schedule-Free SGD in place."""
    return _sf_apply(grads, state, params, hp, alive, adam=False)


def sf_adamw_apply(grads: Grads, state: State, params: Sequence[Tensor], hp: Hyper,
                   alive: Tensor | None) -> State | None:
    """Schedule-Free AdamW in place."""
    return _sf_apply(grads, state, params, hp, alive, adam=True)


PRODIGY = UpdateRule("prodigy", _prodigy_init, _prodigy_update,
                     {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                      "d0": 1e-6, "d_coef": 1.0}, apply=prodigy_apply, multiplier=True)
DADAPT_ADAM = UpdateRule("dadapt_adam", _dadapt_init, _dadapt_adam_update,
                         {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                          "d0": 1e-6}, apply=dadapt_adam_apply, multiplier=True)
DOG = UpdateRule("dog", _dog_init, _dog_update,
                 {"reps_rel": 1e-6, "eps": 1e-8, "weight_decay": 0.0}, apply=dog_apply,
                 multiplier=True)
SF_SGD = UpdateRule("sf_sgd", _sf_init, _sf_sgd_update,
                    {"momentum": 0.9, "weight_decay": 0.0, "r": 0.0, "weight_lr_power": 2.0},
                    eval_params=_sf_eval, apply=sf_sgd_apply)
SF_ADAMW = UpdateRule("sf_adamw", _sf_adamw_init, _sf_adamw_update,
                      {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                       "r": 0.0, "weight_lr_power": 2.0},
                      eval_params=_sf_eval, apply=sf_adamw_apply)

#: The learning-rate-free rules, by name.
FREE_RULES: dict[str, UpdateRule] = {r.name: r for r in (PRODIGY, DADAPT_ADAM, DOG, SF_SGD,
                                                         SF_ADAMW)}
