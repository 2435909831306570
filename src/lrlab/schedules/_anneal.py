"""Annealing schedules: cosine, cosine with warm restarts (SGDR), cyclical (CLR), one-cycle.

Closed forms of ``t``, with every numeric parameter on the member axis. They reproduce the
values of ``torch.optim.lr_scheduler``'s ``CosineAnnealingLR``, ``CosineAnnealingWarmRestarts``,
``CyclicLR`` and ``OneCycleLR`` (the tests drive those step by step and compare).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.schedules._base import (
    Schedule,
    Unit,
    Value,
    check_choice,
    check_unit,
    frozen,
    member_params,
    require,
)

__all__ = ["Anneal", "CycleMode", "cosine", "cosine_restarts", "cyclical", "one_cycle"]

CycleMode = Literal["triangular", "triangular2", "exp_range"]
Anneal = Literal["cos", "linear"]


def _half_cosine(start: Tensor, end: Tensor, done: Tensor) -> Tensor:
    """From ``start`` (``done = 0``) to ``end`` (``done = 1``) along half a cosine."""
    return end + (start - end) / 2.0 * (torch.cos(math.pi * done) + 1)


@frozen
class Cosine(Schedule):
    lr0: Tensor
    total: Tensor
    min_lr: Tensor

    def rate(self, t: Tensor) -> Tensor:
        return _half_cosine(self.lr0, self.min_lr, torch.clamp(t / self.total, max=1.0))


@frozen
class CosineRestarts(Schedule):
    lr0: Tensor
    first: Tensor
    mult: Tensor
    min_lr: Tensor
    peak_factor: Tensor

    def _start(self, n: Tensor) -> Tensor:
        """When cycle ``n`` (0-based) starts: ``first * (mult**n - 1) / (mult - 1)``."""
        grows = self.mult > 1
        span = torch.where(grows, self.mult - 1, torch.ones_like(self.mult))
        return torch.where(grows, self.first * (self.mult**n - 1) / span, self.first * n)

    def rate(self, t: Tensor) -> Tensor:
        grows = self.mult > 1
        log_mult = torch.where(grows, torch.log(self.mult), torch.ones_like(self.mult))
        n = torch.where(grows, torch.log1p(t * (self.mult - 1) / self.first) / log_mult,
                        t / self.first)
        n = torch.floor(n)
        n = n - (t < self._start(n)).to(t.dtype)          # the logarithm may round across
        n = n + (t >= self._start(n + 1)).to(t.dtype)     # a restart: settle on the cycle
        start = self._start(n)
        length = self.first * self.mult**n
        peak = self.min_lr + (self.lr0 - self.min_lr) * self.peak_factor**n
        return _half_cosine(peak, self.min_lr, (t - start) / length)


@frozen
class Cyclical(Schedule):
    lo: Tensor
    hi: Tensor
    half_period: Tensor
    gamma: Tensor
    mode: CycleMode

    def rate(self, t: Tensor) -> Tensor:
        where = t / (2 * self.half_period)
        cycle = torch.floor(where)
        x = where - cycle                                  # position in the cycle, [0, 1)
        height = torch.where(x <= 0.5, x / 0.5, (x - 1) / (0.5 - 1))
        if self.mode == "triangular2":
            height = height / 2.0**cycle
        elif self.mode == "exp_range":
            height = height * self.gamma**t
        return self.lo + (self.hi - self.lo) * height


@frozen
class OneCycle(Schedule):
    max_lr: Tensor
    total: Tensor
    pct_start: Tensor
    div_factor: Tensor
    final_div_factor: Tensor
    anneal: Anneal
    three_phase: bool

    def phases(self) -> list[tuple[Tensor, Tensor, Tensor]]:
        """``(end_step, start_lr, end_lr)`` per phase, as ``torch``'s ``OneCycleLR`` has them."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        rise = self.pct_start * self.total - 1
        if self.three_phase:
            return [(rise, initial, self.max_lr),
                    (2 * self.pct_start * self.total - 2, self.max_lr, initial),
                    (self.total - 1, initial, final)]
        return [(rise, initial, self.max_lr), (self.total - 1, self.max_lr, final)]

    def rate(self, t: Tensor) -> Tensor:
        t = torch.minimum(t, self.total - 1)
        phases = self.phases()
        begins = [torch.zeros_like(self.total)] + [end for end, _, _ in phases[:-1]]
        out = None
        for (end, lo, hi), begin in reversed(list(zip(phases, begins))):
            done = (t - begin) / (end - begin)
            value = (_half_cosine(lo, hi, done) if self.anneal == "cos"
                     else (hi - lo) * done + lo)
            out = value if out is None else torch.where(t <= end, value, out)
        return out


