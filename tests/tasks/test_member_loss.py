"""Tests for ``member_loss``: one model's PyTorch loss applied to every member."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import one_line
from torch import nn

from lrlab import LrlabError, Split, Task, sweep
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


def test_a_classifier_given_one_models_loss_is_one_line_naming_member_loss() -> None:
    """nn.CrossEntropyLoss given to Task unwrapped fails on the population's (K, B, C)
    logits; sweep's first use of the loss (the memory estimate) let torch's ValueError out
    ("Expected input batch_size (1) to match target batch_size (8)"), where the CLI's checks
    named the fix. Now the library says it too, in one line."""
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    task = Task(name="cls", train=Split(x[:30], y[:30]), val=Split(x[30:], y[30:]),
                model=lambda: nn.Linear(4, 2), num_classes=2, batch_size=8, epochs=1,
                loss=nn.CrossEntropyLoss())
    with pytest.raises(LrlabError) as err:
        sweep(task, lrs=[0.1])
    one_line(err, "member_loss(")
