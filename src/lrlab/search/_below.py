"""An adaptive rule's reading checked against a lower rate: which one trains faster.

For a constant rate trained ``T`` steps, the rate that ends lowest moves down as ``T``
grows; so a rate that a lower one beats over the first couple of hundred steps is past
the fastest rate for that horizon, and too high for a full training of more steps. Most
readings are not: over :data:`SPAN` steps a rate a factor ``sqrt(10)`` below lrlab's Adam
suggestion ends higher, or within 1.8% of the start, on 63 of the finder-quality benchmark's
65 Adam runs. Deep sigmoid layers are the exception: their Adam range test falls only at
0.03-1, late (the rates below need more steps to move saturated units than the test spends
on them) and just before the loss turns up, so halfway down the fall sits near 0.1, where a
full training first sits at its untrained loss for a hundred steps (its units saturate) and
ends 4-9 points below 0.03.

:func:`below` trains the suggestion ``s`` and ``s / sqrt(10)`` as one population for
:data:`SPAN` optimizer steps (whole epochs), from the same weights and batches, and compares
where each one's training loss ends (its last :data:`~lrlab.search._steady.WINDOW` steps).
When the lower rate ends lower by more than :data:`FASTER` of the loss they started from
(the lower of the two starts; or ``s`` diverged), the reading moves down to it and the next
rate half a decade lower is tried the same way (:data:`~lrlab.search._task_range.TRIES`
rates at most). Only downwards:
a higher rate that ends lower after a few hundred steps may still be worse after many
(the earlier sections of docs/benchmarks.md: 2s and 3s end lower almost everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lrlab.search._steady import WINDOW, Training, _train
from lrlab.tasks import Task

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11

__all__ = ["FASTER", "SPAN", "Below", "below"]

#: Optimizer steps each rate trains (at least; whole epochs). Over 100 steps a GRU or an
#: LSTM that learns suddenly can still sit above a lower rate that learned first (the
#: benchmark's GRU seed 2: 8% of its start); by 200 every such run had settled.
SPAN = 200

#: The lower rate must end lower by more than this fraction of the loss the two started from
#: (the lower mean of their first windows): a fraction of where they ended would make two
#: losses near zero (an LSTM's, 0.003 and 0.02) look far apart.
FASTER = 0.05


def _window(x: np.ndarray, last: bool) -> float:
    """The mean of the first or the last ``WINDOW`` steps (a third of a shorter curve);
    ``inf`` when a loss is not finite."""
    if not len(x) or not np.all(np.isfinite(x)):
        return math.inf
    w = max(1, min(WINDOW, len(x) // 3))
    return float(np.mean(x[-w:] if last else x[:w]))


@dataclass(frozen=True)
class Below:
    """What the check against lower rates saw.

    Attributes:
        lrs: the rates trained, highest (the reading) first, each half a decade below the
            one before.
        starts: per rate, the mean training loss of its first window.
        ends: per rate, the mean training loss of its last window (``inf``: diverged).
        steps: optimizer steps each rate trained.
        cost: member-epochs of the full training data the check cost.
    """

    lrs: tuple[float, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    steps: int
    cost: float

    def faster(self, i: int) -> bool:
        """Whether rate ``i + 1`` ended lower than rate ``i`` by more than :data:`FASTER`
        of the lower of their two starts (a start that caught a catapult, the loss thrown up
        in the first steps, is no scale), or rate ``i`` diverged and ``i + 1`` did not."""
        hi, lo = self.ends[i], self.ends[i + 1]
        if not math.isfinite(hi):
            return math.isfinite(lo)
        return lo < hi - FASTER * min(abs(self.starts[i]), abs(self.starts[i + 1]))

    @property
    def lr(self) -> float:
        """The highest rate that no lower one beat: the reading, or where the walk down
        stopped (the lowest rate when each beat the one above)."""
        for i in range(len(self.lrs) - 1):
            if not self.faster(i):
                return self.lrs[i]
        return self.lrs[-1]

    @property
    def lowered(self) -> bool:
        """Whether the check moved the reading down."""
        return self.lr < self.lrs[0]

    def then(self, other: Below) -> Below:
        """This check followed by ``other`` (lower rates), as one."""
        return Below(self.lrs + other.lrs, self.starts + other.starts, self.ends + other.ends,
                    other.steps, self.cost + other.cost)

    def outcome(self) -> str:
        """What the check decided, one clause: the rate it read, or why the reading stands
        (a lower rate that ended a little lower, within :data:`FASTER` of the loss they
        started from, did not train faster).

        Example:
            >>> Below((1.0, 0.316), (60.1, 7.77), (0.757, 0.694), 200, 1.3).outcome()
            'no lower rate ended lower by more than 5% of the loss they started from, the reading stands'
        """
        if self.lowered:
            return f"a lower rate trained faster, read {self.lr:.3g}"
        return (f"no lower rate ended lower by more than {FASTER:.0%} of the loss they "
                "started from, the reading stands")

    def text(self) -> str:
        """One clause per rate: ``0.0955 ended at 1.12 (from 1.5)``, ``diverged``."""
        def one(lr: float, start: float, end: float) -> str:
            return (f"{lr:.3g} diverged" if not math.isfinite(end)
                    else f"{lr:.3g} ended at {end:.3g} (from {start:.3g})")
        return ", ".join(one(*c) for c in zip(self.lrs, self.starts, self.ends))


def below(task: Task, lrs: Sequence[float], *, optimizer: str = "adam", horizon: int = SPAN,
          **training: Unpack[Training]) -> Below | None:
    """Train ``lrs`` (highest first) on ``task`` as one population for at least ``horizon``
    optimizer steps (as :func:`~lrlab.search._steady.steady` does, the rest as
    :class:`~lrlab.search._steady.Training` says) and keep where each one's training loss
    started and ended.

    Returns:
        A :class:`Below`, or ``None`` when the data has no length.

    Example:
        >>> from lrlab.tasks import get_task
        >>> check = below(get_task("blobs"), [0.01, 0.01 / 10 ** 0.5], horizon=20)
        >>> check.steps >= 20, len(check.ends)
        (True, 2)
    """
    trained = _train(task, lrs, optimizer=optimizer, horizon=horizon, **training)
    if trained is None:
        return None
    starts = tuple(_window(x, last=False) for x in trained.losses)
    ends = tuple(math.inf if d else _window(x, last=True)
                 for x, d in zip(trained.losses, trained.diverged))
    return Below(tuple(float(v) for v in lrs), starts, ends, trained.steps, trained.cost)
