"""Composites: a linear warm-up in front of any schedule, and schedules joined end to end.

Both take the unit of the schedules they wrap, and both have one ``clock`` choice:

* ``"restart"``: a schedule's own time starts at 0 where it takes over, ``t - boundary``.
  This is ``torch``'s ``SequentialLR`` (which calls each scheduler at epoch 0 at its
  milestone) and Keras' ``CosineDecay(warmup_steps=...)``.
* ``"continue"``: every schedule reads the global time ``t``; a warm-up then scales the
  schedule's own value by the ramp (torch's ``ChainedScheduler`` of ``LinearLR`` and a
  multiplicative scheduler).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.schedules._base import (
    Schedule,
    Value,
    check_choice,
    frozen,
    increasing,
    member_params,
    require,
)

__all__ = ["Clock", "join", "warmup"]

Clock = Literal["restart", "continue"]


@frozen
class Warmup(Schedule):
    schedule: Schedule
    length: Tensor
    start: Tensor
    clock: Clock

    def parts(self) -> tuple[Schedule, ...]:
        return (self.schedule,)

    def rate(self, t: Tensor) -> Tensor:
        ramp = self.start + (1 - self.start) * torch.clamp(t / self.length, max=1.0)
        if self.clock == "continue":
            return self.schedule.rate(t) * ramp
        first = self.schedule.rate(torch.zeros_like(t))
        later = self.schedule.rate(torch.clamp(t - self.length, min=0.0))
        return torch.where(t < self.length, first * ramp, later)


@frozen
class Join(Schedule):
    schedules: tuple[Schedule, ...]
    boundaries: tuple[float, ...]
    clock: Clock

    def parts(self) -> tuple[Schedule, ...]:
        return self.schedules

    def rate(self, t: Tensor) -> Tensor:
        edges = torch.tensor(self.boundaries, dtype=t.dtype)
        starts = [0.0, *self.boundaries]
        outs = [s.rate(torch.clamp(t - b, min=0.0) if self.clock == "restart" else t)
                for s, b in zip(self.schedules, starts)]
        which = torch.searchsorted(edges, t.contiguous(), right=True)
        *outs, which = torch.broadcast_tensors(*outs, which)
        return torch.stack(outs).gather(0, which[None])[0]


def warmup(schedule: Schedule, *, length: Value, start: Value = 0.0,
           clock: Clock = "restart") -> Schedule:
    """A linear warm-up from ``start`` times the rate up to the schedule, over ``length``.

    With ``ramp(t) = start + (1 - start) * min(t, length) / length``:

    * ``clock="restart"`` (default): ``lr(t) = schedule(0) * ramp(t)`` for ``t < length``,
      then ``schedule(t - length)``: the schedule is delayed by the warm-up. The values of
      ``SequentialLR([LinearLR(start_factor=start, total_iters=length), main],
      milestones=[length])`` in ``torch``, and of Keras' ``CosineDecay`` with
      ``warmup_target``.
    * ``clock="continue"``: ``lr(t) = schedule(t) * ramp(t)``: the schedule keeps its clock
      and the first ``length`` units are scaled down; ``length`` must not exceed a
      schedule's ``total``.

    Args:
        schedule: the schedule to warm up into (the result has its unit).
        length: the length of the warm-up, ``> 0``, in the schedule's unit.
        start: the fraction of the rate at ``t = 0``, in ``[0, 1]``.
        clock: whether the schedule starts after the warm-up or runs under it.

    Example:
        >>> warmup(cosine(0.1, total=50), length=5)(torch.tensor([0.0, 2.5, 5.0]))[:, 0]
        tensor([0.0000, 0.0500, 0.1000], dtype=torch.float64)

    Reference:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour" (2017).
    """
    _check_schedule("schedule", schedule)
    check_choice("clock", clock, Clock)
    p = member_params({"schedule": schedule.members}, length=length, start=start,
                      positive={"length": "the length of the warm-up"})
    require("start", p["start"], p["start"] <= 1, "in [0, 1] (a fraction of the rate)")
    total = getattr(schedule, "total", None)
    if clock == "continue" and isinstance(total, Tensor):
        require("length", p["length"], p["length"] <= total,
                f"<= the schedule's total {total.max().item():g} (the warm-up is longer "
                "than training); shorten it or use clock='restart'")
    return Warmup(unit=schedule.unit, schedule=schedule, clock=clock, **p)


def join(schedules: Sequence[Schedule], boundaries: Sequence[float], *,
         clock: Clock = "restart") -> Schedule:
    """Schedules one after another: schedule ``i`` runs from ``boundaries[i - 1]`` on.

    ``lr(t) = schedules[i](t - b_i)`` where ``b_0 = 0 < b_1 < ...`` are the boundaries and
    ``i`` is the last one with ``b_i <= t`` (``clock="restart"``, the default: each schedule
    starts at its own 0, as ``torch``'s ``SequentialLR(schedulers, milestones=boundaries)``
    does), or ``schedules[i](t)`` (``clock="continue"``: a piecewise pick of schedules on
    one clock). Keras' ``PiecewiseConstantDecay(boundaries, values)`` is a join of
    :func:`constant` s at ``boundary + 1`` on integer steps (Keras keeps a value *at* its
    boundary).

    Args:
        schedules: one or more schedules with the same unit.
        boundaries: ``len(schedules) - 1`` increasing times ``> 0``.
        clock: whether each schedule restarts at its boundary.

    Example:
        >>> j = join([constant(0.1), exponential(0.1, k=0.1)], [10])
        >>> j(torch.tensor([9.0, 10.0, 20.0]))[:, 0]
        tensor([0.1000, 0.1000, 0.0368], dtype=torch.float64)
    """
    if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence) or not schedules:
        raise LrlabError("join needs a non-empty list of schedules, e.g. "
                         "join([warmup_part, main_part], [5])")
    for i, s in enumerate(schedules):
        _check_schedule(f"schedules[{i}]", s)
    check_choice("clock", clock, Clock)
    units = {s.unit for s in schedules}
    if len(units) > 1:
        raise LrlabError(f"join needs schedules of one unit, got {sorted(units)}; build them "
                         "all with unit='epoch' or all with unit='step'")
    bounds = increasing("boundaries", boundaries) if len(schedules) > 1 else ()
    if len(bounds) != len(schedules) - 1 or (len(schedules) == 1 and len(boundaries)):
        raise LrlabError(f"join needs one boundary fewer than schedules, got "
                         f"{len(schedules)} schedules and {len(boundaries)} boundaries")
    member_params({f"schedules[{i}]": s.members for i, s in enumerate(schedules)})
    return Join(unit=schedules[0].unit, schedules=tuple(schedules), boundaries=bounds,
                clock=clock)


def _check_schedule(name: str, value: object) -> None:
    if not isinstance(value, Schedule):
        raise LrlabError(f"{name} must be an lrlab schedule (from constant, cosine, ...), "
                         f"got {type(value).__name__}")
