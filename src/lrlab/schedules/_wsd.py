"""Warmup-stable-decay (WSD): a constant rate, then a short cooldown at the end.

The rate stays at ``lr0`` until the cooldown starts at ``total - cooldown``, then falls to
``min_lr`` along one of three shapes and stays there. A warm-up in front is the usual
:func:`~lrlab.schedules.warmup` (the spec form ``wsd:...,warmup=N`` puts one there, and
the WSD part then fills the rest of training). Because every member with the same rate
shares the constant phase up to its own cooldown, a sweep of cooldown lengths can fork
from one run (``lrlab cooldown``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

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

__all__ = ["CooldownShape", "wsd"]

#: The cooldown's shape: ``linear`` (``1 - p``), ``cosine`` (``(1 + cos(pi p)) / 2``) or
#: ``1-sqrt`` (``1 - sqrt(p)``, Hägele et al.'s best), ``p`` the fraction of it done.
CooldownShape = Literal["linear", "cosine", "1-sqrt"]


def cooldown_factor(shape: CooldownShape, p: Tensor) -> Tensor:
    """The fraction of the way from ``min_lr`` to ``lr0`` left at cooldown progress ``p``."""
    if shape == "linear":
        return 1 - p
    if shape == "cosine":
        return (1 + torch.cos(math.pi * p)) / 2
    return 1 - torch.sqrt(p)


@frozen
class WSD(Schedule):
    lr0: Tensor
    total: Tensor
    cooldown: Tensor
    min_lr: Tensor
    shape: CooldownShape

    def rate(self, t: Tensor) -> Tensor:
        start = self.total - self.cooldown
        length = torch.where(self.cooldown > 0, self.cooldown, torch.ones_like(self.cooldown))
        p = torch.clamp((t - start) / length, 0.0, 1.0)
        p = torch.where(self.cooldown > 0, p, torch.zeros_like(p))
        return self.min_lr + (self.lr0 - self.min_lr) * cooldown_factor(self.shape, p)


def wsd(lr0: Value, *, total: Value, cooldown: Value, shape: CooldownShape = "linear",
        min_lr: Value = 0.0, unit: Unit = "epoch") -> Schedule:
    """Stable, then a cooldown to ``min_lr`` over the last ``cooldown`` of ``total``.

    With ``p = clamp((t - (total - cooldown)) / cooldown, 0, 1)``::

        lr(t) = min_lr + (lr0 - min_lr) * f(p)
        f(p) = 1 - p  |  (1 + cos(pi p)) / 2  |  1 - sqrt(p)     (linear, cosine, 1-sqrt)

    so ``lr = lr0`` before the cooldown and ``min_lr`` from ``total`` on; ``cooldown = 0``
    keeps ``lr0`` throughout. On integer steps, with a warm-up of ``W`` steps in front
    (``warmup(wsd(...), length=W, start=min_lr / lr0)``), these are the values of
    ``transformers.get_wsd_schedule(num_warmup_steps=W, num_decay_steps=cooldown,
    num_training_steps=W + total, decay_type=shape, min_lr_ratio=min_lr / lr0)``.

    Args:
        lr0: the rate of the stable phase.
        total: the length of the schedule (stable phase and cooldown), ``> 0``.
        cooldown: the length of the cooldown, in ``[0, total]``.
        shape: the cooldown's shape, ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
        min_lr: the final rate, ``<= lr0``.
        unit: the unit of ``t``, ``total`` and ``cooldown``.

    Example:
        >>> wsd(0.1, total=10, cooldown=2)(torch.tensor([0.0, 8.0, 9.0, 10.0]))[:, 0]
        tensor([0.1000, 0.1000, 0.0500, 0.0000], dtype=torch.float64)

    Reference:
        Hägele, Bakouch, Kosson, Ben Allal, Von Werra & Jaggi, "Scaling Laws and
        Compute-Optimal Training beyond Fixed Training Durations" (2024), arXiv 2405.18392.
    """
    check_unit(unit)
    check_choice("shape", shape, CooldownShape)
    p = member_params(lr0=lr0, total=total, cooldown=cooldown, min_lr=min_lr,
                      positive={"total": "the length of the schedule"})
    require("cooldown", p["cooldown"], p["cooldown"] <= p["total"],
            "<= total (the cooldown is longer than training); shorten it")
    require("min_lr", p["min_lr"], p["min_lr"] <= p["lr0"], "<= lr0 (the cooldown goes down)")
    return WSD(unit=unit, shape=shape, **p)
