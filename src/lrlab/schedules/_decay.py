"""Decaying schedules: constant, step, multistep, exponential, 1/t and polynomial.

Each factory checks its parameters, broadcasts them to one member axis and returns a frozen
:class:`~lrlab.schedules.Schedule` whose ``rate`` is the closed form in the docstring. The
rule of thumb of a ~100x total decay over training is :func:`decay_over` (the parameter)
and :func:`decaying` (the schedule).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    increasing,
    member_params,
    require,
)

__all__ = [
    "DecayKind",
    "constant",
    "decay_over",
    "decaying",
    "exponential",
    "inverse_time",
    "multistep",
    "polynomial",
    "step_decay",
]

DecayKind = Literal["exponential", "inverse_time", "step"]


@frozen
class Constant(Schedule):
    lr0: Tensor

    def rate(self, t: Tensor) -> Tensor:
        return self.lr0 + 0 * t


@frozen
class StepDecay(Schedule):
    lr0: Tensor
    factor: Tensor
    every: Tensor

    def rate(self, t: Tensor) -> Tensor:
        return self.lr0 * self.factor ** torch.floor(t / self.every)


@frozen
class MultiStep(Schedule):
    lr0: Tensor
    factor: Tensor
    milestones: tuple[float, ...]

    def rate(self, t: Tensor) -> Tensor:
        edges = torch.tensor(self.milestones, dtype=t.dtype)
        passed = torch.searchsorted(edges, t.contiguous(), right=True).to(t.dtype)
        return self.lr0 * self.factor**passed


@frozen
class Exponential(Schedule):
    lr0: Tensor
    k: Tensor

    def rate(self, t: Tensor) -> Tensor:
        return self.lr0 * torch.exp(-self.k * t)


@frozen
class InverseTime(Schedule):
    lr0: Tensor
    k: Tensor

    def rate(self, t: Tensor) -> Tensor:
        return self.lr0 / (1 + self.k * t)


@frozen
class Polynomial(Schedule):
    lr0: Tensor
    total: Tensor
    end: Tensor
    power: Tensor

    def rate(self, t: Tensor) -> Tensor:
        done = torch.clamp(t / self.total, max=1.0)
        return (self.lr0 - self.end) * (1 - done) ** self.power + self.end


def constant(lr0: Value, *, unit: Unit = "epoch") -> Schedule:
    """The same rate at every time: ``lr(t) = lr0``.

    Args:
        lr0: the rate, one value or one per member.
        unit: the unit of ``t`` (``"epoch"`` or ``"step"``).

    Returns:
        the schedule.

    Example:
        >>> constant([0.1, 0.01])(7)
        tensor([0.1000, 0.0100], dtype=torch.float64)
    """
    check_unit(unit)
    return Constant(unit=unit, **member_params(lr0=lr0))


def step_decay(lr0: Value, *, factor: Value, every: Value, unit: Unit = "epoch") -> Schedule:
    """Multiply the rate by ``factor`` every ``every`` units: ``lr0 * factor**floor(t / every)``.

    "Halve every 5 epochs" is ``step_decay(lr0, factor=0.5, every=5)``; "x0.1 every 20" is
    ``step_decay(lr0, factor=0.1, every=20)``. Same values as ``torch``'s ``StepLR`` (its
    ``gamma`` and ``step_size``) and Keras' ``ExponentialDecay(staircase=True)``.

    Args:
        lr0: the rate before the first drop.
        factor: the multiplier per drop, ``> 0``.
        every: the time between drops, ``> 0``.
        unit: the unit of ``t`` and ``every``.

    Example:
        >>> step_decay(0.1, factor=0.5, every=5)(torch.tensor([0, 5, 12]))[:, 0]
        tensor([0.1000, 0.0500, 0.0250], dtype=torch.float64)
    """
    check_unit(unit)
    p = member_params(lr0=lr0, factor=factor, every=every,
                      positive={"factor": "the multiplier at each drop",
                                "every": "the time between drops"})
    return StepDecay(unit=unit, **p)


def multistep(lr0: Value, *, milestones: Sequence[float], factor: Value,
              unit: Unit = "epoch") -> Schedule:
    """Multiply the rate by ``factor`` at each milestone: ``lr0 * factor**#{m <= t}``.

    The milestones are shared by all members. Same values as ``torch``'s ``MultiStepLR``;
    Keras' ``PiecewiseConstantDecay`` holds the old value *at* a boundary (``t <= b``), so
    its boundary ``b`` is milestone ``b + 1`` on integer steps.

    Args:
        lr0: the rate before the first milestone.
        milestones: increasing times ``> 0`` at which the rate drops.
        factor: the multiplier per milestone, ``> 0``.
        unit: the unit of ``t`` and the milestones.

    Example:
        >>> multistep(0.1, milestones=[30, 60], factor=0.1)(45)
        tensor([0.0100], dtype=torch.float64)
    """
    check_unit(unit)
    edges = increasing("milestones", milestones)
    p = member_params(lr0=lr0, factor=factor,
                      positive={"factor": "the multiplier at each milestone"})
    return MultiStep(unit=unit, milestones=edges, **p)


def exponential(lr0: Value, *, k: Value, unit: Unit = "epoch") -> Schedule:
    """Exponential decay: ``lr(t) = lr0 * exp(-k t)``.

    ``torch``'s ``ExponentialLR`` with ``gamma = exp(-k)``; Keras' ``ExponentialDecay`` with
    ``k = -ln(decay_rate) / decay_steps``. :func:`decay_over` gives the ``k`` of a total
    decay.

    Args:
        lr0: the rate at ``t = 0``.
        k: the decay constant per unit of time, ``>= 0``.
        unit: the unit of ``t``.

    Example:
        >>> exponential(0.1, k=math.log(2))(1)
        tensor([0.0500], dtype=torch.float64)
    """
    check_unit(unit)
    return Exponential(unit=unit, **member_params(lr0=lr0, k=k))


def inverse_time(lr0: Value, *, k: Value, unit: Unit = "epoch") -> Schedule:
    """1/t decay: ``lr(t) = lr0 / (1 + k t)``.

    Keras' ``InverseTimeDecay`` with ``k = decay_rate / decay_steps``.

    Args:
        lr0: the rate at ``t = 0``.
        k: the decay constant per unit of time, ``>= 0``.
        unit: the unit of ``t``.

    Example:
        >>> inverse_time(0.1, k=1.0)(4)
        tensor([0.0200], dtype=torch.float64)

    Reference:
        Robbins & Monro, "A stochastic approximation method" (1951): rates ~ 1/t.
    """
    check_unit(unit)
    return InverseTime(unit=unit, **member_params(lr0=lr0, k=k))


def polynomial(lr0: Value, *, total: Value, end: Value = 0.0, power: Value = 1.0,
               unit: Unit = "epoch") -> Schedule:
    """Polynomial decay to ``end`` at ``total``, then constant:

    ``lr(t) = (lr0 - end) * (1 - min(t, total) / total)**power + end``.

    ``torch``'s ``PolynomialLR`` (``end = 0``) and Keras' ``PolynomialDecay(cycle=False)``.

    Args:
        lr0: the rate at ``t = 0``.
        total: the time at which ``end`` is reached, ``> 0``.
        end: the final rate.
        power: the exponent, ``> 0`` (1 is linear).
        unit: the unit of ``t`` and ``total``.

    Example:
        >>> polynomial(0.1, total=10)(5)
        tensor([0.0500], dtype=torch.float64)
    """
    check_unit(unit)
    p = member_params(lr0=lr0, total=total, end=end, power=power,
                      positive={"total": "the time the decay ends", "power": "1 is a linear decay"})
    return Polynomial(unit=unit, **p)


def decay_over(total_factor: Value, total: Value, *, kind: DecayKind,
               every: Value | None = None) -> Tensor:
    """The decay parameter that divides the rate by ``total_factor`` over ``total`` units.

    The rule of thumb "decay by ~100x over training" is ``decay_over(100, total=epochs, ...)``:

    * ``"exponential"``: ``k = ln(total_factor) / total`` for :func:`exponential`;
    * ``"inverse_time"``: ``k = (total_factor - 1) / total`` for :func:`inverse_time`;
    * ``"step"``: ``factor = total_factor ** (-1 / floor(total / every))`` for
      :func:`step_decay`, so the last drop at or before ``total`` lands on ``1/total_factor``.

    Args:
        total_factor: how many times smaller the rate is at ``total``, ``>= 1``.
        total: the length of training, ``> 0``.
        kind: which schedule the parameter is for.
        every: the time between drops; needed for ``"step"`` only.

    Returns:
        the parameter, a float64 tensor ``(K,)``.

    Example:
        >>> decay_over(100, total=200, kind="exponential")   # ln(100) / 200
        tensor([0.0230], dtype=torch.float64)
    """
    check_choice("kind", kind, DecayKind)
    if (kind == "step") != (every is not None):
        raise LrlabError("decay_over needs every= for kind='step' and takes no every= for "
                         f"kind={kind!r}")
    p = member_params(total_factor=total_factor, total=total,
                      **({} if every is None else {"every": every}),
                      positive={"total": "the length of training"})
    f, n = p["total_factor"], p["total"]
    require("total_factor", f, f >= 1, ">= 1 (100 means a 100x smaller rate at the end)")
    if kind == "exponential":
        return torch.log(f) / n
    if kind == "inverse_time":
        return (f - 1) / n
    drops = torch.floor(n / p["every"])
    require("every", p["every"], drops >= 1, "<= total (at least one drop before the end)")
    return f ** (-1 / drops)


def decaying(lr0: Value, *, total_factor: Value, total: Value,
             kind: DecayKind = "exponential", every: Value | None = None,
             unit: Unit = "epoch") -> Schedule:
    """The schedule of ``kind`` whose rate falls by ``total_factor`` over ``total`` units.

    Shorthand for ``exponential(lr0, k=decay_over(total_factor, total, kind="exponential"))``
    and its 1/t and step counterparts (see :func:`decay_over`).

    Example:
        >>> decaying(0.1, total_factor=100, total=50)(50)
        tensor([0.0010], dtype=torch.float64)
    """
    check_unit(unit)
    x = decay_over(total_factor, total, kind=kind, every=every)
    if kind == "exponential":
        return exponential(lr0, k=x, unit=unit)
    if kind == "inverse_time":
        return inverse_time(lr0, k=x, unit=unit)
    return step_decay(lr0, factor=x, every=every, unit=unit)  # type: ignore[arg-type]
