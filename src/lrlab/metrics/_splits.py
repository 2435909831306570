"""Several splits' epoch metrics in one pass: the training and validation data of an epoch.

:class:`~lrlab.metrics.EpochMetrics` scores one split in a few dozen small operations
whatever its size; on a small network they cost about what the arithmetic does (blobs: each
pass about 0.5 ms at one member, where a training step costs 0.3 ms). :func:`score_splits`
scores the splits of an epoch at once, side by side along the sample axis: one layout
copy, one accuracy, one SSE, one set of AUC buckets and one AUC for all, each split's sums
read from its own columns. The values equal those of one ``update`` per split and its
``compute``, bit for bit: the elementwise operations, the accuracy (exact) and the AUC's
counts (whole numbers) run over all splits at once; the softmax and the SSE's sum over the
classes run split by split (their loops along the samples, vectorised, round the tail of
a row apart from its body, so where a split's columns start would matter), and every sum
over samples runs over one split's columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab.metrics._auc import _block_starts, _histogram, _ones, _slots, auc_of_counts
from lrlab.metrics._classification import NARROW_CLASSES, _no_class, _top_hits
from lrlab.metrics._epoch import EpochMetrics, _classes

__all__ = ["score_splits"]

_F64 = torch.float64
#: one split's batches: logits ``(K, B, C)``, targets ``(B,)``, losses ``(K, B)`` each
Batches = Sequence[tuple[Tensor, Tensor, Tensor]]


def score_splits(metrics: Sequence[EpochMetrics], splits: Sequence[Batches]
                 ) -> list[dict[str, Tensor]]:
    """Each of ``metrics`` updated with its split's batches joined along the sample axis
    (one :meth:`~lrlab.metrics.EpochMetrics.update` of the concatenation, as a buffered
    training epoch scores them), then computed.

    One pass over all splits where they allow it: fresh classification metrics of the same
    members, classes and AUC setting, narrow class axes on the CPU, targets shared by every
    member; else split by split. The values are the same either way.

    Args:
        metrics: one fresh (or reset) :class:`~lrlab.metrics.EpochMetrics` per split.
        splits: per split, its batches ``(logits (K, B, ...), targets (B, ...), losses
            (K, B))``, the targets shared by every member (their batch axis first).

    Returns:
        Per split, :meth:`~lrlab.metrics.EpochMetrics.compute`'s values.

    Example:
        >>> import torch
        >>> from lrlab.metrics import EpochMetrics
        >>> ms = [EpochMetrics(2, num_classes=3, device="cpu") for _ in range(2)]
        >>> z, y = torch.zeros(2, 4, 3), torch.tensor([0, 1, 2, 0])
        >>> train, val = score_splits(ms, [[(z, y, torch.ones(2, 4))]] * 2)
        >>> train["accuracy"].tolist(), val["loss"].tolist()
        ([0.5, 0.5], [1.0, 1.0])
    """
    if not _together(metrics, splits):
        values = []
        for m, batches in zip(metrics, splits):
            logits, targets, losses = zip(*batches)
            if len(batches) == 1:
                m.update(logits[0], targets[0], losses[0])
            else:
                m.update(torch.cat(logits, 1), torch.cat(targets), torch.cat(losses, 1))
            values.append(m.compute())
        return values
    first = metrics[0]
    k, c = first.members, first.num_classes
    assert c is not None
    # every split's logits class-major side by side, (K, C, N): one copy
    z = torch.cat([logits.transpose(-1, -2) for batches in splits for logits, _, _ in batches],
                  -1)
    y = torch.cat([targets for batches in splits for _, targets, _ in batches])
    sizes = [sum(targets.shape[0] for _, targets, _ in batches) for batches in splits]
    starts = [sum(sizes[:s]) for s in range(len(sizes))]
    probs = torch.cat([torch.softmax(z[..., a:a + n], -2) for a, n in zip(starts, sizes)], -1)
    hits = _top_hits(z, -2, y)
    onehot = y.unsqueeze(-2) == _classes(c, -2, z.device)
    other = _no_class(y, c)  # positions scored nowhere (-100), as EpochMetrics
    squares = torch.add(probs, onehot, alpha=-1).square_()  # as EpochMetrics
    for m, batches, a, n in zip(metrics, splits, starts, sizes):
        losses = [loss for _, _, loss in batches]
        loss = losses[0] if len(losses) == 1 else torch.cat(losses, 1)
        m._sums["loss"] += loss.to(_F64).sum(dim=1)
        m._sums["correct"] += hits[:, a:a + n].sum(dim=1, dtype=_F64)
        # the class axis summed split by split too (its loop along the samples, vectorised,
        # rounds a row's tail apart from its body)
        per_sample = squares[..., a:a + n].sum(-2)
        if other is not None:
            per_sample.masked_fill_(other[a:a + n], 0.0)
        m._sums["sse"] += per_sample.sum(dim=1, dtype=_F64)
        m._samples += n
        m._counts += onehot[:, a:a + n].sum(1)  # as EpochMetrics counts the classes
    if first._auc is None:
        return [m.compute() for m in metrics]
    # one histogram for all, laid out as AucCounts': split s's member k in block s K + k
    # (each split's counts a view of it, fresh: zeros), positions scored nowhere left out
    t = first._auc.num_thresholds
    hist = _histogram(len(metrics) * k, t, z.device)
    slot = _slots(probs, onehot, other, t, _block_starts(k, t, z.device).view(-1, 1, 1))
    for s, (m, a, n) in enumerate(zip(metrics, starts, sizes)):
        if s:
            slot[..., a:a + n] += _block_starts(1, t, z.device, first=s * k)
        m._auc._hist = hist[s * k:(s + 1) * k]
    slot = slot.reshape(-1)
    hist.view(-1).index_add_(0, slot, _ones(slot))
    auc = auc_of_counts(hist[..., :t + 1])
    return [m.compute(auc[s * k:(s + 1) * k]) for s, m in enumerate(metrics)]


def _together(metrics: Sequence[EpochMetrics], splits: Sequence[Batches]) -> bool:
    """Whether :func:`score_splits` may score these splits in one pass."""
    first = metrics[0]
    if len(metrics) < 2 or first.num_classes is None or first.num_classes > NARROW_CLASSES:
        return False
    for m, batches in zip(metrics, splits):
        if (m._samples or m.members != first.members or m.num_classes != first.num_classes
                or (m._auc is None) != (first._auc is None) or not batches
                or (m._auc is not None and m._auc.num_thresholds != first._auc.num_thresholds)):
            return False
        for logits, targets, losses in batches:
            if (logits.device.type != "cpu" or logits.dim() != 3 or targets.dim() != 1
                    or logits.shape[0] != first.members or logits.shape[-1] != first.num_classes
                    or logits.requires_grad or losses.shape != logits.shape[:2]
                    or targets.shape[0] != logits.shape[1] or logits.dtype != batches[0][0].dtype
                    or targets.dtype != torch.int64 or m._device != logits.device):
                return False
    return True
