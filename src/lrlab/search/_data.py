"""Batches for the range test: what ``train_data`` / ``val_data`` may be, and one loss call.

Data forms (``train_data`` and ``val_data`` alike):

* a tuple of tensors with one first dimension, ``(x, y)`` (or a lone tensor ``x``): a
  dataset, cut into batches of ``batch_size`` in a fresh random order each pass (training,
  last partial batch dropped) or in order (validation, all samples);
* a map-style ``torch.utils.data.Dataset``: the same, through a ``DataLoader``; an
  ``IterableDataset`` (or a task's subset of one): its examples in its own order, in
  batches of ``batch_size``;
* anything else iterable (a ``DataLoader``, a list of batches, a generator): its batches as
  they come, re-iterated when a pass ends (a one-shot iterator ends the test instead).

Batch forms are lrlab's one batch protocol (:mod:`lrlab.data`): ``(x, ..., y)`` tuples or
lists (``model(*inputs)``), dicts (keyword arguments, the target under ``"labels"``, or
``batch_keys=(input_key, target_key)`` for ``model(batch[input_key])``), or anything for an
own-loss model (``loss_fn=None``: ``model(**batch).loss``) or a :func:`model_loss`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from lrlab._errors import LrlabError
from lrlab.data import (
    FirstExamples,
    ModelLoss,
    batches,
    not_a_tensor,
    output_logits,
    output_loss,
    split_batch,
)
from lrlab.train import cannot_take, check_labels, loss_fails

__all__ = ["Batches", "Stream", "check_pairs", "forward_loss"]


def _tensor_tuple(data: Any) -> tuple[Tensor, ...] | None:
    if isinstance(data, Tensor):
        return (data,)
    tensors = isinstance(data, tuple) and data and all(isinstance(t, Tensor) for t in data)
    if tensors and all(t.dim() > 0 for t in data) and len({len(t) for t in data}) == 1:
        return data
    return None


def check_pairs(data: Any, name: str, loss_fn: Any) -> None:
    """Refuse an ``(x, y)`` tuple of tensors whose first dimensions differ, for a plain
    ``loss_fn`` (its batches need targets, so such a tuple is no sequence of batches): taken
    for one, each tensor read as a batch without targets, and the error said so."""
    if loss_fn is None or isinstance(loss_fn, ModelLoss) or not isinstance(data, tuple) \
            or len(data) < 2 or not all(isinstance(t, Tensor) and t.dim() for t in data):
        return
    sizes = [len(t) for t in data]
    if len(set(sizes)) > 1:
        raise LrlabError(f"{name}'s tensors hold different numbers of rows "
                         f"({' and '.join(map(str, sizes))}): give x and y one row per example")


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
        elif isinstance(data, IterableDataset):  # its examples, batched in its own order
            self._source = DataLoader(data, batch_size=batch_size, drop_last=train)
        elif isinstance(data, FirstExamples):  # a task's subset of an iterable dataset
            self._source = _Passes(data, batch_size)
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
            self._source = data
        else:
            raise LrlabError(f"{name} must be a DataLoader, an iterable of batches or an (x, y) "
                             f"tuple of tensors, not {type(data).__name__}")
        self.oneshot = isinstance(data, Iterator)
        if self.oneshot and not train:  # it would be empty at the second evaluation
            raise LrlabError(f"{name} is a one-shot iterator ({type(data).__name__}), but it "
                             "is evaluated again every eval_every steps: give a list of "
                             "batches, a DataLoader or an (x, y) tuple of tensors")

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


class _Passes:
    """The batches of :class:`~lrlab.data.FirstExamples`, a fresh pass each iteration."""

    def __init__(self, data: FirstExamples, batch_size: int) -> None:
        self._data, self._size = data, batch_size

    def __iter__(self) -> Iterator[Any]:
        return iter(batches(self._data, batch_size=self._size, seed=0, epoch=1, shuffle=False))


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


def forward_loss(model: nn.Module, loss_fn: Callable | ModelLoss | None, batch: Any,
                 keys: tuple[str, str] | None, *, first: bool = False) -> tuple[Tensor, Any, Any]:
    """The loss of one batch: ``(loss, outputs, targets)`` (outputs None for model_loss).

    ``loss_fn=None``: the model computes its own loss (``model(**batch).loss``). ``first``:
    the first training batch, checked as a Task's probe checks it: a model that cannot take
    it, labels beyond the class scores and a loss that fails on the outputs each raise one
    line (:func:`~lrlab.train.cannot_take`, :func:`~lrlab.train.check_labels`,
    :func:`~lrlab.train.loss_fails`) instead of torch's own error."""
    if isinstance(loss_fn, ModelLoss):  # its (loss, outputs) pair too, as a task's
        with _explained(first, model, loss_fn, batch, None):
            return loss_fn.pair(model, batch)[0], None, None
    own = loss_fn is None
    inputs = split_batch(batch, own_loss=own, input_key=None if keys is None else keys[0],
                         **({} if keys is None else {"target_key": keys[1]}))
    with _explained(first, model, loss_fn, batch, inputs):
        outputs = model(*inputs.args, **inputs.kwargs)
    if own:
        return output_loss(outputs), output_logits(outputs), inputs.targets
    if isinstance(outputs, Tensor):
        if not first:
            return loss_fn(outputs, inputs.targets), outputs, inputs.targets
        check_labels(loss_fn, outputs, inputs.targets)
        try:
            return loss_fn(outputs, inputs.targets), outputs, inputs.targets
        except LrlabError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's loss, in one line
            raise LrlabError(loss_fails(outputs, inputs.targets, err, loss_fn,
                                        who="loss_fn")) from None
    try:  # a loss_fn written for this model's outputs (a tuple, a Hugging Face output) reads them
        return loss_fn(outputs, inputs.targets), outputs, inputs.targets
    except (TypeError, AttributeError) as err:  # one that takes a tensor: what to do instead
        raise LrlabError(f"{not_a_tensor(outputs, 'loss_fn', 'loss_fn')} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None


@contextmanager
def _explained(first: bool, model: nn.Module, loss_fn: Any, batch: Any,
               inputs: Any) -> Iterator[None]:
    """On the first batch, the model's error (or a model_loss's) as one line."""
    if not first:
        yield
        return
    try:
        yield
    except LrlabError:
        raise
    except Exception as err:  # noqa: BLE001 - the user's model, in one line
        raise LrlabError(cannot_take(model, loss_fn, batch, inputs, err)) from None
