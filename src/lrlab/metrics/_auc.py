r"""Streaming ROC AUC computed exactly the way Keras 3 computes it, for K members at once.

``keras.metrics.AUC(num_thresholds=200)`` (``curve='ROC'``, ``summation_method=
'interpolation'``, ``multi_label=False``) flattens every (sample, class) pair into one binary
problem: the label is the one-hot target, the score the predicted probability. With
thresholds

.. math:: t = [-\epsilon,\ \tfrac{1}{T-1},\ \ldots,\ \tfrac{T-2}{T-1},\ 1 + \epsilon],
   \qquad \epsilon = 10^{-7},

a score ``p`` is positive at ``t_i`` when ``p > t_i``. Keras clips scores to ``[0, 1]`` and,
because these thresholds are evenly spaced, assigns each score the bucket
``max(ceil(p (T - 1)) - 1, 0)``; it is positive at every threshold up to its bucket. The
counts ``tp, fp, tn, fn`` (per threshold) are summed over all batches until reset, and

.. math:: \mathrm{AUC} = \sum_{i=0}^{T-2} (\mathrm{fpr}_i - \mathrm{fpr}_{i+1})
   \frac{\mathrm{tpr}_i + \mathrm{tpr}_{i+1}}{2},\quad
   \mathrm{tpr} = \frac{tp}{tp + fn},\ \mathrm{fpr} = \frac{fp}{fp + tn}

(a rate is 0 where its denominator is 0).

Here the counts are per-member histograms of the buckets, negatives and positives apart,
kept as int64 on the device: one ``index_add_`` per update for all members and both labels,
and a reversed cumulative sum at :meth:`AucCounts.result`. A NaN score goes to an extra
bucket of its own member, so it never touches another member's counts; a member with any
NaN score reports NaN. A score left out (a position whose target is no class, such as
-100 padding a sequence) goes to a second extra bucket that no result reads.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.metrics._classification import _no_class

__all__ = ["AucCounts", "auc_of_counts", "keras_thresholds", "roc_auc_keras"]

_EPSILON = 1e-7  # keras.backend.epsilon()


def keras_thresholds(num_thresholds: int = 200) -> Tensor:
    """The thresholds of ``keras.metrics.AUC(num_thresholds)``, in float64.

    Args:
        num_thresholds: T, at least 2.

    Returns:
        ``(T,)`` tensor ``[-1e-7, 1/(T-1), ..., (T-2)/(T-1), 1 + 1e-7]``.
    """
    _check_num_thresholds(num_thresholds)
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return torch.tensor([0.0 - _EPSILON, *inner, 1.0 + _EPSILON], dtype=torch.float64)


def _check_num_thresholds(num_thresholds: int) -> None:
    if int(num_thresholds) != num_thresholds or num_thresholds < 2:
        raise LrlabError(f"num_thresholds must be an integer >= 2, got {num_thresholds!r}")


def _class_indices(probs: Tensor, targets: Tensor) -> Tensor | None:
    """Targets as int64 class indices over ``probs``' last axis, or ``None`` for labels.

    Float or bool targets, and int targets of exactly ``probs``' shape, are labels.
    """
    if targets.is_floating_point() or targets.dtype == torch.bool:
        return None
    if targets.shape == probs.shape:
        return None
    try:
        return targets.to(device=probs.device, dtype=torch.int64).expand(probs.shape[:-1])
    except RuntimeError:
        raise _mismatch(probs, targets) from None


def _labels(probs: Tensor, targets: Tensor) -> Tensor:
    """Boolean labels of ``probs``' shape (Keras casts labels to bool: nonzero is positive)."""
    targets = targets.to(probs.device)
    labels = targets if targets.dtype == torch.bool else targets != 0
    try:
        return labels.expand(probs.shape)
    except RuntimeError:
        raise _mismatch(probs, targets) from None


def _mismatch(probs: Tensor, targets: Tensor) -> LrlabError:
    return LrlabError(
        f"targets of shape {tuple(targets.shape)} do not match probabilities of shape "
        f"{tuple(probs.shape)}; give class indices (N,) or (K, N), or labels shaped like "
        "the probabilities"
    )


