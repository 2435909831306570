"""Learning-rate schedules: pure ``t -> lr`` closed forms with a member axis.

Every factory checks its parameters when called and returns a frozen
:class:`Schedule`; ``sched(t)`` gives the float64 rates of its K members at time ``t``
(``(K,)``, or ``(T, K)`` for a 1-D tensor of times). Any parameter may be one number or one
number per member, so K differently-scheduled members cost one call. Times have a unit,
``"epoch"`` (default) or ``"step"``; :meth:`Schedule.at_step` converts a trainer's global
step. Beyond the closed forms: :class:`ReduceOnPlateau` (stateful, per member),
:class:`TorchSchedule` (drives a ``torch.optim.Optimizer``), and
:func:`parse_schedule` for the command-line form ``NAME[:key=value,...]``, read once into a
frozen :class:`ScheduleSpec` (``plateau`` is one of its kinds, driven by a metric). :func:`wsd` is
warmup-stable-decay: the rate held, then a cooldown at the end.

Example:
    >>> from lrlab.schedules import cosine, warmup
    >>> sched = warmup(cosine([0.1, 0.03], total=45), length=5)
    >>> sched(10).shape
    torch.Size([2])
"""

from lrlab.schedules._anneal import Anneal, CycleMode, cosine, cosine_restarts, cyclical, one_cycle
from lrlab.schedules._base import Schedule, Times, Unit, Value
from lrlab.schedules._compose import Clock, join, warmup
from lrlab.schedules._decay import (
    DecayKind,
    constant,
    decay_over,
    decaying,
    exponential,
    inverse_time,
    multistep,
    polynomial,
    step_decay,
)
from lrlab.schedules._plateau import ReduceOnPlateau
from lrlab.schedules._spec import (
    MONITORS,
    SCHEDULES,
    Key,
    ScheduleKind,
    ScheduleSpec,
    parse_schedule,
)
from lrlab.schedules._torch import TorchSchedule
from lrlab.schedules._wsd import CooldownShape, wsd

__all__ = [
    "MONITORS",
    "SCHEDULES",
    "Anneal",
    "Clock",
    "CooldownShape",
    "CycleMode",
    "DecayKind",
    "Key",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleKind",
    "ScheduleSpec",
    "Times",
    "TorchSchedule",
    "Unit",
    "Value",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclical",
    "decay_over",
    "decaying",
    "exponential",
    "inverse_time",
    "join",
    "multistep",
    "one_cycle",
    "parse_schedule",
    "polynomial",
    "step_decay",
    "warmup",
    "wsd",
]
