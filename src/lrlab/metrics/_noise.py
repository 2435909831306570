"""Chance and noise: what a model that learned nothing scores, and how far a validation
score must beat it to count.

**Chance** from the validation targets themselves (:class:`LabelCounts`, counted by
:class:`~lrlab.metrics.EpochMetrics` while it scores them): always answering the most
common class scores its share of the scored positions in accuracy (``1 -`` that in error).
Counted during evaluation, it is known for any data lrlab can score: tensors, or a
Dataset whose labels only ``__getitem__`` gives. For any other metric of a classifier (a
task's own, such as a macro-F1) chance is its value on :func:`majority_outputs`: the model's
outputs replaced by ones that always answer that class (:func:`lrlab.train.untrained`).

**Noise** of a score: for a share (accuracy, error, AUC) on ``n`` examples the binomial
standard error ``sqrt(p (1 - p) / n)``, with ``p`` clipped to ``[0.02, 0.98]`` (a share at 0
or 1 is not known to be exact); for a loss, ``|s| / sqrt(n)`` (a mean loss's standard error
is a multiple of its size over ``sqrt(n)``). A classifier's own metric that scores majority
answers within ``[0, 1]`` (a macro-F1, a balanced accuracy) is read as a share averaged over
classes: binomial on :meth:`LabelCounts.balanced_examples`, which a rare class makes few.
``n`` counts examples, not label positions: a sequence's labels are not independent draws,
so its positions would understate the noise.
A score *learned* when it beats chance by more than :data:`LEARNED` such units: the
searches' rule and the sweep verdict's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LEARNED", "MARGIN", "SHARES", "LabelCounts", "majority_outputs", "score_noise",
           "share_examples"]

#: A score learned when it beats chance by this many noise units.
LEARNED = 2.0

#: Monitors that are a share of the validation examples (binomial noise; bounded, so rates
#: below the best level off at the same share rather than trailing it as a loss does).
SHARES = ("accuracy", "error", "auc")

#: How far :func:`majority_outputs` puts every other class below the majority class.
MARGIN = 20.0


@dataclass(frozen=True)
class LabelCounts:
    """The targets one evaluation scored (:meth:`EpochMetrics.labels
    <lrlab.metrics.EpochMetrics.labels>`).

    Attributes:
        examples: examples scored (what the noise of a score counts).
        positions: predictions scored for accuracy: the label positions whose target is a
            class (one per token for a sequence tagger; a target that is no class, such as
            -100 padding under ``nn.CrossEntropyLoss``'s ``ignore_index``, is not scored,
            in accuracy as here); 0 when nothing was scored as classes.
        counts: per class, the positions whose target is that class (empty: not a
            classifier); they sum to ``positions``.

    Example:
        >>> labels = LabelCounts(examples=10, positions=10, counts=(9, 1))
        >>> labels.chance("accuracy"), round(labels.chance("error"), 2), labels.chance("loss")
        (0.9, 0.1, nan)
    """

    examples: int = 0
    positions: int = 0
    counts: tuple[int, ...] = ()

    def majority_share(self) -> float:
        """The accuracy of always answering the most common class: its count over the
        positions scored; ``nan`` when no classes were scored."""
        if not self.counts or not self.positions:
            return math.nan
        return max(self.counts) / self.positions

    def majority(self) -> int | None:
        """The most common class (the first of those tied); ``None`` when no classes were
        scored (not a classifier)."""
        if not self.counts or not self.positions:
            return None
        return self.counts.index(max(self.counts))

    def balanced_examples(self) -> float:
        """The examples a macro-average over classes counts: ``C^2 / sum_c 1 / n_c`` over the
        ``C`` classes scored, with ``n_c`` the class's share of the positions times
        :attr:`examples` (``nan`` when no classes were scored).

        A share averaged over classes (a macro-F1, a balanced accuracy) is as noisy as its
        rarest classes make it: the mean of ``C`` per-class shares ``s`` measured on ``n_c``
        examples each has variance ``s (1 - s) / C^2 * sum_c 1 / n_c``, a binomial on these
        examples. With balanced classes it is :attr:`examples`; on 187 negatives and 13
        positives, 48.6 of the 200. (Per class, a F1's delta-method variance is
        ``F (1 - F) (2 - F) / (n_c + predicted_c)``, at most the binomial's on ``n_c``.)

        Example:
            >>> labels = LabelCounts(examples=200, positions=200, counts=(187, 13))
            >>> round(labels.balanced_examples(), 1)
            48.6
        """
        present = [c for c in self.counts if c > 0]
        if not present or not self.positions:
            return math.nan
        return len(present) ** 2 / sum(self.positions / (c * self.examples) for c in present)

    def chance(self, monitor: str | None) -> float:
        """``monitor``'s value for always answering the most common class: accuracy is
        :meth:`majority_share`, error ``1 -`` it; ``nan`` for any other monitor (what
        chance is then, the untrained model's score tells: :func:`lrlab.search.baseline`)."""
        share = self.majority_share()
        if monitor == "accuracy":
            return share
        return 1 - share if monitor == "error" else math.nan


def majority_outputs(shape: torch.Size | tuple[int, ...], majority: int, class_axis: int, *,
                     dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
                     ) -> Tensor:
    """One model's outputs of ``shape`` that always answer class ``majority`` by a large
    margin: :data:`MARGIN` below it for every other class, the majority class at 0 (so they
    are logits and log-probabilities at once: softmax and exp give it probability
    ``1 - (C - 1) e^-20``; argmax gives it).

    Args:
        shape: the shape of one model's outputs (``(B, C)``, ``(B, ..., C)``, ``(B, C, ...)``).
        majority: the class to answer.
        class_axis: where the classes lie: ``-1`` (last), ``1`` (``(B, C, ...)``, what
            ``nn.CrossEntropyLoss`` takes per pixel) or ``0`` for one binary logit per
            example (``(B,)`` or ``(B, 1)``): ``+MARGIN`` for class 1, ``-MARGIN`` for 0.

    Example:
        >>> majority_outputs((2, 3), 1, -1)
        tensor([[-20.,   0., -20.],
                [-20.,   0., -20.]])
        >>> majority_outputs((2,), 0, 0)
        tensor([-20., -20.])
    """
    if class_axis == 0:
        return torch.full(tuple(shape), MARGIN if majority == 1 else -MARGIN, dtype=dtype,
                          device=device)
    out = torch.full(tuple(shape), -MARGIN, dtype=dtype, device=device)
    out.select(class_axis, majority).zero_()
    return out


def share_examples(labels: LabelCounts, level: float) -> float:
    """What the noise of a task's own metric counts when it is a share averaged over classes
    (a macro-F1, a balanced accuracy): :meth:`LabelCounts.balanced_examples`, when its level
    on majority answers (its chance) lies in ``[0, 1]``; ``nan`` otherwise (its noise is then
    a loss's, on the examples). The one rule every verdict reads (the searches' baseline, a
    sweep's).

    Example:
        >>> labels = LabelCounts(examples=200, positions=200, counts=(187, 13))
        >>> round(share_examples(labels, 0.48), 1), share_examples(labels, 3.2)
        (48.6, nan)
    """
    many = labels.balanced_examples()
    return many if 0 <= level <= 1 and math.isfinite(many) else math.nan


def score_noise(score: float, monitor: str, n: float, *, binomial: bool | None = None) -> float:
    """The noise of one validation ``monitor`` score ``score`` on ``n`` examples.

    Args:
        score, monitor, n: the score, its metric's name and the examples it counts (for a
            task's own share-like metric, :meth:`LabelCounts.balanced_examples`).
        binomial: whether the score is a share (binomial noise); default: ``monitor`` is
            one of :data:`SHARES`.

    Example:
        >>> round(score_noise(0.5, "accuracy", 100), 3), round(score_noise(0.2, "loss", 400), 3)
        (0.05, 0.01)
        >>> round(score_noise(0.9, "f1", 48.6, binomial=True), 3)
        0.043
    """
    if not math.isfinite(score):
        return math.inf
    if binomial if binomial is not None else monitor in SHARES:
        p = min(max(score, 0.02), 0.98)
        return math.sqrt(p * (1 - p) / n)
    return abs(score) / math.sqrt(n)