def cosine(lr0: Value, *, total: Value, min_lr: Value = 0.0, unit: Unit = "epoch") -> Schedule:
    """Cosine annealing from ``lr0`` to ``min_lr`` over ``total``, then ``min_lr``:

    ``lr(t) = min_lr + (lr0 - min_lr) * (1 + cos(pi * min(t, total) / total)) / 2``.

    ``torch``'s ``CosineAnnealingLR(T_max=total, eta_min=min_lr)`` up to ``total`` (torch
    then climbs back up; this stays at ``min_lr``); Keras' ``CosineDecay`` with
    ``min_lr = alpha * lr0``.

    Args:
        lr0: the rate at ``t = 0``.
        total: the length of the anneal, ``> 0``.
        min_lr: the final rate, ``<= lr0``.
        unit: the unit of ``t`` and ``total``.

    Example:
        >>> cosine(0.1, total=10)(5)
        tensor([0.0500], dtype=torch.float64)

    Reference:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017).
    """
    check_unit(unit)
    p = member_params(lr0=lr0, total=total, min_lr=min_lr,
                      positive={"total": "the length of the anneal"})
    require("min_lr", p["min_lr"], p["min_lr"] <= p["lr0"], "<= lr0 (the anneal goes down)")
    return Cosine(unit=unit, **p)


def cosine_restarts(lr0: Value, *, first: Value, mult: Value = 1.0, min_lr: Value = 0.0,
                    peak_factor: Value = 1.0, unit: Unit = "epoch") -> Schedule:
    """Cosine annealing with warm restarts (SGDR).

    Cycle ``i`` (0-based) lasts ``T_i = first * mult**i`` and starts at ``S_i = sum of the
    T_j before it``; within it, with ``peak_i = min_lr + (lr0 - min_lr) * peak_factor**i``,
    ``lr(t) = min_lr + (peak_i - min_lr) * (1 + cos(pi * (t - S_i) / T_i)) / 2``.

    ``torch``'s ``CosineAnnealingWarmRestarts(T_0=first, T_mult=mult, eta_min=min_lr)``
    (``peak_factor = 1``; torch needs integer ``mult``, here any ``mult >= 1``) and Keras'
    ``CosineDecayRestarts(t_mul=mult, m_mul=peak_factor, alpha=min_lr / lr0)``.

    Args:
        lr0: the rate at each restart (times ``peak_factor**i``).
        first: the length of the first cycle, ``> 0``.
        mult: how much longer each cycle is than the one before, ``>= 1``.
        min_lr: the rate at the end of each cycle, ``<= lr0``.
        peak_factor: how much lower each restart's peak is, ``<= 1`` (1 keeps ``lr0``).
        unit: the unit of ``t`` and ``first``.

    Example:
        >>> cosine_restarts(0.1, first=10, mult=2)(torch.tensor([0.0, 10.0, 20.0]))[:, 0]
        tensor([0.1000, 0.1000, 0.0500], dtype=torch.float64)

    Reference:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017).
    """
    check_unit(unit)
    p = member_params(lr0=lr0, first=first, mult=mult, min_lr=min_lr, peak_factor=peak_factor,
                      positive={"first": "the length of the first cycle"})
    require("mult", p["mult"], p["mult"] >= 1, ">= 1 (cycles never get shorter)")
    require("min_lr", p["min_lr"], p["min_lr"] <= p["lr0"], "<= lr0 (each cycle goes down)")
    require("peak_factor", p["peak_factor"], p["peak_factor"] <= 1, "<= 1 (1 keeps every peak)")
    return CosineRestarts(unit=unit, **p)


