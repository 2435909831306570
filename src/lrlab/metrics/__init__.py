"""Metrics for K members trained in lockstep: per-sample scores, Keras ROC AUC, epoch sums.

Every tensor carries the member axis K first: logits ``(K, N, C)``, targets ``(N,)`` shared by
all members or ``(K, N)``. The per-sample functions also accept inputs without a member axis.

* :func:`cross_entropy`, :func:`sse`, :func:`correct`: per-sample scores.
* :func:`grad_norm`: global L2 gradient norm per member.
* :func:`keras_thresholds`, :class:`AucCounts`, :func:`roc_auc_keras`: ROC AUC computed as
  ``keras.metrics.AUC(num_thresholds=200)`` computes it, streamed over batches.
* :class:`EpochMetrics`: loss, accuracy, error, SSE and AUC per member over an epoch,
  accumulated on the device without host synchronisation, and the classes of the targets
  it scored (:class:`LabelCounts`: the majority class's level, the examples scored);
  :func:`score_splits` scores several splits (an epoch's training and validation data) in
  one pass.
* :func:`score_noise`, :data:`LEARNED`: the noise of one validation score (:func:`share_examples`:
  what a task's own share-like metric's counts), and how many
  such units above chance count as learned; :func:`majority_outputs`: a classifier's
  outputs always answering one class, on which chance of any other metric is read.
"""

from __future__ import annotations

from lrlab.metrics._auc import AucCounts, keras_thresholds, roc_auc_keras
from lrlab.metrics._classification import (
    NARROW_CLASSES,
    correct,
    cross_entropy,
    grad_norm,
    sse,
)
from lrlab.metrics._epoch import EpochMetrics
from lrlab.metrics._noise import (
    LEARNED,
    MARGIN,
    SHARES,
    LabelCounts,
    majority_outputs,
    score_noise,
    share_examples,
)
from lrlab.metrics._splits import score_splits

__all__ = [
    "LEARNED",
    "MARGIN",
    "NARROW_CLASSES",
    "SHARES",
    "AucCounts",
    "EpochMetrics",
    "LabelCounts",
    "correct",
    "cross_entropy",
    "grad_norm",
    "keras_thresholds",
    "majority_outputs",
    "roc_auc_keras",
    "score_noise",
    "score_splits",
    "share_examples",
    "sse",
]
