"""A search on a task of tensors ranked by one of its own metrics (``metrics=``,
``monitor=``): the race ranks by it, and on a regression chance is not checked (no score of
lrlab's own to compare with; a classifier's is its value on majority answers)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import macro_f1
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


def test_a_race_on_an_own_metric_at_the_majority_level_falls_back_to_the_loss() -> None:
    """A new user's classifier on 7% positives ranked by its macro-F1: every raced rate sat at
    0.4831, exactly always answering the majority class, and with chance 'not known' all
    counted as learned, so ties walked up to 5.62 (0.887 over the full training against 1.0
    at 1). Chance is now that level: no rate learned, and the validation loss ranks them."""
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 10, generator=g)
    y = ((x[:, 0] + 0.5 * x[:, 1]) > 1.6).long()
    task = Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2)),
        DataLoader(TensorDataset(x[:800], y[:800]), 32, shuffle=True, drop_last=True),
        DataLoader(TensorDataset(x[800:], y[800:]), 200), loss=nn.CrossEntropyLoss(),
        metrics={"f1": macro_f1}, monitor="f1", epochs=5)
    found = auto(task, seed=2)
    from sklearn.metrics import f1_score

    level = sum(len(part) * f1_score(part.numpy(), [0] * len(part), labels=[0, 1],
                                     average="macro", zero_division=0)
                for part in y[800:].split(32)) / 200   # the evaluation's batches of 32
    assert found.confidence.chance == pytest.approx(level, rel=1e-6)
    said = [w for w in found.warnings if w.startswith("no rate learned")]
    assert len(said) == 1 and "lowest validation loss" in said[0]
    vloss = {}
    for race in found.evidence:
        for lr, v in zip(race.members["lr"], race.curve("loss", "val").min()):
            vloss[float(lr)] = float(v)
    assert vloss[found.lr] <= min(vloss.values()) * (1 + 2 / math.sqrt(200))
