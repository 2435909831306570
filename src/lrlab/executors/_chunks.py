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

from lrlab._checks import whole

if TYPE_CHECKING:
    from lrlab.train import EpochReport, Member, SweepResult

__all__ = ["Chunk", "merge_records", "merge_reports", "merge_results", "merge_steps",
           "renumbered", "split_members"]


@dataclass(frozen=True)
class Chunk:
    """Members ``start`` to ``stop - 1`` of a study (or the ``picked`` ones among them),
    trained as one population.

    Attributes:
        index: the chunk's place among the study's chunks (0, 1, ...).
        start, stop: the member numbers it holds, as in ``range(start, stop)``.
        picked: the member numbers it holds when they are not all of ``start..stop - 1``
            (one seed's members, trained on that seed's order of a DataLoader).
    """

    index: int
    start: int
    stop: int
    picked: tuple[int, ...] | None = None

    @property
    def numbers(self) -> tuple[int, ...]:
        """The study's member numbers this chunk holds, in its own member order."""
        return self.picked if self.picked is not None else tuple(range(self.start, self.stop))

    def pick(self, items: Sequence) -> list:
        """This chunk's entries of a per-member sequence."""
        return [items[i] for i in self.numbers]

    def __len__(self) -> int:
        return len(self.numbers)

    def label(self) -> str:
        """``chunk 1 (members 4-7)``: how messages name it."""
        last = self.stop - 1
        who = f"member {self.start}" if last == self.start else f"members {self.start}-{last}"
        return f"chunk {self.index} ({who})"


def split_members(count: int, per_task: int | None,
                  groups: Sequence[Sequence[int]] | None = None) -> list[Chunk]:
    """``count`` members in chunks of ``per_task`` (the last may be smaller); one chunk of
    every member when ``per_task`` is ``None``. With ``groups`` (lists of member numbers
    that must train apart, such as each seed's members on a DataLoader), each group is
    split so on its own.

    Example:
        >>> [(c.start, c.stop) for c in split_members(5, 2)]
        [(0, 2), (2, 4), (4, 5)]
        >>> [c.numbers for c in split_members(4, None, groups=[[0, 2], [1, 3]])]
        [(0, 2), (1, 3)]
    """
    if per_task is not None:
        whole("members_per_task", per_task, low=1)
    if groups is None or len(groups) <= 1:
        size = count if per_task is None else int(per_task)
        chunks = math.ceil(count / size) if count else 0
        return [Chunk(i, i * size, min(count, (i + 1) * size)) for i in range(chunks)]
    out: list[Chunk] = []
    for group in groups:
        size = len(group) if per_task is None else int(per_task)
        for lo in range(0, len(group), size):
            part = tuple(int(m) for m in group[lo:lo + size])
            contiguous = part == tuple(range(part[0], part[-1] + 1))
            out.append(Chunk(len(out), part[0], part[-1] + 1,
                             None if contiguous else part))
    return out


def renumbered(frame: pd.DataFrame | None, offset: int | Chunk) -> pd.DataFrame | None:
    """A copy of a table whose ``member`` column is shifted by ``offset``, or mapped to a
    chunk's member numbers."""
    if isinstance(offset, Chunk):
        if offset.picked is None:
            return renumbered(frame, offset.start)
        if frame is None:
            return None
        numbers = np.asarray(offset.numbers)
        return frame.assign(member=numbers[frame["member"].to_numpy()])
    if frame is None or offset == 0:
        return frame
    return frame.assign(member=frame["member"] + offset)


def _scatter(chunks: list[Chunk], parts: list[np.ndarray]) -> np.ndarray:
    """Per-chunk arrays (each in its chunk's member order) as one array in study order."""
    order = np.concatenate([np.asarray(c.numbers) for c in chunks])
    joined = np.concatenate(parts)
    out = np.empty_like(joined)
    out[order] = joined
    return out


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
    records = merge_records([renumbered(r.records, c) for c, r in zip(chunks, results)])
    # built again over every member: a chunk's table lacks columns none of its members need
    # (lr_mult when they all train at uniform rates)
    diverged = {name: _scatter(chunks, [r.members[name].fillna(-1).to_numpy(np.int64)
                                        for r in results])
                for name in ("diverged_step", "diverged_epoch")}
    table = members_table(list(members), first.optimizer, diverged["diverged_step"],
                          diverged["diverged_epoch"])
    steps = None
    if all(r.steps is not None for r in results):
        steps = merge_steps([renumbered(r.steps, c) for c, r in zip(chunks, results)])
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
        diverged = _scatter(chunks, [r.diverged_step for r in reports])
    return dataclasses.replace(
        first, members=sum(len(c) for c in chunks),
        val={k: _scatter(chunks, [r.val[k] for r in reports]) for k in first.val},
        alive=_scatter(chunks, [r.alive for r in reports]),
        seconds=max(r.seconds for r in reports),
        records=merge_records([r.records for r in reports]), steps=steps,
        diverged_step=diverged)
