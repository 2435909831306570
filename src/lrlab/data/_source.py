"""A task's data as users have it (a ``Dataset``, an ``IterableDataset``, a ``DataLoader``),
and its batches epoch by epoch in an order drawn from the run's seed.

Every member of a population trains on the *same* batch at each step, so one loader is
iterated per epoch for all of them: loading and augmentation are paid once, not K times.
The example order of epoch ``e`` for seed ``s`` is ``torch.randperm(n)`` drawn from a
generator seeded with ``s * 1_000_003 + e``, exactly the order lrlab gives in-memory tensors,
so the same data as tensors or as a ``TensorDataset`` trains alike.

* a map-style ``Dataset``: batches of the task's batch size in that order (the default
  collate function);
* a ``DataLoader``: rebuilt each epoch with its own batch size, collate function, workers,
  ``pin_memory``, ``drop_last`` and worker hooks; a shuffling loader (``shuffle=True``, a
  plain ``RandomSampler``) gets the seeded order, a sequential one stays sequential, and a
  loader with a sampler or batch sampler of its own keeps it (lrlab then seeds torch's
  global generator per epoch, so a sampler that draws from it repeats; one with a generator
  of its own keeps its own order). Workers draw their seeds (augmentation) from a generator
  seeded the same way, so a run repeats with workers too;
* an ``IterableDataset`` (bare or in a loader): its examples in its own order; an epoch is
  one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    TensorDataset,
)

from lrlab._errors import LrlabError

__all__ = ["EpochOrder", "FirstExamples", "batches", "counted", "epoch_seed", "is_data",
           "labels_of", "loader_batch_size", "num_examples", "seeded_order", "steps_per_epoch",
           "subset_of"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s example order (and workers) for run seed ``seed``."""
    return (seed * 1_000_003 + epoch) % (2**63 - 1)


def seeded_order(n: int, seed: int, epoch: int) -> Tensor:
    """The example order of one epoch: ``torch.randperm(n)`` from :func:`epoch_seed`.

    Example:
        >>> seeded_order(5, 0, 1).tolist() == seeded_order(5, 0, 1).tolist()
        True
    """
    return torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch)))


class EpochOrder(Sampler[int]):
    """A sampler giving :func:`seeded_order` of one epoch."""

    def __init__(self, n: int, seed: int, epoch: int) -> None:
        self.n, self.seed, self.epoch = n, seed, epoch

    def __iter__(self) -> Iterator[int]:
        return iter(seeded_order(self.n, self.seed, self.epoch).tolist())

    def __len__(self) -> int:
        return self.n


class FirstExamples:
    """The first ``count`` examples of data without a length (an iterable dataset), in whole
    batches: an epoch yields batches until they hold at least ``count`` examples."""

    def __init__(self, data: Any, count: int) -> None:
        self.data, self.count = data, count

    def __repr__(self) -> str:
        return f"FirstExamples({type(self.data).__name__}, {self.count})"


def counted(data: Any, *, batch_size: int, seed: int) -> Any:
    """``data`` with its number of examples known: ``data`` itself where it has a length,
    else (an iterable dataset without ``__len__``, bare or in a loader) the examples of one
    pass, its first epoch from ``seed`` as training reads it, as :class:`FirstExamples` of
    that count; the random states are left as they were. A stream that never ends never
    ends here either, as an epoch of its training would not."""
    from lrlab._rng import isolated_rng
    from lrlab.data._batch import batch_size_of

    if num_examples(data) is not None:
        return data
    with isolated_rng():
        count = sum(batch_size_of(batch) for batch in batches(
            data, batch_size=batch_size, seed=seed, epoch=1, shuffle=True,
            what="the training data"))
    if count == 0:
        raise LrlabError("the training data gave no examples in a pass over it (an iterable "
                         "dataset that yields nothing); check its __iter__")
    return FirstExamples(data, count)


def is_data(value: Any) -> bool:
    """Whether ``value`` is data lrlab reads through a loader (a Dataset or a DataLoader)."""
    return isinstance(value, (Dataset, DataLoader, FirstExamples))


def _dataset(data: Any) -> Any:
    return data.dataset if isinstance(data, DataLoader) else data


def num_examples(data: Any) -> int | None:
    """How many examples ``data`` holds, or ``None`` when it cannot say (an iterable
    dataset without ``__len__``)."""
    if isinstance(data, FirstExamples):
        return data.count
    try:
        return len(_dataset(data))
    except TypeError:
        return None


