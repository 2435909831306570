"""Batches for the range test: what ``train_data`` / ``val_data`` may be, and one loss call.

Data forms (``train_data`` and ``val_data`` alike):

* a tuple of tensors with one first dimension, ``(x, y)`` (or a lone tensor ``x``): a
  dataset, cut into batches of ``batch_size`` in a fresh random order each pass (training,
  last partial batch dropped) or in order (validation, all samples);
* a map-style ``torch.utils.data.Dataset``: the same, through a ``DataLoader``;
* anything else iterable (a ``DataLoader``, a list of batches, a generator): its batches as
  they come, re-iterated when a pass ends (a one-shot iterator ends the test instead).

Batch forms, with a ``loss_fn(outputs, targets)``: ``(x, y)`` tuples or lists (the last
element is the target, the others go to the model positionally: ``model(*inputs)``), or
dicts read through ``batch_keys=(input_key, target_key)``. With :func:`model_loss`, the
batch goes whole to your callable: ``fn(model, batch)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from lrlab._errors import LrlabError

__all__ = ["Batches", "ModelLoss", "batch_size_of", "correct", "forward_loss", "model_loss"]


@dataclass(frozen=True)
class ModelLoss:
    """A loss computed from ``(model, batch)``: build it with :func:`model_loss`."""

    fn: Callable[[nn.Module, Any], Tensor]

    def __call__(self, model: nn.Module, batch: Any) -> Tensor:
        return self.fn(model, batch)


def model_loss(fn: Callable[[nn.Module, Any], Tensor]) -> ModelLoss:
    """Mark ``fn(model, batch) -> scalar`` as the loss, for models that compute their own.

    A plain ``loss_fn`` is called as ``loss_fn(model(x), y)``; both kinds take two arguments,
    so lrlab asks for this explicit wrapper instead of guessing from the signature.

    Example:
        >>> loss = model_loss(lambda model, batch: model(batch["x"]).pow(2).mean())
        >>> isinstance(loss, ModelLoss)
        True
    """
    if not callable(fn):
        raise LrlabError(f"model_loss needs a callable fn(model, batch), got {type(fn).__name__}")
    return ModelLoss(fn)


def _tensor_tuple(data: Any) -> tuple[Tensor, ...] | None:
    if isinstance(data, Tensor):
        return (data,)
    tensors = isinstance(data, tuple) and data and all(isinstance(t, Tensor) for t in data)
    if tensors and all(t.dim() > 0 for t in data) and len({len(t) for t in data}) == 1:
        return data
    return None


class Batches:
    """A re-iterable source of batches (see the module docstring for the forms)."""

    def __init__(self, data: Any, batch_size: int, *, train: bool, name: str) -> None:
        self.name, self._train, self._size = name, train, batch_size
        self._tensors = _tensor_tuple(data)
        if self._tensors is not None:
            self._check_size(len(self._tensors[0]))
            self._source: Iterable = ()
        elif isinstance(data, Dataset) and not isinstance(data, IterableDataset):
            self._check_size(len(data))  # type: ignore[arg-type]
            self._source = DataLoader(data, batch_size=batch_size, shuffle=train, drop_last=train)
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
            self._source = data
        else:
            raise LrlabError(f"{name} must be a DataLoader, an iterable of batches or an (x, y) "
                             f"tuple of tensors, not {type(data).__name__}")
        self.oneshot = isinstance(data, Iterator)

    def _check_size(self, n: int) -> None:
        if n == 0 or (self._train and n < self._size):
            raise LrlabError(f"{self.name} has {n} samples, fewer than one batch of "
                             f"batch_size={self._size}: lower batch_size or add data")

    def __iter__(self) -> Iterator[Any]:
        if self._tensors is None:
            return iter(self._source)
        return self._slices()

    def _slices(self) -> Iterator[tuple[Tensor, ...] | Tensor]:
        n, size = len(self._tensors[0]), self._size
        order = torch.randperm(n) if self._train else None
        stop = n - n % size if self._train else n
        for lo in range(0, stop, size):
            pick = order[lo: lo + size] if order is not None else slice(lo, lo + size)
            batch = tuple(t[pick] for t in self._tensors)
            yield batch if len(batch) > 1 else batch[0]


class Stream:
    """Endless batches from :class:`Batches`: re-iterates at the end of each pass.

    ``next()`` returns None when the data has run out for good (a one-shot iterator, or a
    pass with no batches after the first).
    """

    def __init__(self, batches: Batches) -> None:
        self._batches, self._it, self._in_pass, self.seen = batches, iter(batches), 0, 0

    def next(self) -> Any | None:
        for _ in range(2):
            try:
                batch = next(self._it)
            except StopIteration:
                if self._in_pass == 0 and self.seen == 0:
                    raise LrlabError(f"{self._batches.name} yields no batches: give at least "
                                     "one full batch of data") from None
                if self._in_pass == 0 or self._batches.oneshot:
                    return None
                self._it, self._in_pass = iter(self._batches), 0
                continue
            self._in_pass += 1
            self.seen += 1
            return batch
        return None


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) tuple, list or dict batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _split(batch: Any, keys: tuple[str, str] | None) -> tuple[tuple, Any]:
    """``(model inputs, targets)`` of a batch for a ``loss_fn(outputs, targets)``."""
    if isinstance(batch, dict):
        if keys is None:
            raise LrlabError("dict batches need batch_keys=(input_key, target_key), or a "
                             "model_loss(fn) that reads the dict itself")
        missing = [k for k in keys if k not in batch]
        if missing:
            raise LrlabError(f"batch has no key {missing[0]!r} (keys: {sorted(batch)}): "
                             "fix batch_keys")
        return (batch[keys[0]],), batch[keys[1]]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return tuple(batch[:-1]), batch[-1]
    raise LrlabError(f"a batch of type {type(batch).__name__} has no targets: give (x, y) "
                     "batches, or wrap a loss of (model, batch) in lrlab.search.model_loss")


def forward_loss(model: nn.Module, loss_fn: Callable, batch: Any,
                 keys: tuple[str, str] | None) -> tuple[Tensor, Any, Any]:
    """The loss of one batch: ``(loss, outputs, targets)`` (outputs None for model_loss)."""
    if isinstance(loss_fn, ModelLoss):
        return loss_fn(model, batch), None, None
    inputs, targets = _split(batch, keys)
    outputs = model(*inputs)
    return loss_fn(outputs, targets), outputs, targets


def batch_size_of(batch: Any) -> int:
    """The first dimension of the batch's target, else of its first tensor (1 if none)."""
    if isinstance(batch, Tensor):
        return len(batch) if batch.dim() else 1
    if isinstance(batch, (tuple, list)) and batch:
        return batch_size_of(batch[-1])
    if isinstance(batch, dict) and batch:
        return batch_size_of(next(iter(batch.values())))
    return 1


def correct(outputs: Any, targets: Any) -> int | None:
    """Correct predictions in a batch, or None when accuracy does not apply.

    Integer class targets ``(N, ...)`` with outputs ``(N, C, ...)``: ``argmax`` over dim 1.
    Integer or bool targets with outputs of the same shape (or ``(N, 1)`` for ``(N,)``):
    binary logits, ``outputs > 0``. Float targets (regression, soft labels): None.
    """
    if not (isinstance(outputs, Tensor) and isinstance(targets, Tensor)):
        return None
    if targets.is_floating_point() or targets.is_complex():
        return None
    if outputs.dim() == targets.dim() + 1 and outputs.shape[1] > 1:
        pred = outputs.argmax(dim=1)
    elif outputs.shape == targets.shape or outputs.shape == (*targets.shape, 1):
        pred = (outputs.reshape(targets.shape) > 0).to(targets.dtype)
    else:
        return None
    if pred.shape != targets.shape:
        return None
    return int((pred == targets).sum())
