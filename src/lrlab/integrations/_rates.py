"""An optimizer's rates moved to a new base, groups and schedulers along: what the
integrations do once the range test has chosen a rate."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from lrlab._errors import LrlabError

__all__ = ["at_base_rates", "inner_optimizer", "scale_rates"]

#: The param-group keys holding rates a scheduler derives the step's rate from.
_GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")
#: The scheduler attributes holding one rate per param group.
_SCHEDULER_KEYS = ("base_lrs", "max_lrs", "_last_lr")


def _base(group: dict) -> float:
    return float(group.get("initial_lr", group["lr"]))


def inner_optimizer(optimizer: Any) -> Any:
    """The optimizer inside wrappers that hold one as ``.optimizer`` (accelerate's
    ``AcceleratedOptimizer``, what the Hugging Face Trainer hands its callbacks), else
    ``optimizer`` itself.

    Example:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> inner_optimizer(opt) is opt
        True
    """
    while isinstance(inner := getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
        optimizer = inner
    return optimizer


def _drives(scheduler: Any, optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``scheduler`` sets ``optimizer``'s rates, either of them maybe wrapped (a
    user's schedule given to the HF Trainer holds the bare optimizer, the Trainer's own
    schedule and the callbacks the wrapper)."""
    return inner_optimizer(getattr(scheduler, "optimizer", None)) is inner_optimizer(optimizer)


def _peak(optimizer: torch.optim.Optimizer, schedulers: Sequence[Any]) -> float:
    """Group 0's highest rate: a one-cycle's ``max_lr`` (its start is ``max_lr / 25``), a
    cyclic schedule's ``max_lrs`` (its ``base_lrs`` are the floor), else its base rate."""
    group = optimizer.param_groups[0]
    if isinstance(group.get("max_lr"), (int, float)):
        return float(group["max_lr"])
    for scheduler in _with_parts(schedulers):
        peaks = getattr(scheduler, "max_lrs", None)
        if _drives(scheduler, optimizer) and isinstance(peaks, list):
            return float(peaks[0])
    return _base(group)


def _with_parts(schedulers: Sequence[Any]) -> list[Any]:
    """The schedulers and, depth first, those they are made of (``SequentialLR`` and
    ``ChainedScheduler`` keep theirs in ``_schedulers``: ``SequentialLR`` restarts each
    part from that part's own ``base_lrs`` at its milestone)."""
    found = []
    for scheduler in schedulers:
        found += [scheduler, *_with_parts(getattr(scheduler, "_schedulers", None) or [])]
    return found


def scale_rates(optimizer: torch.optim.Optimizer, schedulers: Sequence[Any],
                rate: float) -> list[float]:
    """Make ``rate`` group 0's base rate (a cycle's peak), every other group keeping its
    ratio to it.

    Group ``i``'s rates (``lr``, ``initial_lr``, ``max_lr``, ``min_lr``) and the schedulers'
    per-group ``base_lrs``, ``max_lrs`` and last rates (those of the parts of a
    ``SequentialLR`` or ``ChainedScheduler`` too) are multiplied by
    ``c = rate / peak_0``, ``peak_0`` being group 0's highest rate: a ``OneCycleLR``'s
    ``max_lr`` or a ``CyclicLR``'s ``max_lrs`` (a cycle peaks at the range test's rate, as
    Smith 2018 and fastai's ``fit_one_cycle`` use it; its start, ``max_lr / 25``, once made
    the peak 25x the rate), else its ``initial_lr`` (a warm-up's target), else ``lr``.

    Returns:
        the new base rate of every group.

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD([{"params": [net.weight], "lr": 0.1},
        ...                        {"params": [net.bias], "lr": 1.0}])
        >>> [round(lr, 12) for lr in scale_rates(opt, [], 0.01)]
        [0.01, 0.1]
    """
    base = _peak(optimizer, schedulers)
    if not (math.isfinite(base) and base > 0):
        raise LrlabError(f"the optimizer's first param group has base rate {base}; give it a "
                         "positive lr so lrlab can keep the groups' ratios")
    factor = rate / base
    for group in optimizer.param_groups:
        for key in _GROUP_KEYS:
            if isinstance(group.get(key), (int, float)):
                group[key] = group[key] * factor
    for scheduler in _with_parts(schedulers):
        if not _drives(scheduler, optimizer):
            continue
        for key in _SCHEDULER_KEYS:
            values = getattr(scheduler, key, None)
            if isinstance(values, list):
                setattr(scheduler, key, [v * factor if isinstance(v, (int, float)) else v
                                         for v in values])
    return [_base(group) for group in optimizer.param_groups]


@contextlib.contextmanager
def at_base_rates(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Groups at their base rates while the test runs (a warm-up may hold them at 0)."""
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = _base(group)
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved):
            group["lr"] = lr
