"""The entry points most people call first: :func:`sweep` and :func:`train`.

A sweep validates its settings, expands them to members (rates x seeds x schedules x
layer-wise variants) and trains them through the local executor: one population when it
fits in memory (exactly :func:`lrlab.fit`), chunks one after another when it does not, and
one population per seed when a Dataset or DataLoader feeds the task.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lrlab._checks import whole
from lrlab._once import warn_once
from lrlab.executors import LocalExecutor
from lrlab.tasks import Task, as_task
from lrlab.train import SweepResult, parse_bytes, validated

__all__ = ["sweep", "train"]


@warn_once()
def sweep(task: Task | str, *, callbacks: Sequence = (), members_per_chunk: int | None = None,
          memory_limit: int | str | None = None,
          tensorboard_dir: str | os.PathLike | None = None, **settings: object) -> SweepResult:
    """Train one member per learning rate (x seed) in lockstep and record every epoch.

    Args:
        task: a :class:`~lrlab.tasks.Task` (tensors, or your Dataset / DataLoader: see
            :meth:`~lrlab.tasks.Task.from_loaders`) or the name of a built-in one.
        callbacks: called with an :class:`~lrlab.train.EpochReport` after every epoch.
        members_per_chunk: train the members in populations of at most this many, one
            after another (default: as many as fit in memory).
        memory_limit: the bytes a population may use (``"4GB"``); default 80% of what the
            device has free. A member that alone exceeds it is an error.
        tensorboard_dir: also write every member as a TensorBoard run there, epoch by epoch
            (:class:`lrlab.integrations.tensorboard.TensorBoardCallback`; needs
            ``pip install 'lrlab[tensorboard]'``).
        **settings: the fields of :class:`~lrlab.train.SweepConfig` (``lrs``,
            ``optimizer``, ``epochs``, ``seeds``, ``hparams``, ...).

    Example:
        >>> result = sweep("blobs", lrs=[0.1, 0.01], epochs=2)
        >>> sorted(result.members["lr"])
        [0.01, 0.1]
    """
    config = validated(**settings)
    if members_per_chunk is not None:
        whole("members_per_chunk", members_per_chunk, low=1)
    task = as_task(task)
    limit = None if memory_limit is None else parse_bytes(memory_limit)
    executor = LocalExecutor(members_per_task=members_per_chunk, memory_limit=limit)
    callbacks = list(callbacks)
    if tensorboard_dir is not None:  # the integration, imported on request
        from lrlab.integrations.tensorboard import TensorBoardCallback

        callbacks.append(TensorBoardCallback(tensorboard_dir, config.members(),
                                             optimizer=config.optimizer))
    return executor.run(task, config.members(), config, callbacks=callbacks)


def train(task: Task | str, *, lr: float, **settings: object) -> SweepResult:
    """Train one network at one rate: a sweep of one member (``tensorboard_dir`` and
    ``callbacks`` as for :func:`sweep`)."""
    return sweep(task, lrs=[lr], **settings)