def cyclical(lo: Value, hi: Value, *, half_period: Value, mode: CycleMode = "triangular",
             gamma: Value = 1.0, unit: Unit = "epoch") -> Schedule:
    """Cyclical learning rate: a triangle wave between ``lo`` and ``hi``.

    With ``c = floor(t / (2 h))`` the cycle, ``x = t / (2 h) - c`` and the triangle
    ``tri = 1 - |2 x - 1|`` (``h`` the half period):
    ``lr(t) = lo + (hi - lo) * tri * scale``, ``scale`` being 1 (``"triangular"``),
    ``2**-c`` (``"triangular2"``, the amplitude halves every cycle) or ``gamma**t``
    (``"exp_range"``). ``torch``'s ``CyclicLR(base_lr=lo, max_lr=hi, step_size_up=h)``;
    torch steps it per batch, so build it with ``unit="step"`` for the same values.

    Args:
        lo: the lowest rate (the rate at ``t = 0``).
        hi: the highest rate, ``>= lo``.
        half_period: the time from ``lo`` up to ``hi``, ``> 0``.
        mode: how the amplitude shrinks from cycle to cycle.
        gamma: the per-unit factor of ``"exp_range"``, ``0 < gamma <= 1``; other modes take
            none (1).
        unit: the unit of ``t`` and ``half_period``.

    Example:
        >>> cyclical(0.01, 0.1, half_period=5)(torch.tensor([0.0, 5.0, 10.0]))[:, 0]
        tensor([0.0100, 0.1000, 0.0100], dtype=torch.float64)

    Reference:
        Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017).
    """
    check_unit(unit)
    check_choice("mode", mode, CycleMode)
    p = member_params(lo=lo, hi=hi, half_period=half_period, gamma=gamma,
                      positive={"half_period": "a cycle must last"})
    require("hi", p["hi"], p["hi"] >= p["lo"], ">= lo (the bounds are in the wrong order)")
    require("gamma", p["gamma"], (p["gamma"] > 0) & (p["gamma"] <= 1), "in (0, 1]")
    if mode != "exp_range":
        require("gamma", p["gamma"], p["gamma"] == 1, f"1 with mode={mode!r} (only "
                "'exp_range' uses gamma)")
    return Cyclical(unit=unit, mode=mode, **p)


def one_cycle(max_lr: Value, *, total: Value, pct_start: Value = 0.3, div_factor: Value = 25.0,
              final_div_factor: Value = 1e4, anneal: Anneal = "cos", three_phase: bool = False,
              unit: Unit = "epoch") -> Schedule:
    """The one-cycle policy: up from ``max_lr / div_factor`` to ``max_lr``, then far down.

    Over the ``total`` steps numbered ``0 .. total - 1`` (``initial = max_lr / div_factor``,
    ``final = initial / final_div_factor``, ``a = pct_start * total - 1``): from
    ``initial`` at 0 to ``max_lr`` at ``a``, then to ``final`` at ``total - 1``; with
    ``three_phase`` back to ``initial`` at ``2 a`` first. Each phase anneals along half a
    cosine (``"cos"``) or a line (``"linear"``); after ``total - 1`` the rate stays
    ``final``. The values of ``torch``'s ``OneCycleLR`` (which counts steps, so use
    ``unit="step"`` and ``total = epochs * steps_per_epoch`` to step it per batch).

    Args:
        max_lr: the peak rate.
        total: the number of steps (or epochs) of the cycle.
        pct_start: the fraction of ``total`` spent going up; ``pct_start * total > 1``.
        div_factor: ``max_lr / initial``, ``> 0``.
        final_div_factor: ``initial / final``, ``> 0``.
        anneal: the shape of each phase.
        three_phase: go back down to ``initial`` before the final descent.
        unit: the unit of ``t`` and ``total``.

    Example:
        >>> one_cycle(0.1, total=100)(29)   # the peak: 0.3 * 100 - 1
        tensor([0.1000], dtype=torch.float64)

    Reference:
        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using
        Large Learning Rates" (2017).
    """
    check_unit(unit)
    check_choice("anneal", anneal, Anneal)
    if not isinstance(three_phase, bool):
        raise LrlabError(f"three_phase must be True or False, got {three_phase!r}")
    p = member_params(max_lr=max_lr, total=total, pct_start=pct_start, div_factor=div_factor,
                      final_div_factor=final_div_factor,
                      positive={"total": "the length of the cycle", "div_factor": "",
                                "final_div_factor": ""})
    rise = p["pct_start"] * p["total"]
    require("pct_start", p["pct_start"], (rise > 1) & (p["pct_start"] < 1),
            "< 1 with pct_start * total > 1 (the rise needs at least one step)")
    if three_phase:
        require("pct_start", p["pct_start"], 2 * rise - 2 < p["total"] - 1,
                "small enough that both rise and fall end before the last step")
    return OneCycle(unit=unit, anneal=anneal, three_phase=three_phase, **p)
