"""fit on regression targets and random layers: targets with a trailing axis train and are
recorded; dropout draws from the run's seed and leaves the caller's random state alone."""

from __future__ import annotations

import pytest
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


class _Drawing(torch.utils.data.Dataset):
    """A validation set whose transform draws from torch's generator (and adds nothing)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i] + 0.0 * torch.rand(self.x.shape[1:]), self.y[i]


class _Stream(torch.utils.data.IterableDataset):
    """A validation set as a stream (a loader ordering itself: lrlab seeds torch's generator)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self):
        return zip(self.x, self.y)


@pytest.mark.parametrize("form", [_Drawing, _Stream])
def test_a_validation_pass_draws_nothing_the_next_epochs_dropout_draws(form):
    """A loader task with dropout: a validation set that draws from torch's generator (a
    random transform, a stream lrlab seeds) records what a plain one records, every epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    task = _dropout_task()
    x, y, xv, yv = task.train.x[:256], task.train.y[:256], task.val.x[:64], task.val.y[:64]

    def records(val):
        loaders = lrlab.Task.from_loaders(
            task.model, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
            DataLoader(val, batch_size=32), loss=nn.CrossEntropyLoss(), epochs=3)
        return no_time(lrlab.sweep(loaders, lrs=[0.1], epochs=3).records)["value"].tolist()

    assert records(form(xv, yv)) == records(TensorDataset(xv, yv))


def test_mean_loss_leaves_the_random_state_as_it_was():
    """mean_loss over a stream (lrlab seeds torch's generator for it) and a drawing set."""
    from torch.utils.data import DataLoader

    from lrlab.train import mean_loss

    task = _dropout_task()
    x, y = task.val.x[:64], task.val.y[:64]
    model = task.init_model(0)
    torch.manual_seed(7)
    before = torch.get_rng_state()
    for form in (_Drawing, _Stream):
        assert mean_loss(model, task, DataLoader(form(x, y), batch_size=32)) > 0
    assert torch.equal(torch.get_rng_state(), before)


def test_mean_loss_in_training_mode_is_a_training_steps_loss_and_changes_nothing():
    """``training=True``: BatchNorm on the batch's own statistics and an auxiliary head's
    term that only a training forward returns, as a training step computes them (checked
    against torch on a copy of the model); the model's mode and running statistics are as
    they were; dropout draws from the seed, so the loss is the same twice."""
    import copy

    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab.data import model_loss
    from lrlab.train import mean_loss

    class Aux(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
            self.head, self.aux = nn.Linear(16, 3), nn.Linear(16, 3)

        def forward(self, x):
            h = self.body(x)
            return (self.head(h), self.aux(h)) if self.training else self.head(h)

    def loss(model, batch):
        x, y = batch
        out = model(x)
        if isinstance(out, tuple):
            return F.cross_entropy(out[0], y) + 0.3 * F.cross_entropy(out[1], y), out[0]
        return F.cross_entropy(out, y), out

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(100, 6, generator=g) * 3 + 1, torch.randint(0, 3, (100,), generator=g)
    task = Task.from_loaders(Aux, DataLoader(TensorDataset(x, y), batch_size=40),
                             DataLoader(TensorDataset(x, y), batch_size=40),
                             loss=model_loss(loss), epochs=1)
    model = task.init_model(0).eval()
    reference = copy.deepcopy(model).train()
    with torch.no_grad():
        want = sum(float(loss(reference, (x[i:i + 40], y[i:i + 40]))[0]) * len(y[i:i + 40])
                   for i in range(0, 100, 40)) / 100
        plain = float(F.cross_entropy(model(x), y))
    state = copy.deepcopy(model.state_dict())
    got = mean_loss(model, task, task.train, training=True)
    assert got == pytest.approx(want, rel=1e-6) and got > 1.05 * plain
    assert not model.training
    for name, value in model.state_dict().items():  # running statistics put back
        assert torch.equal(value, state[name]), name
    assert not torch.equal(reference.body[1].running_mean, state["body.1.running_mean"])
    assert mean_loss(model, task, task.train) == pytest.approx(plain, rel=1e-6)
    dropout = _dropout_task()
    net = dropout.init_model(0)
    once = mean_loss(net, dropout, dropout.train, seed=3, training=True)
    assert once == mean_loss(net, dropout, dropout.train, seed=3, training=True)
    assert once != mean_loss(net, dropout, dropout.train, seed=3)
