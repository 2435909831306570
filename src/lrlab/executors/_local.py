"""The local executor: every chunk trained in this process, one after another."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from lrlab._errors import LrlabError
from lrlab.executors._base import Callback, CheckpointHook, Driver, chunk_resumes, seed_groups
from lrlab.executors._chunks import Chunk, split_members

if TYPE_CHECKING:
    from lrlab.tasks import Task
    from lrlab.train import Checkpoint, Member, SweepConfig, SweepResult

__all__ = ["LocalExecutor"]


@dataclass(frozen=True)
class LocalExecutor:
    """Train in this process: one population of every member (the default, exactly
    :func:`lrlab.fit`), or chunks of ``members_per_task`` members one after another (to
    bound a population's memory).

    Without ``members_per_task``, the population's memory is estimated before anything is
    allocated (:func:`lrlab.train.estimate_memory`); when it would not fit the device (or
    ``memory_limit`` bytes), the members train in chunks that do, with a one-line warning.
    On a Dataset or DataLoader task, each seed's members train as a population of their
    own (one example order each).

    Example:
        >>> from lrlab.tasks import get_task
        >>> from lrlab.train import validated
        >>> config = validated(lrs=[0.1, 0.01, 0.001], epochs=1)
        >>> result = LocalExecutor(members_per_task=2).run(get_task("blobs"),
        ...                                                config.members(), config)
        >>> result.members["lr"].tolist()
        [0.1, 0.01, 0.001]
    """

    members_per_task: int | None = None
    memory_limit: int | None = None

    def __post_init__(self) -> None:
        split_members(1, self.members_per_task)  # its check, before any training
        if self.memory_limit is not None and (isinstance(self.memory_limit, bool)
                                              or not isinstance(self.memory_limit, int)
                                              or self.memory_limit < 1):
            raise LrlabError(f"memory_limit must be a number of bytes >= 1, got "
                             f"{self.memory_limit!r}")

    def plan(self, count: int, *, task: Task | None = None,
             members: Sequence[Member] | None = None,
             config: SweepConfig | None = None) -> list[Chunk]:
        """The chunks ``count`` members are trained in (see the class docstring)."""
        groups = seed_groups(task, members)
        per_task = self.members_per_task
        if per_task is None and task is not None and members and config is not None:
            per_task = self._fitting(task, members, config, groups)
        elif task is not None and members and config is not None:
            self._refuse_beyond_memory(task, members, config, min(per_task, len(members)))
        return split_members(count, per_task, groups)

    def _refuse_beyond_memory(self, task: Task, members: Sequence[Member],
                              config: SweepConfig, size: int) -> None:
        """Chunks of ``size`` given by the user: one line, before allocating, when one would
        need more than a population may use (as :meth:`_fitting` plans it)."""
        from lrlab.train import estimate_memory, size_text

        estimate = estimate_memory(task, config, members[:1], limit=self.memory_limit)
        if estimate.total(size) > estimate.limit:
            raise LrlabError(f"{size} members at once need about "
                             f"{size_text(estimate.total(size))}, more than the "
                             f"{size_text(estimate.limit)} a population may use here; give "
                             f"members_per_chunk={max(1, estimate.members_that_fit())} or "
                             "fewer")

    def _fitting(self, task: Task, members: Sequence[Member], config: SweepConfig,
                 groups: list[list[int]] | None) -> int | None:
        """The members one population may hold in memory (``None``: all of them)."""
        from lrlab.train import estimate_memory, size_text

        largest = max((len(g) for g in groups), default=len(members)) if groups else len(members)
        estimate = estimate_memory(task, config, members[:1], limit=self.memory_limit)
        fit = estimate.members_that_fit()
        if fit < 1:
            need = estimate.total(1)
            raise LrlabError(
                f"one member needs about {size_text(need)} but {size_text(estimate.limit)} "
                "may be used; use a smaller batch size or model"
                + ("" if self.memory_limit is None
                   else f", or give memory_limit={size_text(need, limit=True)} or more"))
        if fit >= largest:
            return None
        warnings.warn(f"lrlab: {largest} members need about {size_text(estimate.total(largest))}"
                      f", more than the {size_text(estimate.limit)} available; training "
                      f"them in chunks of {fit}", UserWarning, stacklevel=3)
        return fit

    def run(self, task: Task, members: Sequence[Member], config: SweepConfig, *,
            callbacks: Sequence[Callback] = (), checkpoint_every: int | None = None,
            on_checkpoint: CheckpointHook | None = None,
            resume: Checkpoint | Sequence[Checkpoint] | None = None,
            chunks: Sequence[Chunk] | None = None) -> SweepResult:
        """Train ``members`` on ``task``; see :class:`~lrlab.executors.Executor`."""
        from lrlab.train import fit

        if chunks is None:  # planned here, unless the caller planned them already
            chunks = self.plan(len(members), task=task, members=members, config=config)
        chunks = list(chunks)
        resumes = chunk_resumes(task, members, config, chunks, resume)
        driver = Driver(chunks, members, callbacks=callbacks, on_checkpoint=on_checkpoint,
                        resume=resumes)
        for chunk in chunks:
            result = fit(task, chunk.pick(members), config,
                         callbacks=[partial(driver.epoch, chunk)],
                         checkpoint_every=checkpoint_every,
                         on_checkpoint=driver.checkpoint if on_checkpoint else None,
                         resume=resumes.get(chunk.index))
            driver.finish(chunk, result)
        return driver.result()

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self):  # -> LocalExecutor (typing.Self from Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
