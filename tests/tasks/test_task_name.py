"""Tests for the name ``Task.from_loaders`` gives a task left unnamed."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab import Task


def build_net() -> nn.Module:
    return nn.Linear(4, 3)


@pytest.mark.parametrize(("model", "name"), [
    (nn.Linear, "Linear"),              # a class: its name
    (build_net, "build_net"),           # a named function: its name
    (lambda: nn.Linear(4, 3), "task"),  # a lambda says nothing: as before
])
def test_from_loaders_names_a_task_after_its_model_unless_named(model, name):
    """``lrlab ls`` and the progress lines said "task: epoch ..." for every user task (the
    default was "task"); the default is now the model factory's name, and an explicit
    ``name=`` still comes first."""
    data = TensorDataset(torch.randn(8, 4), torch.randint(0, 3, (8,)))
    loaders = DataLoader(data, 4), DataLoader(data, 4)
    assert Task.from_loaders(model, *loaders, loss=nn.CrossEntropyLoss()).name == name
    assert Task.from_loaders(model, *loaders, loss=nn.CrossEntropyLoss(),
                             name="mine").name == "mine"
