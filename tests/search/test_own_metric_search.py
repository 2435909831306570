"""A search on a task of tensors ranked by one of its own metrics (``metrics=``,
``monitor=``): the race ranks by it, and on a regression chance is not checked (no score of
lrlab's own to compare with; a classifier's is its value on majority answers)."""

from __future__ import annotations

import math

import torch
from torch import nn

from lrlab.search import auto, grid
from lrlab.tasks import Split, Task, member_loss


def _mae(outputs, targets):
    return (outputs - targets).abs().squeeze(-1)


def _task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 0.0]))[:, None]
    return Task(name="reg", train=Split(x[:90], y[:90]), val=Split(x[90:], y[90:]),
                model=lambda: nn.Linear(4, 1), num_classes=None, monitor="mae",
                loss=member_loss(nn.MSELoss(reduction="none")), metrics={"mae": _mae},
                batch_size=10, epochs=2)


def test_auto_and_grid_rank_a_tensor_task_by_its_own_metric() -> None:
    """Both ran into a KeyError reading the untrained model's score."""
    task = _task()
    found = auto(task)
    assert found.confidence is not None and math.isnan(found.confidence.chance)
    assert "validation mae" in found.verdict()
    searched = grid(task, lrs=[0.3, 0.1, 0.01])
    assert "validation mae" in searched.verdict() and searched.lr in (0.3, 0.1, 0.01)
    assert searched.evidence[0].monitor == "mae"
    for result in (found, searched):  # chance unknown: said so, never "scores nan"
        assert "nan" not in result.explanation
    assert "Chance is not known here" in found.explanation
