"""``lrlab sweep --task module:function`` with a task that reads a DataLoader."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from helpers import assert_bad_input, run

from lrlab.cli import main

MODULE = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from lrlab.tasks import Task


def task():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 4, generator=g), torch.randint(0, 3, (96,), generator=g)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=32)
    return Task.from_loaders(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
                             train, val, loss=nn.CrossEntropyLoss(), name="loaded", epochs=2)
'''


@pytest.fixture
def loader_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    name = f"lrlab_loader_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def test_sweep_a_loader_task_from_the_command_line(loader_module, capsys) -> None:
    code, out, err = run(capsys, "sweep", "--task", f"{loader_module}:task", "--lrs",
                         "0.1,0.01", "--seeds", "0,1", "--quiet", "--study", "mine")
    assert code == 0, err
    assert "best: lr=" in out and "accuracy" in out
    assert main(["show", "mine"]) == 0


def test_a_memory_limit_no_chunk_meets_is_one_line(loader_module, capsys) -> None:
    code, _, err = run(capsys, "sweep", "--task", f"{loader_module}:task", "--lrs", "0.1",
                       "--quiet", "--memory-limit", "1KB")
    assert "one member needs about" in assert_bad_input(code, err)
    code, _, err = run(capsys, "sweep", "--task", f"{loader_module}:task", "--lrs", "0.1",
                       "--quiet", "--members-per-chunk", "0")
    assert "at least 1" in assert_bad_input(code, err)


def test_the_progress_log_reads_a_loader_tasks_monitor_from_its_first_batch(
        loader_module, capsys) -> None:
    """The task's monitor is unknown until its first batch is read: the log (stderr not a
    terminal) names it from the first epoch's report instead of failing."""
    code, out, err = run(capsys, "sweep", "--task", f"{loader_module}:task", "--lrs",
                         "0.1,0.01", "--study", "logged")
    assert code == 0, err
    assert "best val accuracy so far" in err and "best: lr=" in out