def subset_of(data: Any, indices: Sequence[int]) -> Any:
    """``data`` restricted to the examples at ``indices``: a ``Subset`` of a map-style
    dataset, or a ``DataLoader`` rebuilt over one with every setting kept.

    A sampler or batch sampler of the loader's own (weighted sampling, batches bucketed by
    length) indexes the whole dataset, so the subset cannot keep it: it is read in shuffled
    batches (lrlab seeds their order) of the loader's batch size, or, for a batch sampler,
    of its mean batch size."""
    if not isinstance(data, DataLoader):
        return Subset(data, list(indices))
    own = loader_batch_size(data)
    size = own if own is not None else data.batch_size
    sampler = getattr(data.batch_sampler, "sampler", data.sampler)
    shuffle = type(sampler) is not SequentialSampler
    if own is None and data.batch_sampler is not None:  # a batch sampler of its own
        try:
            count = len(data.batch_sampler)
        except TypeError:  # no length: one batch per 32 examples
            count = 0
        size = max(1, round(len(data.dataset) / count)) if count else 32
        shuffle = True
    options = {"batch_size": size,
               "num_workers": data.num_workers, "collate_fn": data.collate_fn,
               "pin_memory": data.pin_memory, "drop_last": _drop_last(data),
               "timeout": data.timeout, "worker_init_fn": data.worker_init_fn,
               "multiprocessing_context": data.multiprocessing_context,
               "shuffle": shuffle}
    if data.num_workers > 0:
        options["prefetch_factor"] = data.prefetch_factor
    return DataLoader(Subset(data.dataset, list(indices)), **options)


def _first(batches_: Iterable, count: int) -> Iterator[Any]:
    from lrlab.data._batch import batch_size_of

    seen = 0
    for batch in batches_:
        if seen >= count:
            return
        yield batch
        seen += batch_size_of(batch)


def loader_batch_size(data: Any) -> int | None:
    """A loader's own batch size (``None`` for a bare dataset, or a loader without automatic
    batching or with a batch sampler of its own). A loader built from a plain
    ``BatchSampler`` (as accelerate and the Hugging Face Trainer build theirs) has it there."""
    if not isinstance(data, DataLoader) or type(data.batch_sampler) is not BatchSampler:
        return None
    return data.batch_sampler.batch_size


def _drop_last(loader: DataLoader) -> bool:
    return bool(loader.batch_sampler.drop_last) if type(loader.batch_sampler) is BatchSampler \
        else loader.drop_last


def _own_order(loader: DataLoader) -> bool:
    """Whether a loader orders its examples itself (a sampler lrlab does not replace)."""
    if isinstance(loader.dataset, IterableDataset) or loader_batch_size(loader) is None:
        return True
    sampler = loader.batch_sampler.sampler
    if type(sampler) is SequentialSampler:
        return False
    return not (type(sampler) is RandomSampler and not sampler.replacement
                and sampler._num_samples is None)


def _sampler(loader: DataLoader, seed: int, epoch: int, shuffle: bool) -> Sampler | None:
    n = len(loader.dataset)
    if type(loader.batch_sampler.sampler) is RandomSampler and shuffle:
        return EpochOrder(n, seed, epoch)
    return None  # sequential


def _rebuilt(loader: DataLoader, batch_size: int | None, sampler: Sampler | None,
             generator: torch.Generator) -> DataLoader:
    """``loader`` with another sampler (``None``: sequential) and batch size, every other
    setting kept."""
    options = {"num_workers": loader.num_workers, "collate_fn": loader.collate_fn,
               "pin_memory": loader.pin_memory, "drop_last": _drop_last(loader),
               "timeout": loader.timeout, "worker_init_fn": loader.worker_init_fn,
               "multiprocessing_context": loader.multiprocessing_context,
               "generator": generator}
    if loader.num_workers > 0:
        options["prefetch_factor"] = loader.prefetch_factor
    if getattr(loader, "pin_memory_device", ""):
        options["pin_memory_device"] = loader.pin_memory_device
    if isinstance(loader.dataset, IterableDataset):
        sampler = None  # a stream orders itself (DataLoader refuses a sampler for it)
    return DataLoader(loader.dataset, batch_size=batch_size or loader_batch_size(loader),
                      sampler=sampler, **options)


def batches(data: Any, *, batch_size: int, seed: int, epoch: int, shuffle: bool,
            what: str = "the data") -> Iterable:
    """The batches of one epoch of ``data`` (see the module docstring); an error loading one
    (the user's dataset, collate function or workers) is an :class:`LrlabError` in one line
    naming ``what`` ("the validation data"), never "a bug in lrlab".

    Args:
        data: a map-style or iterable ``Dataset``, or a ``DataLoader``.
        batch_size: the batch size for a bare dataset, or a loader's new batch size.
        seed, epoch: the run's seed and the epoch (1-based): they fix the order.
        shuffle: draw a seeded order (training); ``False`` reads in order (evaluation).
        what: the data's name in an error.
    """
    return _Loaded(_batches(data, batch_size=batch_size, seed=seed, epoch=epoch,
                            shuffle=shuffle), what)


