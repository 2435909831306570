"""The ``Task``: data, a model factory, a loss and the defaults to train them with."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lrlab._errors import LrlabError
from lrlab.metrics import cross_entropy

__all__ = ["Split", "Task"]


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one part of a dataset (train, validation or test)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return self.x.shape[0]


def _check_split(task: str, part: str, split: Split, num_classes: int | None) -> None:
    if len(split) != split.y.shape[0]:
        raise LrlabError(f"task {task!r}: {part} inputs have {len(split)} rows but targets "
                         f"{split.y.shape[0]}; give one target per example")
    if len(split) == 0:
        raise LrlabError(f"task {task!r}: the {part} split is empty")
    for what, t in (("inputs", split.x), ("targets", split.y)):
        if t.is_floating_point() and not torch.isfinite(t).all():
            row = int((~torch.isfinite(t.reshape(len(t), -1))).any(1).nonzero()[0])
            raise LrlabError(f"task {task!r}: {part} {what} contain NaN or Inf (first at row "
                             f"{row}); clean or impute the data before training")
    if num_classes is not None:
        if split.y.is_floating_point():
            raise LrlabError(f"task {task!r}: classification targets must be integer class "
                             "indices, got floats")
        lo, hi = int(split.y.min()), int(split.y.max())
        if lo < 0 or hi >= num_classes:
            raise LrlabError(f"task {task!r}: {part} labels span {lo}..{hi} but the task has "
                             f"{num_classes} classes; labels must be 0..{num_classes - 1}")


@dataclass(frozen=True)
class Task:
    """Everything needed to train one kind of network on one dataset.

    Attributes:
        name: a short name (``"blobs"``).
        train, val: the training and validation splits; ``test`` stays apart (optional).
        model: builds a freshly initialised network (called under a seeded RNG).
        num_classes: the number of classes, or ``None`` for regression.
        loss: per-sample loss ``loss(outputs (K, B, ...), targets) -> (K, B)``.
        batch_size, epochs: defaults for training.
        monitor: the validation metric that ranks members (higher is better, except
            ``loss`` and ``error``).
        description: one line for listings.
    """

    name: str
    train: Split
    val: Split
    model: Callable[[], nn.Module]
    num_classes: int | None = None
    loss: Callable[[Tensor, Tensor], Tensor] = cross_entropy
    batch_size: int = 32
    epochs: int = 10
    monitor: str = "accuracy"
    description: str = ""
    test: Split | None = None

    def __post_init__(self) -> None:
        parts = [("train", self.train), ("validation", self.val)]
        for part, split in parts + ([("test", self.test)] if self.test is not None else []):
            _check_split(self.name, part, split, self.num_classes)
        if self.batch_size < 1 or self.epochs < 1:
            raise LrlabError(f"task {self.name!r}: batch size and epochs must be at least 1")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of :attr:`monitor` is better."""
        return self.monitor not in ("loss", "error", "sse")

    def init_model(self, seed: int = 0) -> nn.Module:
        """A freshly initialised model, its weights drawn from ``seed`` (the caller's random
        state is left as it was): how every lrlab run starts from "the same weights"."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.model()

    def replace(self, **changes) -> Task:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def subset(self, size: float, *, seed: int = 0) -> Task:
        """The same task trained on part of its training data, stratified by class.

        Args:
            size: a number of examples (``int`` >= 1) or a fraction in (0, 1].
            seed: which examples are drawn.

        Returns:
            A task whose validation (and test) data are unchanged.
        """
        n = len(self.train)
        count = _subset_count(size, n)
        if count == n:
            return self
        idx = _stratified_indices(self.train.y, count, self.num_classes, seed)
        train = Split(self.train.x[idx], self.train.y[idx])
        return self.replace(name=f"{self.name}[{count}]", train=train)


def _subset_count(size: float, n: int) -> int:
    """Examples to keep: an ``int`` is a count, a ``float`` in (0, 1] a fraction of ``n``."""
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not np.isfinite(size):
        raise LrlabError(f"subset must be a count or a fraction, got {size!r}")
    if isinstance(size, float) and not (size > 1 and size.is_integer()):
        if not 0 < size <= 1:
            raise LrlabError(f"subset fraction must be in (0, 1], got {size}; "
                             "or give a whole number of examples")
        return max(1, round(size * n))
    if size < 1:
        raise LrlabError(f"subset must be at least 1 example, got {size}")
    return min(int(size), n)


def _stratified_indices(y: Tensor, count: int, num_classes: int | None, seed: int) -> Tensor:
    """``count`` indices whose class proportions match ``y``'s, in their original order.

    Each class gets ``count * n_c / n`` examples rounded by largest remainder, drawn without
    replacement from a generator seeded by ``seed``. Regression targets are sampled plainly.
    """
    labels = y.cpu().numpy() if num_classes is not None else np.zeros(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, sizes = np.unique(labels, return_counts=True)
    if num_classes is not None and count < len(classes):
        raise LrlabError(f"a stratified subset needs at least one example per class "
                         f"({len(classes)}), got {count}")
    exact = sizes * count / len(labels)
    quota = np.floor(exact).astype(np.int64)
    quota[np.argsort(quota - exact, kind="stable")[: count - quota.sum()]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), q, replace=False)
              for c, q in zip(classes, quota)]
    return torch.from_numpy(np.sort(np.concatenate(chosen)))
