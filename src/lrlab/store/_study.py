"""Training into the store: start a study, resume one, read one back.

:func:`run_study` writes the study, then calls :func:`lrlab.train.fit` with two hooks: a
callback committing each epoch's records as the epoch ends, and ``on_checkpoint`` saving a
checkpoint every ``checkpoint_every`` epochs and at the end. :func:`resume_study` continues
an interrupted study from its last checkpoint: records after it are dropped first, so no
epoch is missing or recorded twice, and the final records equal those of a run never
interrupted (the ``time`` record aside).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lrlab._checks import whole
from lrlab._errors import LrlabError
from lrlab.store._store import Store, StudyInfo
from lrlab.tasks import Task
from lrlab.train import (
    Checkpoint,
    EpochReport,
    Member,
    SweepConfig,
    SweepResult,
    check_fit,
    plan_run,
    resolve_task,
)

if TYPE_CHECKING:
    from lrlab.executors import Chunk, Executor

__all__ = ["DEFAULT_CHECKPOINT_EVERY", "Interrupted", "chunk_size", "load_result", "resume_study",
           "run_study"]

#: Epochs between checkpoints unless told otherwise (one is also taken after the last).
DEFAULT_CHECKPOINT_EVERY = 10

Callback = Callable[[EpochReport], None]


def run_study(store: Store, task: Task, config: SweepConfig, *, name: str | None = None,
              command: str = "sweep", task_spec: dict[str, Any] | None = None,
              callbacks: Sequence[Callback] = (),
              checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
              executor: Executor | None = None) -> tuple[str, SweepResult]:
    """Train ``config``'s members on ``task`` as a new study of ``store``.

    Args:
        store: the database.
        task, config: what to train (as for :func:`lrlab.train.fit`).
        name: the study's name; default ``COMMAND-N``.
        command: what started it (shown by ``lrlab ls``).
        task_spec: how to load ``task`` again (``lrlab resume`` passes it to the command
            line's task loader); default ``{"name": task.name}``.
        callbacks: more per-epoch callbacks (progress).
        checkpoint_every: epochs between checkpoints.
        executor: trains the members in chunks (:mod:`lrlab.executors`); ``None``: one
            population here (:func:`lrlab.train.fit`). Its hooks run here, so this process
            alone writes the store; each chunk's checkpoints are kept.

    Returns:
        The study's name and the result.

    Example:
        >>> import tempfile, os
        >>> from lrlab.tasks import get_task
        >>> from lrlab.train import validated
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "lrlab.db"))
        >>> name, result = run_study(store, get_task("blobs"), validated(lrs=[0.1], epochs=2))
        >>> name, store.info(name).state
        ('sweep-1', 'done')
    """
    _check_every(checkpoint_every)
    members = config.members()
    executor = executor or _local()
    task = resolve_task(task, config, members)  # a loader task's kind, before the study
    check_fit(task, members, config)  # what would fail in the first step: before the study
    epochs, steps_per_epoch = _shape(task, config, members)
    chunks, parts = _parts(task, config, members, executor)  # planned once, trained as planned
    name = store.create_study(task, config, members, task_spec=task_spec or {"name": task.name},
                              command=command, name=name, steps_per_epoch=steps_per_epoch,
                              epochs=epochs, parts=parts)
    try:
        return name, _train(store, name, task, members, config, callbacks, checkpoint_every,
                            [], executor, chunks)
    except LrlabError:
        if store.info(name).epochs_done == 0:  # failed before its first epoch: no study
            store.remove(name)
        raise
    except KeyboardInterrupt:
        raise Interrupted(name, store.path, store.info(name)) from None


def resume_study(store: Store, name: str, task: Task, *, callbacks: Sequence[Callback] = (),
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, device: str | None = None,
                 force: bool = False, executor: Executor | None = None) -> SweepResult:
    """Continue the interrupted study ``name`` from its last checkpoint.

    Args:
        store: the database.
        name: the study.
        task: its task, loaded again (the study's ``task_spec`` says how).
        callbacks, checkpoint_every: as for :func:`run_study`.
        device: train on this device instead of the one it was started with.
        force: take the study over even if its process seems alive (on another host, say).
        executor: for a study trained in chunks, an executor with the same chunks
            (:func:`chunk_size` gives its ``members_per_task``); ``None``: a local one.

    Raises:
        LrlabError: the study is unknown, done, still training, the task does not match, or
            the executor's chunks are not the study's.
    """
    _check_every(checkpoint_every)
    info = store.info(name)
    if info.status == "done":  # checked first: a stored search stage has no steps to match
        raise LrlabError(f"study {name!r} is done; nothing to resume (lrlab show {name})")
    config = SweepConfig.model_validate(info.config)
    if device is not None:
        config = config.model_copy(update={"device": device})
    members = store.members(name)
    task = resolve_task(task, config, members)
    check_fit(task, members, config)
    if task.name != info.task or _shape(task, config, members) != (info.epochs,
                                                                   info.steps_per_epoch):
        raise LrlabError(f"study {name!r} trained {info.task} with {info.epochs} epochs of "
                         f"{info.steps_per_epoch} steps; this task ({task.name}) differs, so it "
                         "cannot continue it")
    if executor is None:  # the chunks it trained in, whatever memory says today
        executor = _local(chunk_size(info) or len(members))
    chunks, parts = _parts(task, config, members, executor)
    if parts != info.parts:
        size = chunk_size(info)
        how = f"{len(info.parts)} chunks of {size} members" if size else "one population"
        raise LrlabError(f"study {name!r} trained as {how}; resume it the same way")
    checkpoints = store.checkpoints(name)
    store.claim(name, force=force)
    try:
        return _train(store, name, task, members, config, callbacks, checkpoint_every,
                      checkpoints, executor, chunks)
    except KeyboardInterrupt:
        raise Interrupted(name, store.path, store.info(name)) from None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a study trains: the message names the study and the command that
    continues it (``--task`` for a user's task; from the start before any checkpoint)."""

    def __init__(self, name: str, db: str | os.PathLike, info: StudyInfo | None = None) -> None:
        spec = info.task_spec if info is not None else {}
        user = spec.get("task_opt") if isinstance(spec.get("task_opt"), str) else None
        how = f"lrlab resume {name} --db {db}" + (f" --task {user}" if user else "")
        done = info.checkpoint_epoch if info is not None else None
        if info is not None and not done:
            text = (f"study {name} stopped before its first checkpoint; {how} trains it "
                    "again from the start")
        else:
            at = f" (epoch {done})" if done else ""
            text = f"study {name} stopped; it continues from its last checkpoint{at} with: {how}"
        super().__init__(text)
        self.name = name


def chunk_size(info) -> int | None:
    """The ``members_per_task`` of a study trained in chunks; ``None`` for one population."""
    if len(info.parts) <= 1:  # one population, or a search stage stored whole
        return None
    start, stop, _ = info.parts[0]
    return stop - start


def load_result(db: str | os.PathLike, study: str) -> SweepResult:
    """The records of ``study`` in the database ``db``, as a :class:`SweepResult`.

    Example:
        >>> result = load_result("lrlab.db", "sweep-1")  # doctest: +SKIP
    """
    if not isinstance(study, str) or not study:  # None failed in a TypeError of len()'s
        raise LrlabError(f"study must be a study's name as lrlab ls lists it (e.g. "
                         f"'sweep-1'), got {study!r}")
    with Store(db, create=False) as store:
        return store.result(study)


def _train(store: Store, name: str, task: Task, members: list[Member], config: SweepConfig,
           callbacks: Sequence[Callback], every: int, checkpoints: list[Checkpoint],
           executor: Executor, chunks: list[Chunk]) -> SweepResult:
    def commit(report: EpochReport) -> None:
        store.record_epoch(name, report)

    result = executor.run(task, members, config, callbacks=[commit, *callbacks],
                          checkpoint_every=every,
                          on_checkpoint=lambda ckpt: store.save_checkpoint(name, ckpt),
                          resume=checkpoints or None, chunks=chunks)
    store.finish(name, result)
    return result


def _local(members_per_task: int | None = None) -> Executor:
    """The default executor: this process, in chunks of ``members_per_task`` (default: as
    many members as fit in memory)."""
    from lrlab.executors import LocalExecutor

    return LocalExecutor(members_per_task=members_per_task)


def _parts(task: Task, config: SweepConfig, members: list[Member], executor: Executor
           ) -> tuple[list[Chunk], list[tuple[int, int, str]]]:
    """The populations the members train as (the executor's chunks, planned once: its
    memory estimate and any warning about chunking come once), and each as the study
    records it: its members and the fingerprint its checkpoints carry."""
    chunks = executor.plan(len(members), task=task, members=members, config=config)
    return chunks, [(c.start, c.stop, plan_run(task, config, c.pick(members)).fingerprint)
                    for c in chunks]


def _shape(task: Task, config: SweepConfig, members: list[Member]) -> tuple[int, int]:
    """Epochs, and steps per epoch (0: data without a length), the fit will train."""
    plan = plan_run(task, config, members)
    return plan.epochs, plan.steps_per_epoch or 0


def _check_every(every: object) -> None:
    whole("--checkpoint-every", every, low=1, hint=" (epochs)")
