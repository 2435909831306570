"""The local executor: every chunk trained in this process, one after another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from lrlab.executors._base import Callback, CheckpointHook, Driver, chunk_resumes
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

    def __post_init__(self) -> None:
        split_members(1, self.members_per_task)  # its check, before any training

    def plan(self, count: int) -> list[Chunk]:
        """The chunks ``count`` members are trained in."""
        return split_members(count, self.members_per_task)

    def run(self, task: Task, members: Sequence[Member], config: SweepConfig, *,
            callbacks: Sequence[Callback] = (), checkpoint_every: int | None = None,
            on_checkpoint: CheckpointHook | None = None,
            resume: Checkpoint | Sequence[Checkpoint] | None = None) -> SweepResult:
        """Train ``members`` on ``task``; see :class:`~lrlab.executors.Executor`."""
        from lrlab.train import fit

        chunks = self.plan(len(members))
        resumes = chunk_resumes(task, members, config, chunks, resume)
        driver = Driver(chunks, members, callbacks=callbacks, on_checkpoint=on_checkpoint,
                        resume=resumes)
        for chunk in chunks:
            result = fit(task, members[chunk.start:chunk.stop], config,
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
