"""Per-sample classification scores and the per-member gradient norm.

Shapes follow the project's convention: logits are ``(..., C)`` where the leading axes are
usually ``(K, N)`` (K members, N samples) but may be just ``(N,)``; targets are int64 class
indices that broadcast against ``logits.shape[:-1]``, i.e. ``(N,)`` shared by every member or
``(K, N)`` per member. Every function is a handful of vectorised tensor operations: no Python
loop over members or samples and no host synchronisation, so they can run every training step
on any device, in float32 or float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab._errors import LrlabError

__all__ = ["correct", "cross_entropy", "grad_norm", "sse"]


def _index_targets(logits: Tensor, targets: Tensor) -> Tensor:
    """Targets as int64 class indices broadcast to ``logits.shape[:-1]``.

    Raises:
        LrlabError: if the targets are not integers or do not broadcast.
    """
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise LrlabError(
            f"targets must be integer class indices, got dtype {targets.dtype}; "
            "pass them as int64 (e.g. targets.long())"
        )
    shape = logits.shape[:-1]
    try:
        return targets.to(device=logits.device, dtype=torch.int64).expand(shape)
    except RuntimeError:
        raise LrlabError(
            f"targets of shape {tuple(targets.shape)} do not match logits of shape "
            f"{tuple(logits.shape)}; use (N,) or (K, N) for logits (K, N, C)"
        ) from None


#: Devices on which :func:`_no_class` reads the targets' range back (free on the CPU; an
#: accelerator would wait for it) to skip the masking when every target is a class.
_READ_BACK = frozenset({"cpu"})


def _no_class(targets: Tensor, num_classes: int) -> Tensor | None:
    """Where a target is no class (outside ``0 .. C-1``: -100, ``nn.CrossEntropyLoss``'s
    ``ignore_index``, padding a sequence; a segmentation's void label 255): a position that
    counts in no score. ``None`` on the CPU when every target is a class (one pass and a
    read-back, 5-10 us, spare 30-300 us of masking; elsewhere the mask, without a sync: the
    same values, an all-false mask changing nothing)."""
    if targets.device.type in _READ_BACK:
        if not targets.numel():
            return None
        low, high = torch.aminmax(targets)
        if low.item() >= 0 and high.item() < num_classes:
            return None
    return (targets < 0) | (targets >= num_classes)


#: Class axes at most this wide are reduced along a transposed (class-major) copy on the
#: CPU; the population's backward passes lay out a narrow last layer's gradient to suit.
NARROW_CLASSES = 64


def _class_layout(logits: Tensor) -> tuple[Tensor, int]:
    """The logits laid out for reductions over the class axis, and that axis (-1 or -2).

    torch's CPU kernels for softmax and log-softmax vectorise along the reduced axis, which
    is only C wide here (3 for blobs): on a contiguous transposed copy they run along the
    long sample axis instead, 3-9x faster for C = 3 and still faster for C = 10 (same values
    up to rounding). Elsewhere (CUDA, wide class axes) the logits as they are, axis -1.
    """
    if logits.device.type != "cpu" or logits.dim() < 2 or logits.shape[-1] > NARROW_CLASSES:
        return logits, -1
    return logits.transpose(-1, -2).contiguous(), -2


def _along_classes(fn, logits: Tensor) -> Tensor:
    """``fn(x, dim)`` over the last (class) axis, in :func:`_class_layout`' layout. Not for
    :func:`argmax`, which has a fast kernel of its own."""
    z, dim = _class_layout(logits)
    out = fn(z, dim)
    return out.transpose(-1, -2) if dim == -2 and out.dim() == logits.dim() else out


def softmax(logits: Tensor) -> Tensor:
    """Class probabilities ``softmax(logits)`` over the last axis."""
    return _along_classes(torch.softmax, logits)


def argmax(logits: Tensor) -> Tensor:
    """The predicted class: ``argmax`` over the last axis (first index on ties).

    Read from ``max``, whose CPU kernel is as fast as ``argmax``'s on contiguous logits and
    10x faster on a transposed layout (the same indices, NaN counting as the largest); the
    transposed copy once used here cost more than either.
    """
    return logits.max(-1).indices


def _top_hits(z: Tensor, dim: int, targets: Tensor) -> Tensor:
    """Whether each sample's top class (the first on ties) is its target, with the class
    axis ``dim`` of ``z`` (:func:`_class_layout`' layout); ``targets`` int64, broadcast
    against the result (without the member axis when every member shares them).

    :func:`argmax` compared with the targets, in four vectorised passes (the largest value,
    which classes reach it, the first of them, the comparison) instead of ``max``'s
    unvectorised index search: 218 -> 94 us on 32 x 3 x 500 logits, 5.1 -> 2.3 ms on
    16 x 10 x 10,000. A row holding NaN never hits (``argmax`` would pick its first NaN);
    its softmax is NaN too, which makes the member's accuracy NaN in
    :class:`~lrlab.metrics.EpochMetrics`, the one caller.
    """
    c = z.shape[dim]
    rank = torch.arange(c, 0, -1, dtype=torch.int32, device=z.device)  # first class: c
    if dim == -2:
        rank = rank.unsqueeze(-1)
    first = ((z == z.amax(dim, keepdim=True)) * rank).amax(dim)
    return first == c - targets


def _onehot_mask(targets: Tensor, num_classes: int) -> Tensor:
    """Boolean one-hot ``targets[..., None] == arange(C)`` (no scatter, no sync)."""
    classes = torch.arange(num_classes, device=targets.device)
    return targets.unsqueeze(-1) == classes


def _sse_from_mask(probs: Tensor, onehot: Tensor) -> Tensor:
    """``sum_c (p_c - onehot_c)^2`` with a boolean one-hot mask of ``probs``' shape."""
    return torch.add(probs, onehot, alpha=-1).square_().sum(dim=-1)


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Per-sample cross-entropy :math:`-\log \mathrm{softmax}(z)_y`.

    Computed as ``-log_softmax(logits).gather(target)``, which is stable for large logits.

    Args:
        logits: ``(..., C)`` unnormalised scores, e.g. ``(K, N, C)`` or ``(N, C)``.
        targets: int class indices broadcastable to ``logits.shape[:-1]``.

    Returns:
        Tensor of shape ``logits.shape[:-1]`` in the logits' dtype.
    """
    idx = _index_targets(logits, targets)
    logp = _along_classes(torch.log_softmax, logits)
    return -logp.gather(-1, idx.unsqueeze(-1)).squeeze(-1)


def sse_from_probs(probs: Tensor, targets: Tensor) -> Tensor:
    r"""Per-sample :math:`\sum_c (p_c - [c = y])^2` for probabilities already computed.

    Args:
        probs: ``(..., C)`` class probabilities.
        targets: int class indices broadcastable to ``probs.shape[:-1]``.

    Returns:
        Tensor of shape ``probs.shape[:-1]`` in the probabilities' dtype.
    """
    idx = _index_targets(probs, targets)
    return _sse_from_mask(probs, _onehot_mask(idx, probs.shape[-1]))


def sse(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Per-sample squared error between the softmax output and the one-hot target.

    .. math:: \mathrm{sse}_n = \sum_{c=1}^{C} \big(\mathrm{softmax}(z_n)_c - [c = y_n]\big)^2

    Summed over samples, this is the score Wilson & Martinez use to compare networks.

    Args:
        logits: ``(..., C)`` unnormalised scores, e.g. ``(K, N, C)`` or ``(N, C)``.
        targets: int class indices broadcastable to ``logits.shape[:-1]``.

    Returns:
        Tensor of shape ``logits.shape[:-1]`` in the logits' dtype, each value in ``[0, 2]``.
    """
    return sse_from_probs(softmax(logits), targets)


def correct(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-sample ``1.0`` where ``argmax(logits) == target``, else ``0.0``.

    Args:
        logits: ``(..., C)`` scores (or probabilities: the argmax is the same).
        targets: int class indices broadcastable to ``logits.shape[:-1]``.

    Returns:
        Tensor of shape ``logits.shape[:-1]`` in the logits' dtype.
    """
    idx = _index_targets(logits, targets)
    return (argmax(logits) == idx).to(logits.dtype)


def grad_norm(grads: Sequence[Tensor | None]) -> Tensor:
    r"""Global L2 norm of the gradient of each member.

    .. math:: \|g_k\| = \sqrt{\sum_{t} \sum_{i} g_{t,k,i}^2}

    over every tensor ``t`` and every non-member element ``i``. The loop runs over the
    parameter tensors only (a fixed, small number), never over members.

    Args:
        grads: gradients, each of shape ``(K, ...)`` with the same K; ``None`` entries
            (parameters without a gradient) are skipped.

    Returns:
        ``(K,)`` tensor in the promoted floating dtype of the gradients.

    Raises:
        LrlabError: if there is no gradient or the member axes disagree.
    """
    present = [g for g in grads if g is not None]
    if not present:
        raise LrlabError("grad_norm needs at least one gradient tensor; got none")
    members = {g.shape[0] if g.dim() else -1 for g in present}
    if len(members) != 1 or -1 in members:
        raise LrlabError(
            "every gradient must have the same leading member axis K; got leading sizes "
            f"{sorted(members)}"
        )
    dtype = present[0].dtype
    for g in present[1:]:
        dtype = torch.promote_types(dtype, g.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()

    def member_norms(g: Tensor) -> Tensor:
        g = g.to(dtype)
        return torch.linalg.vector_norm(g.flatten(1), dim=1) if g.dim() > 1 else g.abs()

    # One norm per tensor per member, then the norm of those norms: (T, K) -> (K,).
    per_tensor = [member_norms(g) for g in present]
    return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)
