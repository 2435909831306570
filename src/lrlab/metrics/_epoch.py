"""Per-epoch metrics of K members, accumulated on the device one training step at a time.

:class:`EpochMetrics` keeps float64 running sums of shape ``(K,)`` (and, for the AUC, int64
histograms) on the device of the logits. :meth:`EpochMetrics.update` is a few vectorised
operations with no host synchronisation; nothing is read back until
:meth:`EpochMetrics.compute`. A member whose outputs are NaN or infinite gets NaN values of its
own and leaves every other member's values untouched. It also counts the targets' classes
(:meth:`EpochMetrics.labels`): what always answering the most common class scores.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.metrics._auc import AucCounts
from lrlab.metrics._classification import _class_layout, _index_targets, _no_class, _top_hits
from lrlab.metrics._noise import LabelCounts

__all__ = ["EpochMetrics"]

_F64 = torch.float64


class EpochMetrics:
    r"""Running loss, accuracy, SSE and Keras ROC AUC of K members over one epoch.

    With :math:`n` samples seen by each member since the last reset,

    * ``loss`` :math:`= \frac{1}{n}\sum_j \ell_{k,j}` (the caller's per-sample losses),
    * ``accuracy`` :math:`= \frac{1}{m}\sum_j [\arg\max_c z_{k,j,c} = y_j]` over the :math:`m`
      label positions whose target is a class (a target that is none, such as
      ``nn.CrossEntropyLoss``'s ``ignore_index`` -100 padding a sequence, is not scored),
      ``error`` = 1 - it,
    * ``sse`` :math:`= \sum_j \sum_c (\mathrm{softmax}(z_{k,j})_c - [c = y_j])^2` (a sum, not a
      mean: Wilson & Martinez' score),
    * ``auc``: ``keras.metrics.AUC(num_thresholds=200)`` on the softmax outputs and one-hot
      targets, streamed over every batch (see :class:`~lrlab.metrics.AucCounts`),

    the last two, like accuracy, over the label positions whose target is a class.

    For a regression task (``num_classes=None``) the logits are predictions ``(K, B, ...)``
    and only ``loss`` and ``sse`` :math:`= \sum_j \lVert \hat y_{k,j} - y_j \rVert^2` are kept.

    Args:
        members: K, the size of the leading member axis.
        num_classes: C for classification, ``None`` for regression.
        auc: whether to keep the ROC AUC (classification only).
        device: where the sums live; by default the device of the first update.
        predictions: ``False`` keeps the loss alone (a model that reports only its loss,
            or outputs that are neither class scores nor predictions of the targets).
    """

    def __init__(
        self,
        members: int,
        *,
        num_classes: int | None,
        auc: bool = True,
        device: torch.device | str | None = None,
        predictions: bool = True,
    ) -> None:
        if members < 1:
            raise LrlabError(f"members must be at least 1, got {members}")
        if num_classes is not None and num_classes < 1:
            raise LrlabError(f"num_classes must be a positive integer or None, got {num_classes}")
        self.members = int(members)
        self.num_classes = num_classes if predictions else None
        self.predictions = predictions
        self._device = None if device is None else torch.device(device)
        self._auc = (AucCounts(members)  # its device: set by reset()
                     if auc and self.num_classes is not None else None)
        self._sums: dict[str, Tensor] = {}
        self._samples = 0  # samples per member, known from shapes alone (no sync)
        # targets per class (member 0's), int64 (C,): their sum is the label positions
        # scored for accuracy (a target that is no class, an ignore index, is in none)
        self._counts: Tensor | None = None
        if self._device is not None:
            self.reset()

    @property
    def classification(self) -> bool:
        """Whether this is a classification task (``num_classes`` is not ``None``)."""
        return self.num_classes is not None

    def reset(self) -> None:
        """Zero every running sum (keeps the device)."""
        names = (("loss", "correct", "sse") if self.classification
                 else ("loss", "sse") if self.predictions else ("loss",))
        sums = torch.zeros(len(names), self.members, dtype=_F64, device=self._device)
        self._sums = dict(zip(names, sums))  # rows of one tensor, summed into in place
        self._samples = 0
        self._counts = (torch.zeros(self.num_classes, dtype=torch.int64, device=self._device)
                        if self.classification else None)
        if self._auc is not None:
            self._auc.reset(self._device)

    @torch.no_grad()
    def update(self, logits: Tensor | None, targets: Tensor | None, losses: Tensor) -> None:
        """Add one batch.

        Args:
            logits: ``(K, B, C)`` scores (classification) or ``(K, B, ...)`` predictions.
            targets: int class indices ``(B,)`` or ``(K, B)``, or class probabilities shaped
                as the logits, with or without the member axis (mixup's: scored at each one's
                likeliest class); for regression float targets
                ``(B, ...)`` or ``(K, B, ...)`` (``(B,)`` also matches predictions
                ``(K, B, 1)``).
            losses: ``(K, B)`` per-sample training losses already computed by the caller.
        """
        k = self.members
        if not self.predictions:
            self._update_loss(losses)
            return
        if logits.dim() < 2 or logits.shape[0] != k:
            raise LrlabError(
                f"logits must be (K={k}, B, ...) with the member axis first, "
                f"got shape {tuple(logits.shape)}"
            )
        batch = logits.shape[1]
        if tuple(losses.shape) != (k, batch):
            raise LrlabError(
                f"losses must be per-sample, shape (K, B) = ({k}, {batch}); got "
                f"{tuple(losses.shape)} (use reduction='none')"
            )
        if self.classification and (logits.dim() < 3 or logits.shape[-1] != self.num_classes):
            raise LrlabError(
                f"logits must be (K, B, C) with C={self.num_classes} classes, "
                f"got shape {tuple(logits.shape)}"
            )
        if self._device is None:
            self._device = logits.device
            self.reset()
        dev = self._device
        logits, losses = logits.detach().to(dev), losses.detach().to(dev)
        targets = targets.detach().to(dev)
        if self.classification and _probabilities(logits, targets):
            targets = targets.argmax(-1)  # mixup's, or soft labels: scored at the likeliest class
        # check every shape before touching a running sum
        if self.classification:
            idx = _index_targets(logits, targets)
        else:
            targets = _regression_targets(logits, targets)
        self._sums["loss"] += losses.to(_F64).sum(dim=1)
        if self.classification:
            # targets shared by every member: their one-hot mask once, broadcast
            shared = targets.shape == logits.shape[1:-1]
            self._update_classification(logits, idx, targets.long() if shared else idx)
        else:
            err = logits.to(_F64) - targets.to(_F64)
            self._sums["sse"] += err.square_().flatten(1).sum(dim=1)
        self._samples += batch

    def _update_loss(self, losses: Tensor) -> None:
        if losses.dim() != 2 or losses.shape[0] != self.members:
            raise LrlabError(f"losses must be per-sample, shape (K={self.members}, B); got "
                             f"{tuple(losses.shape)}")
        if self._device is None:
            self._device = losses.device
            self.reset()
        self._sums["loss"] += losses.detach().to(self._device, _F64).sum(dim=1)
        self._samples += losses.shape[1]

    def _update_classification(self, logits: Tensor, idx: Tensor, targets: Tensor) -> None:
        """Add class scores ``(K, B, ..., C)`` with targets ``idx`` ``(K, B, ...)``, which
        broadcast from ``targets`` (``idx`` itself, or without the member axis)."""
        # one layout for every score: on the CPU, narrow class axes along a transposed
        # copy (as softmax() computes them; free when the logits are a transposed view,
        # as the population's are); the class axis is `dim`
        z, dim = _class_layout(logits)
        probs = torch.softmax(z, dim)
        hits = _top_hits(z, dim, targets)
        self._sums["correct"] += hits.flatten(1).sum(dim=1, dtype=_F64)
        onehot = targets.unsqueeze(dim) == _classes(logits.shape[-1], dim, logits.device)
        other = _no_class(targets, logits.shape[-1])  # positions scored nowhere (-100)
        per_sample = torch.add(probs, onehot, alpha=-1).square_().sum(dim)  # as sse()
        # NaN where softmax gave NaN: then the sum is NaN (never inf: each term is <= 2)
        if other is not None:
            per_sample.masked_fill_(other, 0.0)
        self._sums["sse"] += per_sample.flatten(1).sum(dim=1, dtype=_F64)
        first = onehot if targets.dim() < idx.dim() else onehot[0]  # member 0's targets
        axis = first.dim() + dim  # its class axis
        self._counts += first.sum([d for d in range(first.dim()) if d != axis])
        if self._auc is not None:
            self._auc.add(probs, onehot, None if other is None else other.unsqueeze(dim))

    def labels(self) -> LabelCounts:
        """The targets scored since the last reset: examples, label positions scored (those
        whose target is a class) and the count of each class (member 0's targets where
        members have their own; over a whole epoch each member's order holds the same ones).
        Reads the counts back from the device: call it once, not every step.

        Example:
            >>> m = EpochMetrics(2, num_classes=3, auc=False)
            >>> y = torch.tensor([2, 0, 2, 2])
            >>> m.update(torch.zeros(2, 4, 3), y, torch.zeros(2, 4))
            >>> m.labels()
            LabelCounts(examples=4, positions=4, counts=(1, 0, 3))
        """
        counts = () if self._counts is None else tuple(self._counts.tolist())
        return LabelCounts(self._samples, sum(counts), counts)

    def compute(self, auc: Tensor | None = None) -> dict[str, Tensor]:
        """The epoch's values so far, each ``(K,)`` float64 on the accumulation device.

        Args:
            auc: the AUC from these counts, when already computed
                (:func:`~lrlab.metrics.score_splits` does so for several at once).

        Returns:
            ``loss`` and ``sse``, plus ``accuracy``, ``error`` and (if enabled) ``auc`` for
            classification. All are NaN before the first update; a member whose softmax
            produced NaN has NaN accuracy, error, sse and auc.
        """
        if self._samples == 0:
            k = self.members
            names = ["loss", "sse"] if self.predictions else ["loss"]
            if self.classification:
                names[1:1] = ["accuracy", "error"]
                names += ["auc"] if self._auc is not None else []
            return {n: torch.full((k,), math.nan, dtype=_F64, device=self._device) for n in names}
        out = {"loss": self._sums["loss"] / self._samples}
        if not self.predictions:
            return out
        if self.classification:
            acc = self._sums["correct"] / self._counts.sum()  # positions whose target is a class
            acc = torch.where(self._sums["sse"].isnan(), math.nan, acc)  # softmax gave NaN
            out["accuracy"] = acc
            out["error"] = 1.0 - acc
        out["sse"] = self._sums["sse"].clone()
        if self._auc is not None:
            out["auc"] = self._auc.result() if auc is None else auc
        return out


def _probabilities(logits: Tensor, targets: Tensor) -> bool:
    """Whether float ``targets`` are class probabilities for ``logits`` ``(K, B, ..., C)``:
    the logits' shape, with or without the member axis."""
    return targets.is_floating_point() and tuple(targets.shape) in (tuple(logits.shape),
                                                                     tuple(logits.shape[1:]))


def _classes(num_classes: int, dim: int, device: torch.device) -> Tensor:
    """``0 .. C-1`` along axis ``dim`` (-1 or -2) of a broadcastable tensor."""
    classes = torch.arange(num_classes, device=device)
    return classes if dim == -1 else classes.unsqueeze(-1)


def _regression_targets(preds: Tensor, targets: Tensor) -> Tensor:
    """Targets reshaped to broadcast against predictions ``(K, B, ...)``.

    Accepts ``(B, ...)`` (shared) or ``(K, B, ...)``, each also without trailing size-1 axes,
    so that targets ``(B,)`` match predictions ``(K, B, 1)`` instead of broadcasting to
    ``(K, B, B)``.
    """
    shape = tuple(preds.shape)
    if tuple(targets.shape) in (shape[1:], _strip_ones(shape[1:])):
        return targets.reshape(1, *shape[1:])
    if tuple(targets.shape) in (shape, _strip_ones(shape)):
        return targets.reshape(shape)
    raise LrlabError(
        f"regression targets of shape {tuple(targets.shape)} do not match predictions "
        f"of shape {shape}; use (B, ...) or (K, B, ...)"
    )


def _strip_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` without trailing size-1 axes, keeping at least its first axis."""
    end = len(shape)
    while end > 1 and shape[end - 1] == 1:
        end -= 1
    return shape[:end]
