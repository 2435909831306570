"""fit on regression targets and random layers: targets with a trailing axis train and are
recorded; dropout draws from the run's seed and leaves the caller's random state alone."""

from __future__ import annotations

import torch
from helpers import no_time
from torch import nn

import lrlab
from lrlab.tasks import Split, Task


def _regression_task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])  # (N, 1) targets

    def mse(out, target):
        return (out - target).square().flatten(2).mean(-1)  # per sample: (K, B)

    return Task(name="reg", train=Split(x[:80], y[:80]), val=Split(x[80:], y[80:]),
                model=lambda: nn.Sequential(nn.Linear(3, 1)), loss=mse, batch_size=16,
                epochs=3, monitor="loss")


def test_regression_targets_with_a_trailing_axis_train_and_record():
    """(N, 1) targets: batches are joined along the batch axis, loss and sse recorded."""
    result = lrlab.sweep(_regression_task(), lrs=[0.1, 0.01], epochs=3)
    train = result.curve("loss", "train")
    assert train.shape == (3, 2) and (train.iloc[-1] < train.iloc[0]).all()
    assert set(result.records["metric"]) >= {"loss", "sse"}


def _dropout_task() -> Task:
    task = lrlab.get_task("digits")
    return task.replace(model=lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(),
                                                    nn.Dropout(0.5), nn.Linear(32, 10)))


def test_random_layers_draw_from_the_run_seed_and_leave_the_callers_rng_alone():
    """Dropout: the same seed gives the same records twice; the global RNG is untouched."""
    task = _dropout_task()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = lrlab.sweep(task, lrs=[0.1], epochs=2, path="vmap")
    assert torch.equal(torch.get_rng_state(), before)
    b = lrlab.sweep(task, lrs=[0.1], epochs=2, path="vmap")
    assert no_time(a.records)["value"].tolist() == no_time(b.records)["value"].tolist()
