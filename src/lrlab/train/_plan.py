"""A run's plan: the epochs, batch size and steps per epoch it trains, and its fingerprint,
worked out once from the task's defaults and the settings.

:func:`fit`, the executors and the store all read a run's shape from here, so "how many
epochs" and "which checkpoint belongs to which members" have one answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lrlab.data import loader_batch_size, steps_per_epoch
from lrlab.tasks import Split, Task
from lrlab.train._checkpoint import fingerprint
from lrlab.train._config import Member, SweepConfig

__all__ = ["RunPlan", "plan_run"]


@dataclass(frozen=True)
class RunPlan:
    """What a fit of some members trains.

    Attributes:
        epochs: epochs to train (the settings', else the task's).
        batch_size: examples per step (the settings', else a loader's own, else the task's).
        steps_per_epoch: optimizer steps per epoch; ``None`` for data without a length
            (an iterable dataset: an epoch is one pass).
        fingerprint: a digest of the settings, the members, the epochs and the batch size
            (what a checkpoint must match to continue the run).
        schedule_over: ``(epochs, steps per epoch)`` of the training the members' schedules
            are laid over: the settings' ``schedule_over``, else this run's own.
    """

    epochs: int
    batch_size: int
    steps_per_epoch: int | None
    fingerprint: str
    schedule_over: tuple[int, int | None]


def plan_run(task: Task, config: SweepConfig, members: Sequence[Member]) -> RunPlan:
    """The plan of training ``members`` of ``config`` on ``task``.

    Example:
        >>> from lrlab.tasks import get_task
        >>> from lrlab.train import validated
        >>> config = validated(lrs=[0.1], epochs=3)
        >>> plan = plan_run(get_task("blobs"), config, config.members())
        >>> plan.epochs, plan.batch_size, plan.steps_per_epoch
        (3, 50, 10)
    """
    epochs = config.epochs or task.epochs
    batch = config.batch_size or loader_batch_size(task.train) or task.batch_size
    if isinstance(task.train, Split):
        steps = math.ceil(len(task.train) / batch)
    else:
        steps = steps_per_epoch(task.train, batch)
    return RunPlan(epochs=epochs, batch_size=batch, steps_per_epoch=steps,
                   fingerprint=fingerprint(config, members, epochs=epochs, batch_size=batch),
                   schedule_over=config.schedule_over or (epochs, steps))