class _Loaded:
    """Batches whose loading errors are one line (see :func:`batches`)."""

    def __init__(self, data: Iterable, what: str) -> None:
        self._data, self._what = data, what

    def __len__(self) -> int:
        return len(self._data)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        try:
            batch_iter = iter(self._data)
        except LrlabError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's loader, in one line
            raise LrlabError(loading_failed(self._what, err)) from None
        while True:
            try:
                batch = next(batch_iter)
            except StopIteration:
                return
            except LrlabError:
                raise
            except Exception as err:  # noqa: BLE001 - the user's loader, in one line
                raise LrlabError(loading_failed(self._what, err)) from None
            yield batch


def loading_failed(what: str, err: Exception) -> str:
    """Why a batch of ``what`` failed to load, one line, with the fix where the error names
    one (examples of different sizes for the default collate function).

    Example:
        >>> loading_failed("the training data", RuntimeError("stack expects each tensor to "
        ...                "be equal size, but got [3] at entry 0 and [5] at entry 1"))[:46]
        'the training data failed to load a batch (Runt'
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # a worker's error is "Caught E in DataLoader worker process 0." + its traceback, whose
    # last line is the original error, already "E: text"
    error = (lines[-1] if len(lines) > 1 and lines[0].startswith("Caught ") else
             f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__)
    said = (f"{what} failed to load a batch ({error}); the error is in its Dataset, collate "
            "function or workers")
    if "stack expects each tensor to be equal size" in str(err):
        return (f"{said}: its examples differ in size (variable-length sequences), which the "
                "default collate function cannot stack: give the DataLoader a collate_fn that "
                "pads them (DataLoader(..., collate_fn=pad))")
    return f"{said}: iterate it once yourself to see where"


def _batches(data: Any, *, batch_size: int, seed: int, epoch: int, shuffle: bool) -> Iterable:
    if isinstance(data, FirstExamples):
        inner = _batches(data.data, batch_size=batch_size, seed=seed, epoch=epoch,
                         shuffle=shuffle)
        return _first(inner, data.count)
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    if isinstance(data, DataLoader):
        if _own_order(data):
            torch.manual_seed(epoch_seed(seed, epoch))  # a sampler drawing from it repeats
            own = loader_batch_size(data)
            if own is not None and batch_size != own:
                return _rebuilt(data, batch_size, data.batch_sampler.sampler, generator)
            return data
        return _rebuilt(data, batch_size, _sampler(data, seed, epoch, shuffle), generator)
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size=batch_size, generator=generator)
    n = num_examples(data)
    sampler = EpochOrder(n, seed, epoch) if shuffle else None
    return DataLoader(data, batch_size=batch_size, sampler=sampler, generator=generator)


def steps_per_epoch(data: Any, batch_size: int) -> int | None:
    """Batches in one epoch, or ``None`` when the data cannot say (no ``__len__``)."""
    if isinstance(data, FirstExamples):
        size = loader_batch_size(data.data) or batch_size
        return math.ceil(data.count / size)
    if isinstance(data, DataLoader):
        own = loader_batch_size(data)
        if own is not None and batch_size != own:
            n = num_examples(data)
            if n is None:
                return None
            return n // batch_size if _drop_last(data) else math.ceil(n / batch_size)
        try:
            return len(data)
        except TypeError:
            return None
    n = num_examples(data)
    return None if n is None else math.ceil(n / batch_size)


def labels_of(data: Any, label: Callable[[int], int] | Sequence[int] | Tensor | None = None
              ) -> np.ndarray | None:
    """Each example's class label, when it can be read without loading the examples.

    From ``label`` when given (a sequence, or a function of the index), else the dataset's
    ``targets`` or ``labels`` attribute (torchvision's convention), a ``TensorDataset``'s last
    tensor when it holds integers (or 0/1 floats, ``(n,)`` or ``(n, 1)``: a binary
    classifier's targets), or a ``Subset`` of any of those. ``None`` otherwise.
    """
    ds = _dataset(data)
    n = num_examples(ds)
    if n is None:
        return None
    if label is not None:
        values = [label(i) for i in range(n)] if callable(label) else label
        out = np.asarray(torch.as_tensor(values).cpu())
        if out.shape != (n,):
            raise LrlabError(f"labels give {out.shape[0] if out.ndim else 0} values for {n} "
                             "examples; give one class label per example")
        return out
    if isinstance(ds, Subset):
        inner = labels_of(ds.dataset)
        return None if inner is None else inner[np.asarray(ds.indices)]
    values = None
    if isinstance(ds, TensorDataset):
        values = ds.tensors[-1]
    else:
        values = getattr(ds, "targets", None)
        values = getattr(ds, "labels", None) if values is None else values
    if values is None:
        return None
    out = np.asarray(torch.as_tensor(values).cpu())
    out = out.reshape(n) if out.size == n else out  # (n, 1): a binary logit's 0/1 targets
    if np.issubdtype(out.dtype, np.floating) and out.shape == (n,) \
            and np.isin(out, (0.0, 1.0)).all():
        out = out.astype(np.int64)  # 0/1 floats, as BCEWithLogitsLoss takes them
    if out.shape != (n,) or not np.issubdtype(out.dtype, np.integer):
        return None
    return out