def _buckets(probs: Tensor, num_thresholds: int) -> Tensor:
    """Keras' bucket of each score as int32: ``max(ceil(clip(p, 0, 1) (T-1)) - 1, 0)``.

    The arithmetic is float32 as in Keras (float64 inputs stay float64). NaN scores (which
    clamp, ceil and max propagate) get the extra bucket ``T`` before the integer cast.
    """
    work = probs.to(torch.float64 if probs.dtype == torch.float64 else torch.float32)
    bucket = work.clamp(0.0, 1.0).mul_(num_thresholds - 1).ceil_().sub_(1).clamp_(min=0)
    return bucket.nan_to_num_(nan=float(num_thresholds)).to(torch.int32)


# The histogram's layout, written here once (AucCounts and score_splits both fill one): member
# (or split-and-member) m's block of ``2 (T + 2)`` counts, negatives then positives, each row
# the T buckets, then bucket T (NaN scores), then bucket T + 1 (scores left out, read by
# nothing).


def _histogram(blocks: int, num_thresholds: int, device) -> Tensor:
    """Zero counts ``(blocks, 2, T + 2)`` int64 (see the layout above)."""
    return torch.zeros((blocks, 2, num_thresholds + 2), dtype=torch.int64, device=device)


def _block_starts(blocks: int, num_thresholds: int, device, first: int = 0) -> Tensor:
    """Where blocks ``first .. first + blocks - 1`` start in the flat histogram, int32."""
    return torch.arange(first, first + blocks, dtype=torch.int32, device=device).mul_(
        2 * (num_thresholds + 2))


def _slots(probs: Tensor, positive: Tensor, skip: Tensor | None, num_thresholds: int,
           starts: Tensor) -> Tensor:
    """The flat histogram slot of each score: its block's start (``starts``, broadcasting
    against ``probs``), its label's row, its bucket (:func:`_buckets`; ``skip``: T + 1), int32
    shaped as ``probs`` (two in-place adds: 21 us on 32 x 1,500 scores, torch.where with its
    broadcast int operands 169)."""
    slot = _buckets(probs, num_thresholds)
    if skip is not None:
        slot.masked_fill_(skip, num_thresholds + 1)
    slot.add_(positive, alpha=num_thresholds + 2)
    return slot.add_(starts)


