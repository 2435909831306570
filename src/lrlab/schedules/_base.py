"""The schedule object and the checks every factory runs on its parameters.

A schedule is a small frozen object: ``sched(t)`` is the rate of each of its K members at
time ``t``. Every parameter is a float64 tensor of shape ``(K,)`` (one value per member,
broadcast from a scalar when all members share it), so member k of a K-member schedule is
exactly the schedule built from member k's values alone.

Time has an explicit unit, ``"epoch"`` (the default) or ``"step"`` (one optimizer update).
A trainer at global step ``s`` with ``P`` steps per epoch calls :meth:`Schedule.at_step`,
which evaluates an epoch schedule at ``s / P`` (fractional epochs, the default) or at
``floor(s / P)`` (``stepwise=False``: one rate for the whole epoch, like calling a
``torch.optim.lr_scheduler`` once per epoch), and a step schedule at ``s``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal, get_args

import torch
from torch import Tensor

from lrlab._checks import whole
from lrlab._errors import LrlabError

__all__ = ["Schedule", "Times", "Unit", "Value"]

Unit = Literal["step", "epoch"]
#: A parameter: one number for every member, or one number per member.
Value = float | Sequence[float] | Tensor
#: A time: one number, or a 1-D tensor of T times.
Times = int | float | Tensor

_F64 = torch.float64

# Every schedule class is a frozen dataclass with keyword-only fields and the base repr.
frozen = dataclass(frozen=True, eq=False, kw_only=True, repr=False)


def _fmt(x: Tensor) -> str:
    values = [f"{v:g}" for v in x.tolist()]
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def member_value(name: str, value: Value, positive: str | None = None) -> Tensor:
    """``value`` as a fresh float64 tensor of shape ``(K,)``: finite and ``>= 0`` (``> 0``
    where ``positive`` is given: what the value is, said in the message, so that -2 and 0
    are told the same bound, not ">= 0" and then "> 0").

    A scalar becomes ``(1,)``; a sequence or 1-D tensor gives one value per member. The
    result is a copy, so changing the caller's tensor later does not change a schedule.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise LrlabError(f"{name} must be a number or one number per member, got {value!r}")
    try:
        x = torch.as_tensor(value, dtype=_F64).detach().to("cpu").clone()
    except (TypeError, ValueError, RuntimeError):
        raise LrlabError(f"{name} must be a number or one number per member, "
                         f"got {value!r}") from None
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1 or x.numel() == 0:
        raise LrlabError(f"{name} must be a number or a flat sequence with one value per "
                         f"member, got shape {tuple(x.shape)}")
    require(name, x, torch.isfinite(x), "finite")
    if positive is None:
        require(name, x, x >= 0, ">= 0")
    else:
        require(name, x, x > 0, f"> 0 ({positive})" if positive else "> 0")
    return x


def require(name: str, x: Tensor, ok: Tensor, need: str) -> None:
    """Raise a one-line :class:`LrlabError` naming the first member where ``ok`` fails."""
    ok = torch.as_tensor(ok).expand(x.shape)
    if bool(ok.all()):
        return
    i = int((~ok).nonzero()[0, 0])
    where = f" (member {i})" if x.numel() > 1 else ""
    raise LrlabError(f"{name} must be {need}, got {x[i].item():g}{where}")


def member_params(inherited: dict[str, int] | None = None, *,
                  positive: dict[str, str] | None = None, **values: Value) -> dict[str, Tensor]:
    """Check every parameter with :func:`member_value` and broadcast them to one K.

    Args:
        inherited: member counts that must agree but are not broadcast here (the K of a
            schedule wrapped by a composite), by name.
        positive: the parameters that must be ``> 0``, each with what it is (said in the
            message; ``""``: nothing); the rest ``>= 0``.
        **values: the parameters, by name.

    Example:
        >>> member_params(lr0=0.1, power=-2, positive={"power": "1 is a linear decay"})
        Traceback (most recent call last):
        lrlab._errors.LrlabError: power must be > 0 (1 is a linear decay), got -2

    Returns:
        the parameters as float64 tensors of one shape ``(K,)``.
    """
    positive = positive or {}
    out = {name: member_value(name, v, positive.get(name)) for name, v in values.items()}
    sizes = {name: x.shape[0] for name, x in out.items()}
    sizes.update(inherited or {})
    k = member_count(sizes)
    return {name: x.expand(k).clone() for name, x in out.items()}


def member_count(sizes: dict[str, int]) -> int:
    """The one K that member counts ``sizes`` (1 broadcasts) agree on, else LrlabError."""
    many = {name: n for name, n in sizes.items() if n != 1}
    if len(set(many.values())) > 1:
        counts = ", ".join(f"{name} has {n}" for name, n in many.items())
        raise LrlabError(f"member counts differ ({counts}); give one value, or the same "
                         "number of values, for every parameter")
    return next(iter(many.values()), 1)


