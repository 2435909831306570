"""Data as users have it: one batch protocol and seeded epochs over Datasets and DataLoaders.

* :func:`split_batch`: a batch (tensor, ``(x, ..., y)`` tuple, dict) as the model's inputs
  and its target; :func:`model_loss` for a loss of ``(model, batch)``; :func:`output_loss`
  for models returning their own loss.
* :func:`batches`: one epoch of a ``Dataset`` or ``DataLoader`` in the run's seeded order.
"""

from lrlab.data._batch import (
    DEFAULT_TARGET_KEY,
    IGNORE_INDEX,
    Inputs,
    ModelLoss,
    batch_size_of,
    correct,
    describe,
    ignore_index_of,
    model_loss,
    not_a_tensor,
    output_logits,
    output_loss,
    split_batch,
    to_device,
)
from lrlab.data._source import (
    EpochOrder,
    FirstExamples,
    batches,
    counted,
    epoch_seed,
    is_data,
    labels_of,
    loader_batch_size,
    num_examples,
    seeded_order,
    steps_per_epoch,
    subset_of,
)

__all__ = [
    "DEFAULT_TARGET_KEY", "IGNORE_INDEX", "EpochOrder", "FirstExamples", "Inputs", "ModelLoss",
    "batch_size_of", "batches",
    "correct", "counted", "describe", "epoch_seed", "ignore_index_of", "is_data", "labels_of", "loader_batch_size",
    "model_loss", "not_a_tensor", "num_examples", "output_logits", "output_loss", "seeded_order",
    "split_batch", "steps_per_epoch", "subset_of", "to_device",
]
