"""Members split into chunks, and chunk results merged back into one population's.

A chunk is a contiguous range of member numbers trained as one population. Merging renumbers
each chunk's members by the chunk's first member and orders the rows exactly as
:func:`lrlab.fit` orders those of one population over all members, so a merged result reads
like (and, member for member, equals) a local run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError

if TYPE_CHECKING:
    from lrlab.train import EpochReport, Member, SweepResult

__all__ = ["Chunk", "merge_records", "merge_reports", "merge_results", "merge_steps",
           "renumbered", "split_members"]


@dataclass(frozen=True)
class Chunk:
    """Members ``start`` to ``stop - 1`` of a study, trained as one population.

    Attributes:
        index: the chunk's place among the study's chunks (0, 1, ...).
        start, stop: the member numbers it holds, as in ``range(start, stop)``.
    """

    index: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def label(self) -> str:
        """``chunk 1 (members 4-7)``: how messages name it."""
        last = self.stop - 1
        who = f"member {self.start}" if last == self.start else f"members {self.start}-{last}"
        return f"chunk {self.index} ({who})"


def split_members(count: int, per_task: int | None) -> list[Chunk]:
    """``count`` members in chunks of ``per_task`` (the last may be smaller); one chunk of
    every member when ``per_task`` is ``None``.

    Example:
        >>> [(c.start, c.stop) for c in split_members(5, 2)]
        [(0, 2), (2, 4), (4, 5)]
    """
    if per_task is not None and (isinstance(per_task, bool) or int(per_task) != per_task
                                 or per_task < 1):
        raise LrlabError(f"members per task must be a whole number of at least 1, got "
                         f"{per_task!r}; give --members-per-task 1 or more")
    size = count if per_task is None else int(per_task)
    chunks = math.ceil(count / size) if count else 0
    return [Chunk(i, i * size, min(count, (i + 1) * size)) for i in range(chunks)]


def renumbered(frame: pd.DataFrame | None, offset: int) -> pd.DataFrame | None:
    """A copy of a table whose ``member`` column is shifted by ``offset``."""
    if frame is None or offset == 0:
        return frame
    return frame.assign(member=frame["member"] + offset)


def _categorical(frames: list[pd.DataFrame], merged: pd.DataFrame, column: str) -> None:
    """Keep a categorical column categorical (categories: the union, sorted, as fit has)."""
    if isinstance(frames[0][column].dtype, pd.CategoricalDtype):
        cats = sorted(set().union(*(f[column].cat.categories for f in frames)))
        merged[column] = pd.Categorical(merged[column].astype(object), categories=cats)


def _rank(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Each row's key (``columns``) numbered in order of first appearance."""
    codes, _ = pd.factorize(pd.MultiIndex.from_arrays([frame[c] for c in columns]))
    return codes


def _interleave(frames: list[pd.DataFrame], order: list[str], blocks: list[str]) -> pd.DataFrame:
    """The chunks' rows in one population's order: by ``order`` columns, then by the
    first-appearance rank of ``blocks`` columns, then by member."""
    merged = pd.concat(frames, ignore_index=True)
    for column in ("split", "metric"):
        if column in merged:
            _categorical(frames, merged, column)
    keys = [merged[c].to_numpy() for c in order]
    keys += [_rank(merged, blocks), merged["member"].to_numpy()]
    rows = np.lexsort(keys[::-1])  # lexsort sorts by its last key first
    return merged.iloc[rows].reset_index(drop=True)


def merge_records(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tidy per-epoch records of several chunks (already renumbered), ordered as
    :func:`lrlab.fit` orders one population's: by epoch, split and metric, then member."""
    return _interleave(frames, ["epoch"], ["split", "metric"])


def merge_steps(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-step records of several chunks (already renumbered), ordered as one population's:
    by metric (in recorded order), step, then member."""
    return _interleave(frames, [], ["metric", "step"])


def merge_results(chunks: list[Chunk], results: list[SweepResult],
                  members: Sequence[Member]) -> SweepResult:
    """One :class:`~lrlab.train.SweepResult` over ``members`` from the chunks' results.

    Member ``k`` of the merged result is member ``k - chunk.start`` of its chunk; records,
    members and per-step tables are those of a single population, rows in its order. The
    trained population stays with the chunks (``population`` is ``None``) unless there is
    one chunk.
    """
    from lrlab.train import members_table

    if len(results) == 1:
        return results[0]
    first = results[0]
    records = merge_records([renumbered(r.records, c.start) for c, r in zip(chunks, results)])
    # built again over every member: a chunk's table lacks columns none of its members need
    # (lr_mult when they all train at uniform rates)
    diverged = {name: np.concatenate([r.members[name].fillna(-1).to_numpy(np.int64)
                                      for r in results])
                for name in ("diverged_step", "diverged_epoch")}
    table = members_table(list(members), first.config["optimizer"], diverged["diverged_step"],
                          diverged["diverged_epoch"])
    steps = None
    if all(r.steps is not None for r in results):
        steps = merge_steps([renumbered(r.steps, c.start) for c, r in zip(chunks, results)])
    return dataclasses.replace(first, records=records, members=table, steps=steps,
                               population=None)


def merge_reports(chunks: list[Chunk], reports: list[EpochReport]) -> EpochReport:
    """One epoch of every chunk (records and steps already renumbered) as the report of one
    population over all members."""
    first = reports[0]
    steps = None
    if all(r.steps is not None for r in reports):
        steps = merge_steps([r.steps for r in reports])
    diverged = None
    if all(r.diverged_step is not None for r in reports):
        diverged = np.concatenate([r.diverged_step for r in reports])
    return dataclasses.replace(
        first, members=sum(len(c) for c in chunks),
        val={k: np.concatenate([r.val[k] for r in reports]) for k in first.val},
        alive=np.concatenate([r.alive for r in reports]),
        seconds=max(r.seconds for r in reports),
        records=merge_records([r.records for r in reports]), steps=steps,
        diverged_step=diverged)
