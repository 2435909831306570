"""Reduce the rate when a validation metric stops improving: one counter per member.

Not a closed form of time: the rate depends on the metrics seen so far, so this is a small
stateful object with explicit :meth:`~ReduceOnPlateau.state_dict`. Its rule is that of
``torch.optim.lr_scheduler.ReduceLROnPlateau``, step for step, run for each member on its own
metric. On the command line it is the ``plateau`` kind of the schedule registry
(:data:`~lrlab.schedules.SCHEDULES`), built by :meth:`ScheduleSpec.on_metric`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from lrlab._checks import number, whole
from lrlab._errors import LrlabError
from lrlab.schedules._base import Value, check_choice, member_params, require

__all__ = ["ReduceOnPlateau"]

_STATE = ("lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch")


def _count(name: str, value: object) -> int:
    return whole(name, value, low=0, hint=" (epochs)")


class ReduceOnPlateau:
    """Multiply a member's rate by ``factor`` after ``patience`` epochs without improvement.

    For each member, after every epoch's metric ``m`` (mode ``"min"``; ``"max"`` mirrors it):
    ``m`` improves when ``m < best * (1 - threshold)`` (``"rel"``) or ``m < best -
    threshold`` (``"abs"``); an improvement sets ``best = m`` and clears the count of bad
    epochs, anything else (NaN included) adds one. During ``cooldown`` epochs after a cut
    bad epochs are not counted. When the count exceeds ``patience``,
    ``lr <- max(lr * factor, min_lr)`` (skipped if that changes it by ``eps`` or less),
    the count clears and the cooldown starts.

    Args:
        lr0: the starting rate, one value or one per member.
        factor: the multiplier at each cut, in ``[0, 1)``.
        patience: bad epochs tolerated before a cut.
        mode: whether lower (``"min"``) or higher (``"max"``) metrics are better.
        threshold: how much better a metric must be to count, ``>= 0``.
        threshold_mode: whether ``threshold`` is relative to ``best`` or absolute.
        cooldown: epochs after a cut during which bad epochs are not counted.
        min_lr: the floor of the rate.
        eps: the smallest change of rate that is applied.

    Example:
        >>> plateau = ReduceOnPlateau([0.1, 0.1], patience=1)
        >>> for loss in ([1.0, 1.0], [0.5, 1.0], [0.4, 1.0]):
        ...     lr = plateau.update(torch.tensor(loss))
        >>> lr
        tensor([0.1000, 0.0100], dtype=torch.float64)

    Reference:
        ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (same rule and defaults).
    """

    def __init__(self, lr0: Value, *, factor: Value = 0.1, patience: int = 10,
                 mode: Literal["min", "max"] = "min", threshold: Value = 1e-4,
                 threshold_mode: Literal["rel", "abs"] = "rel", cooldown: int = 0,
                 min_lr: Value = 0.0, eps: float = 1e-8) -> None:
        check_choice("mode", mode, Literal["min", "max"])
        check_choice("threshold_mode", threshold_mode, Literal["rel", "abs"])
        p = member_params(lr0=lr0, factor=factor, threshold=threshold, min_lr=min_lr)
        require("factor", p["factor"], p["factor"] < 1, "< 1 (a cut makes the rate smaller)")
        number("eps", eps, low=0)
        self.factor, self.threshold, self.min_lr = p["factor"], p["threshold"], p["min_lr"]
        self.patience = _count("patience", patience)
        self.cooldown = _count("cooldown", cooldown)
        self.mode, self.threshold_mode, self.eps = mode, threshold_mode, float(eps)
        k = p["lr0"].shape[0]
        self._lr = p["lr0"]
        self._best = torch.full((k,), math.inf if mode == "min" else -math.inf,
                                dtype=torch.float64)
        self._bad = torch.zeros(k, dtype=torch.int64)
        self._cooldown_left = torch.zeros(k, dtype=torch.int64)
        self.last_epoch = 0

    @property
    def members(self) -> int:
        """The number of members."""
        return self._lr.shape[0]

    @property
    def lr(self) -> Tensor:
        """The current rates, float64 ``(K,)`` (a copy)."""
        return self._lr.clone()

    def _improves(self, metric: Tensor) -> Tensor:
        if self.mode == "min":
            bound = (self._best * (1 - self.threshold) if self.threshold_mode == "rel"
                     else self._best - self.threshold)
            return metric < bound
        bound = (self._best * (1 + self.threshold) if self.threshold_mode == "rel"
                 else self._best + self.threshold)
        return metric > bound

    def update(self, metric: Value) -> Tensor:
        """Take one epoch's metric per member and return the rates for the next epoch.

        Args:
            metric: ``(K,)`` values (a number when K is 1); NaN counts as no improvement.

        Returns:
            the new rates, float64 ``(K,)``.
        """
        m = self._metric(metric)
        self.last_epoch += 1
        better = self._improves(m)
        self._best = torch.where(better, m, self._best)
        self._bad = torch.where(better, 0, self._bad + 1)
        cooling = self._cooldown_left > 0
        self._cooldown_left = torch.where(cooling, self._cooldown_left - 1, self._cooldown_left)
        self._bad = torch.where(cooling, 0, self._bad)
        cut = self._bad > self.patience
        lower = torch.maximum(self._lr * self.factor, self.min_lr)
        self._lr = torch.where(cut & (self._lr - lower > self.eps), lower, self._lr)
        self._cooldown_left = torch.where(cut, self.cooldown, self._cooldown_left)
        self._bad = torch.where(cut, 0, self._bad)
        return self.lr

    def _metric(self, metric: Value) -> Tensor:
        try:
            m = torch.as_tensor(metric, dtype=torch.float64).detach().to("cpu")
        except (TypeError, ValueError, RuntimeError):
            raise LrlabError(f"metric must be a number per member, got {metric!r}") from None
        if m.ndim == 0 and self.members == 1:
            m = m.reshape(1)
        if tuple(m.shape) != (self.members,):
            raise LrlabError(f"metric has shape {tuple(m.shape)}, expected ({self.members},): one "
                             "value per member")
        return m

    def state_dict(self) -> dict[str, Any]:
        """The state (rates, best metrics, counters, epoch) as copies, for a checkpoint."""
        return {"lr": self._lr.clone(), "best": self._best.clone(),
                "num_bad_epochs": self._bad.clone(),
                "cooldown_counter": self._cooldown_left.clone(), "last_epoch": self.last_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` taken from a plateau rule with the same K."""
        missing = [key for key in _STATE if key not in state]
        if missing:
            raise LrlabError(f"plateau state lacks {', '.join(missing)}; pass what "
                             "state_dict() returned")
        tensors = [torch.as_tensor(state[key]) for key in _STATE[:4]]
        if any(tuple(x.shape) != (self.members,) for x in tensors):
            raise LrlabError(f"plateau state is for another number of members; expected "
                             f"{self.members} values per entry")
        lr, best, bad, cool = tensors
        self._lr, self._best = lr.to(torch.float64).clone(), best.to(torch.float64).clone()
        self._bad, self._cooldown_left = bad.to(torch.int64).clone(), cool.to(torch.int64).clone()
        self.last_epoch = int(state["last_epoch"])

    def __repr__(self) -> str:
        return (f"ReduceOnPlateau(lr={self._lr.tolist()}, mode={self.mode!r}, "
                f"patience={self.patience}, last_epoch={self.last_epoch})")
