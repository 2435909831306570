"""What every executor promises, and the driver-side bookkeeping they share.

An executor trains a study's members as one or more populations (chunks) and hands back
one :class:`~lrlab.train.SweepResult` over every member. Its ``run`` takes :func:`lrlab.fit`'s
arguments, hooks included, so code written for ``fit`` (a store committing each epoch and
saving checkpoints) works unchanged; whatever trains where, those hooks run in the calling
process (the driver) only, which is what lets one process alone write a store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from lrlab._errors import LrlabError
from lrlab.executors._chunks import Chunk, merge_reports, merge_results, renumbered

if TYPE_CHECKING:
    from lrlab.tasks import Task
    from lrlab.train import Checkpoint, EpochReport, Member, SweepConfig, SweepResult

__all__ = ["Driver", "Executor", "chunk_resumes", "seed_groups"]

Callback = Callable[["EpochReport"], None]
CheckpointHook = Callable[["Checkpoint"], None]


class Executor(Protocol):
    """Trains members as populations somewhere and returns one result over all of them.

    ``run(task, members, config, *, callbacks, checkpoint_every, on_checkpoint, resume)``
    means what it means for :func:`lrlab.fit`, with several chunks:

    - ``callbacks`` get one :class:`~lrlab.train.EpochReport` per epoch over *every* member
      (records, ``val``, ``alive``, ``diverged_step`` in the study's member numbers), in
      epoch order, once every chunk has finished that epoch; an epoch a retried chunk
      repeats is not reported twice.
    - ``on_checkpoint`` gets each chunk's :class:`~lrlab.train.Checkpoint` (its
      ``fingerprint`` names the chunk's members), every ``checkpoint_every`` epochs and
      after the last.
    - ``resume`` takes one checkpoint per chunk to continue (any subset: a chunk without
      one starts over); ``callbacks`` then see the epochs after the latest of them.
    - ``chunks``, when given, are what ``plan`` returned for these members (the store plans
      first, to record a study's parts): trained as they are, not planned again.
    """

    def plan(self, count: int, *, task: Task | None = None,
             members: Sequence[Member] | None = None,
             config: SweepConfig | None = None) -> list[Chunk]:
        """The chunks ``count`` members are trained in (what ``resume`` must match); with
        the task, members and settings, each seed apart on a DataLoader task."""
        ...

    def run(self, task: Task, members: Sequence[Member], config: SweepConfig, *,
            callbacks: Sequence[Callback] = (), checkpoint_every: int | None = None,
            on_checkpoint: CheckpointHook | None = None,
            resume: Checkpoint | Sequence[Checkpoint] | None = None,
            chunks: Sequence[Chunk] | None = None) -> SweepResult:
        """Train ``members`` on ``task``; the result has every member, numbered as given."""
        ...


def seed_groups(task: Task | None, members: Sequence[Member] | None
                ) -> list[list[int]] | None:
    """Each seed's member numbers, when they must train as separate populations: a task fed
    by a Dataset or DataLoader gives every member of a population the same batches, and
    members of different seeds need different example orders. ``None`` otherwise."""
    if task is None or members is None or task.in_memory:
        return None
    groups: dict[int, list[int]] = {}
    for k, m in enumerate(members):
        groups.setdefault(m.seed, []).append(k)
    return list(groups.values()) if len(groups) > 1 else None


def chunk_resumes(task: Task, members: Sequence[Member], config: SweepConfig,
                  chunks: list[Chunk], resume) -> dict[int, Checkpoint]:
    """Each given checkpoint matched to the chunks whose members and settings it was taken
    with (by fingerprint: chunks of identical members share theirs, as they would train
    alike); one that matches no chunk is an error."""
    from lrlab.train import plan_run

    if resume is None:
        return {}
    given = [resume] if not isinstance(resume, Sequence) else list(resume)
    prints: dict[str, list[int]] = {}
    for c in chunks:
        key = plan_run(task, config, c.pick(members)).fingerprint
        prints.setdefault(key, []).append(c.index)
    out: dict[int, Checkpoint] = {}
    for ckpt in given:
        if ckpt.fingerprint not in prints:
            raise LrlabError("a checkpoint matches none of the chunks (other settings or "
                             "members, or another --members-per-task); resume with the "
                             "settings and chunking it was saved with")
        out.update(dict.fromkeys(prints[ckpt.fingerprint], ckpt))
    return out


class Driver:
    """The driver's side of a run: each chunk's epochs passed on once and merged into whole
    epochs for ``callbacks``; the chunks' results merged at the end."""

    def __init__(self, chunks: list[Chunk], members: Sequence[Member], *,
                 callbacks: Sequence[Callback] = (),
                 on_checkpoint: CheckpointHook | None = None,
                 resume: dict[int, Checkpoint] | None = None) -> None:
        self.chunks, self.members = chunks, members
        self.callbacks, self.on_checkpoint = list(callbacks), on_checkpoint
        resume = resume or {}
        #: per chunk, the last epoch passed on: a retried chunk repeats the epochs after its
        #: last checkpoint (the same numbers: resuming is exact); they are not passed twice
        self.delivered = {c.index: (resume[c.index].epoch if c.index in resume else 0)
                          for c in chunks}
        self.waiting: dict[int, dict[int, EpochReport]] = {}
        self.results: dict[int, SweepResult] = {}

    def epoch(self, chunk: Chunk, report: EpochReport) -> None:
        """A chunk finished an epoch: keep it until every chunk has, then report the epoch."""
        if report.epoch <= self.delivered[chunk.index] or not self.callbacks:
            self.delivered[chunk.index] = max(self.delivered[chunk.index], report.epoch)
            return
        self.delivered[chunk.index] = report.epoch
        if len(self.chunks) == 1:
            whole = report
        else:
            waiting = self.waiting.setdefault(report.epoch, {})
            waiting[chunk.index] = dataclasses.replace(
                report, records=renumbered(report.records, chunk),
                steps=renumbered(report.steps, chunk))
            if len(waiting) < len(self.chunks):
                return
            del self.waiting[report.epoch]
            whole = merge_reports(self.chunks, [waiting[c.index] for c in self.chunks])
        for cb in self.callbacks:
            cb(whole)

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """A chunk saved its population: hand the checkpoint on."""
        if self.on_checkpoint is not None:
            self.on_checkpoint(checkpoint)

    def finish(self, chunk: Chunk, result: SweepResult) -> None:
        """A chunk's final result (in its own member numbers)."""
        self.results[chunk.index] = result

    def result(self) -> SweepResult:
        """Every chunk's result merged into one, member numbers as a local run's."""
        return merge_results(self.chunks, [self.results[c.index] for c in self.chunks],
                             self.members)
