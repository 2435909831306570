"""The one adapter that writes a schedule's rates into a ``torch.optim.Optimizer``."""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrlab._checks import whole
from lrlab._errors import LrlabError
from lrlab.schedules._base import Schedule
from lrlab.schedules._spec import ScheduleSpec

__all__ = ["TorchSchedule"]


class TorchSchedule(LRScheduler):
    """Drive any ``torch.optim.Optimizer`` from an lrlab schedule.

    After ``n`` calls of :meth:`step` the rate of parameter group ``g`` is
    ``schedule(n)[g]`` (a schedule with K = 1 gives every group its one rate; otherwise K
    must equal the number of groups, member ``g`` being group ``g``). The values are
    absolute: the groups' own ``lr`` at construction is replaced (torch's multiplicative
    schedulers, ``LambdaLR``, ``StepLR``, ``CosineAnnealingLR``, ..., scale each group's own
    rate instead), so groups of different rates (layer-wise ones from
    :func:`lrlab.optim.param_groups`) keep them only under a schedule of one member per
    group, ``cosine([0.001, 0.1], total=...)``; given one rate, they lose their ratios, and
    a ``UserWarning`` says so. Call :meth:`step` once per unit of the schedule: per epoch for ``unit="epoch"``,
    per optimizer step for ``unit="step"``.

    It is an ``LRScheduler`` (``step``, ``get_last_lr``, ``state_dict``,
    ``load_state_dict`` work as in torch) but does not run ``LRScheduler.__init__``, which
    wraps ``optimizer.step`` to check the call order: the optimizer is only ever touched
    through its ``param_groups[g]["lr"]``. Every value is a closed form of the count, so
    ``step(epoch)`` jumps to any epoch exactly.

    Args:
        optimizer: the optimizer whose groups' rates to set.
        schedule: the schedule to follow.

    Example:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1)
        >>> sched = TorchSchedule(opt, step_decay(0.1, factor=0.5, every=2))
        >>> for epoch in range(4):
        ...     opt.step()      # after the epoch's batches
        ...     sched.step()
        >>> sched.get_last_lr()
        [0.025]
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule) -> None:
        if not isinstance(optimizer, Optimizer):
            raise LrlabError(f"optimizer must be a torch.optim.Optimizer, got "
                             f"{type(optimizer).__name__}")
        if isinstance(schedule, str | ScheduleSpec):  # the command line's spec, not built
            spec = str(schedule)
            raise LrlabError(f"schedule {spec!r} is a spec, not built for your training: give "
                             f"parse_schedule({spec!r}).build(lr0, epochs=E, steps_per_epoch=S)"
                             " and call step() once per optimizer step")
        if not isinstance(schedule, Schedule):
            raise LrlabError(f"schedule must be an lrlab schedule (from constant, cosine, "
                             f"...), got {type(schedule).__name__}")
        self.optimizer = optimizer
        self.schedule = schedule
        if self._groups() > 1 and schedule.members == 1:
            _warn_flattened([float(group["lr"]) for group in optimizer.param_groups])
        self.base_lrs = self._values(0)
        self.last_epoch = -1
        self._step_count = 0
        self.step()

    def _groups(self) -> int:
        n = len(self.optimizer.param_groups)
        if self.schedule.members not in (1, n):
            raise LrlabError(f"the schedule has {self.schedule.members} members but the optimizer "
                             f"has {n} parameter groups; give one rate or one per group")
        return n

    def _values(self, t: int) -> list[float]:
        rates = self.schedule(t)
        n = self._groups()
        return rates.expand(n).tolist() if rates.shape[0] == 1 else rates.tolist()

    def get_lr(self) -> list[float | Tensor]:
        """The rates of the groups at the current count, ``schedule(last_epoch)``."""
        return list(self._values(self.last_epoch))

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance the count by one (or set it to ``epoch``) and write the groups' rates."""
        if epoch is not None:
            whole("epoch", epoch, low=0)
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"]
                         for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The count and last rates (not the optimizer, nor the schedule: rebuild those)."""
        return {key: value for key, value in self.__dict__.items()
                if key not in ("optimizer", "schedule")}


def _warn_flattened(lrs: list[float]) -> None:
    """Say that one rate replaces the groups' different rates (their layer-wise ratios)."""
    if len(set(lrs)) == 1:
        return
    shown = ", ".join(f"{lr:.3g}" for lr in lrs)
    warnings.warn(f"lrlab: the schedule has one rate and the optimizer {len(lrs)} parameter "
                  f"groups of different rates ({shown}): every group follows that one rate, "
                  "so their ratios are lost; give one rate per group to keep them "
                  f"(cosine([{shown}], total=...))", UserWarning, stacklevel=3)
