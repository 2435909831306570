"""Tests for ``member_loss``: one model's PyTorch loss applied to every member."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lrlab import Split, Task, sweep
from lrlab.tasks import member_loss


def test_members_with_their_own_batches_take_their_own_targets() -> None:
    """Two seeds give each member its own example order, so the population's targets are
    per member, labels (K, B) beside logits (K, B, C): member k's loss must read row k.
    Before, labels with fewer axes than the outputs were taken for one batch shared by all
    (nn.CrossEntropyLoss: 'Expected input batch_size (8) to match target batch_size (2)',
    an unexpected error in the CLI). Reference: lrlab's own cross-entropy, same seeds."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    task = Task(name="cls", train=Split(x[:44], y[:44]), val=Split(x[44:], y[44:]),
                model=lambda: nn.Linear(4, 3), num_classes=3, batch_size=8, epochs=2)
    own = sweep(task, lrs=[0.1, 0.3], seeds=[0, 1], dtype="float64")
    torchs = sweep(task.replace(loss=member_loss(nn.CrossEntropyLoss(reduction="none"))),
                   lrs=[0.1, 0.3], seeds=[0, 1], dtype="float64")
    for metric in ("loss", "accuracy"):
        want = own.curve(metric, "val").to_numpy(float)
        np.testing.assert_allclose(torchs.curve(metric, "val").to_numpy(float), want,
                                   rtol=1e-9, atol=1e-12)
    assert not np.allclose(want[:, 0], want[:, 2])  # the seeds trained differently