def check_choice(name: str, value: str, allowed: object) -> None:
    """Raise LrlabError unless ``value`` is one of the Literal type ``allowed``'s values."""
    options = get_args(allowed)
    if value not in options:
        raise LrlabError(f"{name} must be one of {', '.join(map(repr, options))}, "
                         f"got {value!r}")


def check_unit(unit: str) -> None:
    check_choice("unit", unit, Unit)


def times(t: Times, name: str = "t") -> tuple[Tensor, bool]:
    """``t`` as a float64 column ``(T, 1)`` of finite times ``>= 0``; and whether scalar."""
    if isinstance(t, bool):
        raise LrlabError(f"{name} must be a number or a 1-D tensor of times, got {t!r}")
    try:
        x = torch.as_tensor(t, dtype=_F64).detach().to("cpu")
    except (TypeError, ValueError, RuntimeError):
        raise LrlabError(f"{name} must be a number or a 1-D tensor of times, "
                         f"got {t!r}") from None
    if x.ndim > 1:
        raise LrlabError(f"{name} must be a number or a 1-D tensor of times, "
                         f"got shape {tuple(x.shape)}")
    scalar = x.ndim == 0
    x = x.reshape(-1)
    require(name, x, torch.isfinite(x) & (x >= 0), "finite and >= 0")
    return x[:, None], scalar


def increasing(name: str, values: Sequence[float]) -> tuple[float, ...]:
    """Shared times (milestones, boundaries): finite, ``> 0``, strictly increasing."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, Tensor)):
        raise LrlabError(f"{name} must be a sequence of times, got {values!r}")
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise LrlabError(f"{name} must be numbers, got {list(values)!r}") from None
    if not out or not all(math.isfinite(v) and v > 0 for v in out):
        raise LrlabError(f"{name} must be one or more finite times > 0, got {list(out)}")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise LrlabError(f"{name} must increase strictly, got {list(out)}; sort them and "
                         "drop repeats")
    return out


@frozen
class Schedule:
    """A learning-rate schedule: ``sched(t)`` gives the rate of each member at time ``t``.

    Built by the factories (:func:`~lrlab.schedules.constant`, ...), never directly. The
    object is frozen and its formula is a closed form of ``t``: the same ``t`` always gives
    the same rates, whatever was asked before.

    Attributes:
        unit: what one unit of ``t`` is, ``"epoch"`` or ``"step"``.
    """

    unit: Unit = "epoch"

    @property
    def members(self) -> int:
        """The number of members: the broadcast size of the parameters (1 if all scalar)."""
        sizes = [v.shape[0] for v in vars(self).values() if isinstance(v, Tensor)]
        return max(sizes + [p.members for p in self.parts()], default=1)

    def parts(self) -> tuple[Schedule, ...]:
        """The schedules this one is built from (empty unless it is a composite)."""
        return ()

    def __call__(self, t: Times) -> Tensor:
        """The rates at ``t``: float64 ``(K,)`` for one time, ``(T, K)`` for T times.

        Args:
            t: a time ``>= 0`` in :attr:`unit` (int, float or 0-d tensor), or a 1-D tensor
                of T such times.
        """
        return self._evaluate(*times(t))

    def at_step(self, step: Times, steps_per_epoch: int, *, stepwise: bool = True) -> Tensor:
        """The rates for global optimizer step ``step`` (0-based) of a training run.

        ``t = step`` for a step schedule. For an epoch schedule ``t = step / P`` when
        ``stepwise`` (the rate moves every step, so a one-epoch warm-up really ramps), else
        ``t = floor(step / P)`` (one rate per epoch, as ``scheduler.step()`` once per epoch
        gives in torch). ``P`` is ``steps_per_epoch``.

        Example:
            >>> cosine(0.1, total=10).at_step(150, 100)   # epoch 1.5 of 10
            tensor([0.0946], dtype=torch.float64)
        """
        whole("steps_per_epoch", steps_per_epoch, low=1)
        s, scalar = times(step, "step")
        if self.unit == "epoch":
            s = s / steps_per_epoch if stepwise else torch.floor(s / steps_per_epoch)
        return self._evaluate(s, scalar)

    def _evaluate(self, column: Tensor, scalar: bool) -> Tensor:
        out = self.rate(column).expand(column.shape[0], self.members).clone()
        return out[0] if scalar else out

    def rate(self, t: Tensor) -> Tensor:
        """The formula, which subclasses implement: ``t`` holds checked float64 times of
        shape ``(T, 1)`` (or ``(T, K)``, one time per member, when a composite shifts
        them); returns ``(T, K)`` or ``(T, 1)``, which the caller broadcasts."""
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            v = getattr(self, f.name)
            shown.append(f"{f.name}={_fmt(v) if isinstance(v, Tensor) else repr(v)}")
        return f"{type(self).__name__.lstrip('_')}({', '.join(shown)})"
