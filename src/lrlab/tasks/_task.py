"""The ``Task``: data, a model factory, a loss and the defaults to train them with."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from lrlab._checks import materialised, whole
from lrlab._errors import LrlabError
from lrlab._rng import isolated_rng
from lrlab.data import (
    DEFAULT_TARGET_KEY,
    IGNORE_INDEX,
    FirstExamples,
    ModelLoss,
    is_data,
    labels_of,
    loader_batch_size,
    num_examples,
    subset_of,
)
from lrlab.metrics import cross_entropy

__all__ = ["BUILTIN_METRICS", "Split", "Task", "lower_is_better", "member_loss"]


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one part of a dataset (train, validation or test)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return self.x.shape[0]


def _check_split(task: str, part: str, split: Split, num_classes: int | None) -> None:
    for what, t in (("inputs", split.x), ("targets", split.y)):
        if not isinstance(t, Tensor):
            raise LrlabError(f"task {task!r}: {part} {what} are {type(t).__name__}, not a torch "
                             "tensor; convert them with torch.as_tensor(...)")
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
            raise LrlabError(f"task {task!r}: num_classes={num_classes} makes a classifier, "
                             "whose targets are integer class indices, but these are floats: "
                             "give them as y.long(), or leave num_classes out for a regression "
                             "or a multi-label model")
        labels = split.y[split.y != IGNORE_INDEX]  # padding, as nn.CrossEntropyLoss skips it
        if labels.numel():
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= num_classes:
                raise LrlabError(f"task {task!r}: {part} labels span {lo}..{hi} but the task "
                                 f"has {num_classes} classes; labels must be "
                                 f"0..{num_classes - 1} (or {IGNORE_INDEX}: not scored)")


#: What a task's training or validation data may be: in-memory tensors, or a ``Dataset`` /
#: ``DataLoader`` read through :mod:`lrlab.data`.
Data = Any


def _factory_name(model: Any) -> str:
    """A task's default name from its model factory: a class's name, a named function's
    (not a lambda's, nor a partial's), else ``"task"``."""
    name = getattr(model, "__name__", None)
    return name if isinstance(name, str) and name.isidentifier() else "task"


@dataclass(frozen=True)
class Task:
    """Everything needed to train one kind of network on one dataset.

    Attributes:
        name: a short name (``"blobs"``).
        train, val: the training and validation data: a :class:`Split` of tensors, a
            map-style or iterable ``Dataset``, or a ``DataLoader`` (its batch size, collate
            function, workers and ``pin_memory`` are kept; see :mod:`lrlab.data`). ``test``
            stays apart (optional, a :class:`Split`).
        model: builds a freshly initialised network (called under a seeded RNG).
        num_classes: the number of classes, or ``None`` for regression (with Dataset or
            DataLoader data, or tensors with integer targets, ``None`` means "read it from
            the first batch": class logits ``(B, ..., C)`` against integer targets make a
            classification task).
        loss: the per-sample loss over every member, ``loss(outputs (K, B, ...), targets)
            -> (K, B)`` (build one from a plain PyTorch loss with :func:`member_loss`, as
            :meth:`from_loaders` does); ``None`` for a model that computes its own loss
            (``model(**batch).loss``); or a :func:`~lrlab.data.model_loss`.
        batch_size, epochs: defaults for training (a DataLoader's own batch size is its).
        monitor: the validation metric that ranks members (higher is better, except
            ``loss``, ``error``, ``sse`` and names ending in ``loss``, ``error`` or ``mse``;
            ``mode`` says otherwise). ``None`` (the default): accuracy for classification,
            else loss: ``"accuracy"`` at once for tensors with ``num_classes``, otherwise
            read from the first batch when the task is trained (a regression, and a
            multi-label model scored label by label: loss).
        description: one line for listings.
        metrics: more validation metrics, ``name -> fn(outputs (B, ...), targets)``
            returning one value per sample or the batch's mean, recorded per member and
            usable as ``monitor``.
        target_key: the target's key in dict batches.
        labels: each training example's class, for stratified subsets of a Dataset whose
            labels cannot be read from ``.targets``/``.labels`` (a sequence, or a function
            of the index).
        mode: ``"max"`` or ``"min"``: whether a larger ``monitor`` is better (default: from
            its name).
    """

    name: str
    train: Data
    val: Data
    model: Callable[[], nn.Module]
    num_classes: int | None = None
    loss: Callable[[Tensor, Tensor], Tensor] | ModelLoss | None = cross_entropy
    batch_size: int = 32
    epochs: int = 10
    monitor: str | None = None
    description: str = ""
    test: Split | None = None
    metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] = field(default_factory=dict)
    target_key: str = DEFAULT_TARGET_KEY
    labels: Callable[[int], int] | Sequence[int] | Tensor | None = None
    mode: Literal["max", "min"] | None = None

    def __post_init__(self) -> None:
        if self.monitor is None and self.num_classes is not None and self.in_memory:
            object.__setattr__(self, "monitor", "accuracy")  # a classifier: no batch to read
        parts = [("train", self.train), ("validation", self.val)]
        for part, split in parts + ([("test", self.test)] if self.test is not None else []):
            if isinstance(split, Split):
                _check_split(self.name, part, split, self.num_classes)
            elif not is_data(split):
                raise LrlabError(
                    f"task {self.name!r}: the {part} data is a {type(split).__name__}; give a "
                    "lrlab.Split(x, y) of tensors, a torch Dataset or a DataLoader")
            elif num_examples(split) == 0:
                raise LrlabError(f"task {self.name!r}: the {part} data is empty")
        _check_whole(self.name, "batch size", self.batch_size)
        _check_whole(self.name, "epochs", self.epochs)
        if isinstance(self.model, nn.Module):
            raise LrlabError(f"task {self.name!r}: model is a built {type(self.model).__name__}; "
                             "give the function that builds one (its class, or a lambda), so "
                             "each run draws fresh weights from its seed")
        if isinstance(self.loss, type):
            raise LrlabError(_loss_class(self.loss, f"task {self.name!r}: "))
        if self.loss is not None and not callable(self.loss):
            raise LrlabError(f"task {self.name!r}: loss must be callable (or None for a model "
                             f"that computes its own), not {type(self.loss).__name__}")
        if not isinstance(self.metrics, Mapping) or not all(
                isinstance(k, str) and callable(f) for k, f in self.metrics.items()):
            raise LrlabError(f"task {self.name!r}: metrics must map names to functions "
                             "fn(outputs, targets)")
        clash = set(self.metrics) & set(BUILTIN_METRICS)
        if clash:
            raise LrlabError(f"task {self.name!r}: metric {min(clash)!r} is lrlab's own; "
                             "name yours differently")
        if self.mode not in (None, "max", "min"):
            raise LrlabError(f"task {self.name!r}: mode must be 'max' or 'min', got "
                             f"{self.mode!r}")

    @classmethod
    def from_loaders(cls, model: Callable[[], nn.Module], train: Data, val: Data, *,
                     loss: Callable[[Tensor, Tensor], Tensor] | ModelLoss | None,
                     name: str | None = None, epochs: int = 10, batch_size: int | None = None,
                     num_classes: int | None = None, monitor: str | None = None,
                     metrics: Mapping[str, Callable] | None = None,
                     target_key: str = DEFAULT_TARGET_KEY, **more: Any) -> Task:
        """A task from a model factory and your own data, as PyTorch code has them.

        Args:
            model: a function building a freshly initialised model (lrlab calls it under a
                seeded RNG, so every member starts from the same weights).
            train, val: ``DataLoader`` s or ``Dataset`` s (batches: tensors, ``(x, ..., y)``
                tuples or dicts; see :mod:`lrlab.data`).
            loss: a PyTorch loss of one model's ``(outputs, targets)`` (``nn.CrossEntropyLoss()``,
                ``F.mse_loss``, ...: a mean or one value per sample), ``None`` for a model
                that returns its own loss (``.loss``), or :func:`~lrlab.data.model_loss`.
            name: as the field; default the model's class name (``model=Net``: ``"Net"``) or
                its function's (``def build_net()``: ``"build_net"``), so ``lrlab ls`` and the
                progress lines tell tasks apart; ``"task"`` for a lambda.
            epochs, num_classes, monitor, metrics, target_key: as the fields.
            batch_size: for ``Dataset`` data (default: the train loader's, else 32).
            **more: other fields (``description``, ``labels``, ``mode``).

        Example:
            >>> from torch.utils.data import DataLoader, TensorDataset
            >>> data = TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))
            >>> task = Task.from_loaders(lambda: nn.Linear(4, 3), DataLoader(data, 16),
            ...                          DataLoader(data, 32), loss=nn.CrossEntropyLoss())
            >>> task.batch_size, task.name
            (16, 'task')
            >>> Task.from_loaders(nn.Linear, DataLoader(data, 16), DataLoader(data, 32),
            ...                   loss=nn.CrossEntropyLoss()).name
            'Linear'
        """
        if loss is not None and not isinstance(loss, ModelLoss):
            loss = member_loss(loss)
        size = batch_size or loader_batch_size(train) or 32
        name = _factory_name(model) if name is None else name
        return cls(name=name, train=train, val=val, model=model, num_classes=num_classes,
                   loss=loss, batch_size=size, epochs=epochs, monitor=monitor,
                   metrics=dict(metrics or {}), target_key=target_key, **more)

    @property
    def in_memory(self) -> bool:
        """Whether the training and validation data are tensors (:class:`Split`)."""
        return isinstance(self.train, Split) and isinstance(self.val, Split)

    @property
    def train_size(self) -> int | None:
        """Training examples (``None``: an iterable dataset that cannot say)."""
        return len(self.train) if isinstance(self.train, Split) else num_examples(self.train)

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of :attr:`monitor` is better."""
        if self.mode is not None:
            return self.mode == "max"
        return not lower_is_better(self.monitor or "loss")

    def init_model(self, seed: int = 0) -> nn.Module:
        """A freshly initialised model, its weights drawn from ``seed`` (the caller's random
        state is left as it was): how every lrlab run starts from "the same weights"."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                model = self.model()
            except Exception as err:  # noqa: BLE001 - a user's builder, reported in one line
                raise LrlabError(f"task {self.name!r}: building the model failed "
                                 f"({type(err).__name__}: {_first_line(err)})") from None
        if not isinstance(model, nn.Module):
            raise LrlabError(f"task {self.name!r}: the model function returned "
                             f"{type(model).__name__}, not a torch.nn.Module")
        materialised(model, f"task {self.name!r}: the model")
        return model

    def replace(self, **changes) -> Task:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def subset(self, size: float, *, seed: int = 0) -> Task:
        """The same task trained on part of its training data, stratified by class.

        Tensors are indexed; a ``Dataset`` becomes a ``torch.utils.data.Subset`` (a
        ``DataLoader`` is rebuilt over one, its settings kept), stratified when the labels
        can be read (:func:`~lrlab.data.labels_of`; ``labels=`` otherwise), drawn plainly at
        random if not. An iterable dataset without a length keeps its first examples (whole
        batches).

        Args:
            size: a number of examples (``int`` >= 1) or a fraction in (0, 1].
            seed: which examples are drawn.

        Returns:
            A task whose validation (and test) data are unchanged.
        """
        n = self.train_size
        if n is None or isinstance(self.train, FirstExamples):  # a stream: its first ones
            if n is None and isinstance(size, float) and size <= 1:
                raise LrlabError(f"task {self.name!r}: its training data has no length, so a "
                                 "fraction cannot be taken; give a number of examples")
            count = _subset_count(size, 1 << 62 if n is None else n)
            if count == n:
                return self
            stream = self.train.data if isinstance(self.train, FirstExamples) else self.train
            return self.replace(name=f"{self.name}[{count}]",
                                train=FirstExamples(stream, count))
        count = _subset_count(size, n)
        if count == n:
            return self
        if isinstance(self.train, Split):
            idx = _stratified_indices(self.train.y, count, self.num_classes, seed)
            return self.replace(name=f"{self.name}[{count}]",
                                train=Split(self.train.x[idx], self.train.y[idx]))
        labels = labels_of(self.train, self.labels)
        if labels is None and self.num_classes is not None \
                and not _labels_per_position(self.train, self.target_key):
            warnings.warn(f"lrlab: task {self.name!r}: the training labels cannot be read "
                          "without loading every example, so the subset is drawn plainly at "
                          "random (to stratify it, give Task.from_loaders(..., labels=) each "
                          "training example's class, or the dataset a .targets attribute)",
                          UserWarning,
                          stacklevel=2)
        idx = _stratified_indices(torch.from_numpy(labels) if labels is not None
                                  else torch.zeros(n, dtype=torch.long),
                                  count, None if labels is None else int(labels.max()) + 1, seed)
        return self.replace(name=f"{self.name}[{count}]",
                            train=subset_of(self.train, idx.tolist()),
                            labels=None if labels is None else labels[idx.numpy()])


def _labels_per_position(data: Any, key: str) -> bool:
    """Whether ``data``'s labels have an axis per example, integers (a label per token or
    pixel) or 0/1 floats (a multi-label model's): no class per example to stratify by. Read from a ``TensorDataset``'s last tensor
    (a ``Split`` becomes one for the data path's scoring), else from the first example alone
    (its ``key`` entry, or its last element), every random state left as it was (an
    augmenting ``__getitem__`` may draw)."""
    ds = getattr(data, "dataset", data)
    if isinstance(ds, torch.utils.data.TensorDataset):
        y = ds.tensors[-1][:1]
    else:
        try:
            with isolated_rng():
                first = ds[0]
        except Exception:  # noqa: BLE001 - a dataset that cannot say: the warning stands
            return False
        y = (first.get(key) if isinstance(first, Mapping)
             else first[-1] if isinstance(first, (tuple, list)) and first else None)
        y = y.unsqueeze(0) if isinstance(y, Tensor) else None
    return (y is not None and y.dim() > 1 and y[0].numel() > 1 and y.dtype != torch.bool
            and (not y.is_floating_point() or bool(((y == 0) | (y == 1)).all())))


#: Metrics lrlab records itself; a task's own metrics take other names.
BUILTIN_METRICS = ("loss", "accuracy", "error", "sse", "auc", "grad_norm", "grad_norm_max",
                   "lr", "time")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better: losses, errors, sse, mse, mae."""
    name = metric.lower()
    return name in ("loss", "error", "sse", "mse", "mae", "rmse") or name.endswith(
        ("loss", "error", "_mse", "_mae"))


def member_loss(loss: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """A PyTorch loss of one model's ``(outputs, targets)`` as lrlab's per-sample loss over
    every member: ``(outputs (K, B, ...), targets (B, ...)) -> (K, B)``.

    The loss runs once per member under ``torch.func.vmap``; a loss giving the batch's mean
    (``nn.CrossEntropyLoss()``) counts as that mean for each sample. A loss already wrapped
    is returned as it is (:meth:`Task.from_loaders` wraps the loss it is given, so a user's
    ``member_loss(fn)`` there is ``fn``'s, not run per member twice).

    Example:
        >>> per = member_loss(nn.MSELoss())
        >>> per(torch.zeros(2, 3, 1), torch.ones(3, 1)).shape
        torch.Size([2, 3])
    """
    if isinstance(loss, _MemberLoss):
        return loss
    if isinstance(loss, type):
        raise LrlabError(_loss_class(loss))
    if not callable(loss):
        raise LrlabError(f"loss must be callable, not {type(loss).__name__}")
    return _MemberLoss(loss)


def _loss_class(loss: type, prefix: str = "") -> str:
    return (f"{prefix}loss is the class {loss.__name__}, not a loss; give an instance: "
            f"loss={loss.__name__}()")


@dataclass(frozen=True)
class _MemberLoss:
    fn: Callable[[Tensor, Tensor], Tensor]

    def __call__(self, outputs: Tensor, targets: Tensor) -> Tensor:
        # targets carry the member axis where each member has its own batch: their first two
        # axes are the outputs' (K, B), labels (K, B) beside logits (K, B, C) included;
        # targets shared by every member, (B, ...), are one batch's
        mapped = targets.dim() >= 2 and targets.shape[:2] == outputs.shape[:2]
        per = torch.func.vmap(self.fn, in_dims=(0, 0 if mapped else None))(outputs, targets)
        size = outputs.shape[1]
        if per.dim() == 1:  # a mean per member
            return per.unsqueeze(1).expand(-1, size)
        if per.shape[:2] != (outputs.shape[0], size):
            raise LrlabError(f"the loss gave shape {tuple(per.shape[1:])} for a batch of "
                             f"{size}; it must give one number (the mean) or one per sample")
        return per.flatten(2).mean(-1) if per.dim() > 2 else per


def _check_whole(task: str, what: str, value: Any) -> None:
    whole(f"task {task!r}: {what}", value, low=1)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no message"


def _subset_count(size: float, n: int) -> int:
    """Examples to keep: an ``int`` is a count, a ``float`` in (0, 1] a fraction of ``n``."""
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not np.isfinite(size):
        raise LrlabError(f"subset must be a count or a fraction, got {size!r}")
    if isinstance(size, float) and not (size > 1 and size.is_integer()):
        if not 0 < size <= 1:
            raise LrlabError(f"subset must be a fraction in (0, 1] or a whole number of "
                             f"examples, got {size}")
        return max(1, round(size * n))
    if size < 1:
        raise LrlabError(f"subset must be at least 1 example, got {size}")
    return min(int(size), n)


def _stratified_indices(y: Tensor, count: int, num_classes: int | None, seed: int) -> Tensor:
    """``count`` indices whose class proportions match ``y``'s, in their original order.

    Each class gets ``count * n_c / n`` examples rounded by largest remainder, drawn without
    replacement from a generator seeded by ``seed``. Regression targets, and labels per
    position (a sequence's tokens, an image's pixels: no one class per example), are
    sampled plainly.
    """
    one = y.reshape(len(y), -1).shape[1] == 1  # one label per example: (N,) or (N, 1)
    labels = (y.reshape(len(y)).cpu().numpy() if num_classes is not None and one
              else np.zeros(len(y), dtype=np.int64))
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
