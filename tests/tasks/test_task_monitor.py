"""Tests for a ``Task``'s default monitor: accuracy for a classifier, loss for a regression."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab import LrlabError, Split, Task, sweep
from lrlab.search import auto, range_test
from lrlab.tasks import member_loss


def _regression() -> Task:
    """A small MSE regression given as a user writes one: no monitor, no ``num_classes``."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=g)
    y = torch.tanh(x @ torch.randn(6, 1, generator=g)) + 0.1 * torch.randn(300, 1, generator=g)
    return Task(name="reg", train=Split(x[:200], y[:200]), val=Split(x[200:], y[200:]),
                model=lambda: nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1)),
                loss=member_loss(nn.MSELoss()), batch_size=20, epochs=4)


def test_a_regression_left_without_a_monitor_is_ranked_by_its_loss() -> None:
    """The docstring's default (``None``: accuracy for classification, else loss). Before,
    the field defaulted to "accuracy", and every sweep, search and range test of a
    regression written without ``monitor="loss"`` stopped at "monitor 'accuracy' is not
    recorded for a regression task"."""
    task = _regression()
    assert task.monitor is None and not task.higher_is_better
    swept = sweep(task, lrs=[0.01, 0.1], epochs=1)
    assert (swept.monitor, swept.higher_is_better) == ("loss", False)
    picked = auto(task, candidates=2, seeds=1, refine=False, check=False)
    assert {race.monitor for race in picked.evidence} == {"loss"}
    assert "validation loss" in picked.explanation and "accuracy" not in picked.explanation
    assert range_test(task, steps=30).monitor == "loss"


def test_a_classifier_of_tensors_is_monitored_by_accuracy_from_the_start() -> None:
    """Tensors with ``num_classes`` are a classifier before any batch is read: the task says
    so (its progress bar and searches read ``monitor`` and its direction at once); integer
    targets without ``num_classes`` are read from the first batch, to the same monitor."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g)
    y = (x[:, 0] > 0).long()
    given = Task(name="cls", train=Split(x[:40], y[:40]), val=Split(x[40:], y[40:]),
                 model=lambda: nn.Linear(4, 2), num_classes=2, batch_size=10, epochs=1)
    assert (given.monitor, given.higher_is_better) == ("accuracy", True)
    read = given.replace(num_classes=None, monitor=None)
    assert read.monitor is None
    assert sweep(read, lrs=[0.1], epochs=1).monitor == "accuracy"
    assert given.replace(monitor="auc").monitor == "auc"


def test_num_classes_on_float_targets_says_to_leave_it_out_for_a_regression() -> None:
    """A regression (or multi-label) user who adds ``num_classes`` by habit is told both
    fixes in one line: integer targets for classes, or no ``num_classes``. Before, the line
    said only that the targets were floats."""
    task = _regression()
    with pytest.raises(LrlabError, match=r"num_classes=2 makes a classifier.*y\.long\(\), or "
                                         r"leave num_classes out for a regression") as caught:
        task.replace(num_classes=2)
    assert "\n" not in str(caught.value)