class AucCounts:
    """Streaming Keras ROC AUC for ``members`` models scored on the same kind of data.

    Args:
        members: K, the size of the leading member axis of every update.
        num_thresholds: T, as in ``keras.metrics.AUC``; default 200.
        device: where the counts live; by default the device of the first update.
    """

    def __init__(self, members: int, *, num_thresholds: int = 200, device=None) -> None:
        _check_num_thresholds(num_thresholds)
        if members < 1:
            raise LrlabError(f"members must be at least 1, got {members}")
        self.members = int(members)
        self.num_thresholds = int(num_thresholds)
        self._device = None if device is None else torch.device(device)
        # (K, 2, T + 2) bucket counts (_histogram's layout)
        self._hist: Tensor | None = None
        self._base = torch.zeros(0, dtype=torch.int32)
        if self._device is not None:
            self.reset()

    def reset(self, device: torch.device | str | None = None) -> None:
        """Zero all counts, on ``device`` (default: keep the device)."""
        if device is not None:
            self._device = torch.device(device)
        self._hist = _histogram(self.members, self.num_thresholds, self._device)
        # (K, 1): where member k's block starts
        self._base = _block_starts(self.members, self.num_thresholds, self._device).unsqueeze(1)

    def update(self, probs: Tensor, targets: Tensor) -> None:
        """Add one batch to the counts. Runs on the device without host synchronisation.

        Args:
            probs: ``(K, N, C)`` probabilities (any ``(K, ...)`` shape with label targets).
            targets: int class indices ``(N,)`` or ``(K, N)``, or one-hot / binary labels
                broadcastable to ``probs`` (float, bool, or int of exactly ``probs``' shape).
                A class index outside ``0 .. C-1`` (-100 padding a sequence) leaves its
                sample out.
        """
        if probs.dim() < 1 or probs.shape[0] != self.members:
            raise LrlabError(
                f"probabilities must have the member axis first with K={self.members}, "
                f"got shape {tuple(probs.shape)}"
            )
        if self._hist is None:
            self._device = probs.device
            self.reset()
        assert self._hist is not None
        probs = probs.detach().to(self._hist.device)
        targets = targets.detach()
        indices = _class_indices(probs, targets)
        skip = None
        if indices is not None:  # one positive per sample: the score of its own class
            classes = torch.arange(probs.shape[-1], device=probs.device)
            positive = indices.unsqueeze(-1) == classes
            skip = _no_class(indices, probs.shape[-1])
            skip = None if skip is None else skip.unsqueeze(-1)
        else:
            positive = _labels(probs, targets)
        self.add(probs, positive, skip)

    def add(self, probs: Tensor, positive: Tensor, skip: Tensor | None = None) -> None:
        """Add scores ``(K, ...)`` and their boolean labels, which broadcast against them
        (labels shared by every member may lack the member axis), in any memory layout;
        ``skip``, broadcasting the same way, marks scores to leave out. No checks
        (:meth:`update` checks).
        """
        if self._hist is None:
            self._device = probs.device
            self.reset()
        assert self._hist is not None
        slot = _slots(probs, positive, skip, self.num_thresholds,
                      self._base.view(-1, *[1] * (probs.dim() - 1)))
        slot = slot.reshape(-1)  # a view when probs is dense in memory order
        self._hist.view(-1).index_add_(0, slot, _ones(slot))

    def confusion(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The accumulated ``(tp, fp, tn, fn)``, each ``(K, T)`` int64, as Keras' variables.

        NaN scores are left out of these counts.
        """
        tp, fp, positives, negatives = self._above(torch.int64)
        return tp, fp, negatives - fp, positives - tp

    def _above(self, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Positives and negatives scored above each threshold, ``(K, T)``, and their
        totals, ``(K, 1)``, as ``dtype`` (NaN scores left out)."""
        if self._hist is None:
            self.reset()
        assert self._hist is not None
        hist = self._hist[:, :, : self.num_thresholds]
        # above[:, :, i] = number of scores in bucket >= i, i.e. scores > t_i (whole
        # numbers: exact in float64 below 2^53)
        above = hist.flip(-1).cumsum(-1, dtype=dtype).flip(-1)
        negatives, positives = above[:, 0], above[:, 1]
        return positives, negatives, positives[:, :1], negatives[:, :1]

    def result(self) -> Tensor:
        """ROC AUC of each member, ``(K,)`` float64 on the counts' device.

        A member that has seen a NaN score since the last reset gets NaN.
        """
        if self._hist is None:
            self.reset()
        assert self._hist is not None
        return auc_of_counts(self._hist[:, :, : self.num_thresholds + 1])


def auc_of_counts(hist: Tensor) -> Tensor:
    """Keras' ROC AUC of every row of bucket counts ``(M, 2, T + 1)`` (negatives, positives;
    bucket ``T``: NaN scores), ``(M,)`` float64: :meth:`AucCounts.result`, for counts of
    several populations at once."""
    t = hist.shape[-1] - 1
    # above[:, :, i] = number of scores in bucket >= i, i.e. scores > t_i (whole numbers:
    # exact in float64 below 2^53); [:, :, 0] all of them
    above = hist[:, :, :t].flip(-1).cumsum(-1, dtype=torch.float64).flip(-1)
    # rates of whole numbers, 0 where there are no positives (negatives): then every
    # count above is 0 too (keras.ops.divide_no_nan)
    fpr, tpr = (above / above[:, :, :1].clamp_min(1.0)).unbind(1)
    heights = (tpr[:, :-1] + tpr[:, 1:]) / 2.0
    auc = ((fpr[:, :-1] - fpr[:, 1:]) * heights).sum(-1)
    return auc.masked_fill_(hist[:, :, t].sum(-1) > 0, torch.nan)


def _ones(index: Tensor) -> Tensor:
    """A stride-0 int64 tensor of ones shaped like ``index`` (no memory per element)."""
    return torch.ones((), dtype=torch.int64, device=index.device).expand(index.shape)


def roc_auc_keras(probs: Tensor, targets: Tensor, num_thresholds: int = 200) -> Tensor:
    """One-shot Keras ROC AUC of probabilities, with or without a member axis.

    Args:
        probs: ``(N, C)`` (or binary ``(N,)``) without members, ``(K, N, C)`` with.
        targets: class indices ``(N,)`` (or ``(K, N)`` with members), or one-hot / binary
            labels broadcastable to ``probs``.
        num_thresholds: T, as in ``keras.metrics.AUC``.

    Returns:
        A float64 scalar for ``probs`` of at most 2 dimensions, else ``(K,)``.
    """
    squeeze = probs.dim() <= 2
    if squeeze:
        probs = probs.unsqueeze(0)
        targets = targets.unsqueeze(0)
    counts = AucCounts(probs.shape[0], num_thresholds=num_thresholds, device=probs.device)
    counts.update(probs, targets)
    out = counts.result()
    return out[0] if squeeze else out
