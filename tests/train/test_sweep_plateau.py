"""Reduce-on-plateau in a sweep: the trainer drives it with each epoch's validation metric."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import lrlab
from lrlab.cli import main
from lrlab.tasks import Split, Task, member_loss


def _torch_rates(metrics: list[float], *, lr: float, mode: str, **options) -> list[float]:
    """The rate torch's ReduceLROnPlateau gives each epoch when fed the same metrics."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, **options)
    rates = []
    for m in metrics:
        rates.append(opt.param_groups[0]["lr"])
        sched.step(m)
    return rates


@pytest.mark.parametrize("monitor, mode", [("loss", "min"), ("accuracy", "max")])
def test_plateau_member_follows_torch_on_its_own_validation_metric(monitor, mode):
    """Each epoch's recorded rate is what torch's ReduceLROnPlateau gives for the same
    sequence of validation values (the member's own), for a falling and a rising metric."""
    spec = f"plateau:factor=0.5,patience=1,monitor={monitor}"
    result = lrlab.sweep("digits", lrs=[0.5, 0.2], schedules=[spec], epochs=12,
                         dtype="float64")
    for k in range(2):
        metric = result.curve(monitor, "val").iloc[:, k].tolist()
        recorded = result.curve("lr", "train").iloc[:, k].tolist()
        expected = _torch_rates(metric, lr=[0.5, 0.2][k], mode=mode, factor=0.5, patience=1)
        assert recorded == pytest.approx(expected, rel=1e-12)
    assert min(result.curve("lr", "train").iloc[:, 0]) < 0.5  # it did cut at least once


def test_plateau_and_constant_members_train_side_by_side():
    """A constant member in the same population is untouched by its neighbour's cuts."""
    both = lrlab.sweep("digits", lrs=[0.5], schedules=["constant", "plateau:patience=0"],
                       epochs=4, dtype="float64")
    alone = lrlab.sweep("digits", lrs=[0.5], epochs=4, dtype="float64")
    a = both.records[both.records["member"] == 0].drop(columns="member")
    b = alone.records.drop(columns="member")
    keep = a["metric"] != "time"
    assert a[keep]["value"].to_numpy() == pytest.approx(b[b["metric"] != "time"]["value"]
                                                        .to_numpy(), rel=1e-12)


@pytest.mark.parametrize("spec, words", [
    ("plateau:factor=2", "factor must be < 1"),
    ("plateau:monitor=nope", ("monitor 'nope' is not recorded for this task; choose one of: "
                              "accuracy, auc, error, loss, sse")),
    ("plateau:monitor=a-b", "monitor must be a metric's name"),
    ("plateau:mode=up", "mode must be one of auto, min, max"),
    ("plateau:patience=x", "patience must be a whole number"),
    ("plateau:zz=1", "schedule 'plateau:zz=1' has no key 'zz'; plateau's keys: factor"),
])
def test_bad_plateau_specs_are_one_line_errors(spec, words, capsys):
    """Bad plateau options: exit 2 from the CLI with one line, the same text from Python."""
    with pytest.raises(lrlab.LrlabError) as err:
        lrlab.sweep("blobs", lrs=[0.1], schedules=[spec], epochs=1)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert main(["sweep", "blobs", "--lrs", "0.1", "--schedule", spec, "--epochs", "1",
                 "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {err.value}"]


def _mae(outputs, targets):
    return (outputs - targets).abs().squeeze(-1)


def _closeness(outputs, targets):  # higher is better, by its name
    return -_mae(outputs, targets)


def _regression(*, loader: bool, **metrics) -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(90, 4, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.3 * torch.randn(90, generator=g))[:, None]
    model = lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    if loader:
        return Task.from_loaders(model, TensorDataset(x[:60], y[:60]),
                                 TensorDataset(x[60:], y[60:]), loss=nn.MSELoss(),
                                 batch_size=10, metrics=metrics)
    return Task(name="reg", train=Split(x[:60], y[:60]), val=Split(x[60:], y[60:]),
                model=model, num_classes=None, monitor="loss", batch_size=10,
                loss=member_loss(nn.MSELoss(reduction="none")), metrics=metrics)


@pytest.mark.parametrize("loader", [False, True])
@pytest.mark.parametrize("spec, metric, mode", [
    ("plateau:factor=0.5,patience=0,monitor=mae", "mae", "min"),           # by its name
    ("plateau:factor=0.5,patience=0,monitor=closeness", "closeness", "max"),
    ("plateau:factor=0.5,patience=0,monitor=closeness,mode=min", "closeness", "min"),
])
def test_plateau_follows_a_tasks_own_metric(loader, spec, metric, mode):
    """A task's own validation metric drives the plateau as torch's ReduceLROnPlateau in the
    metric's direction (from its name, or mode=), on tensors and on a Dataset alike."""
    task = _regression(loader=loader, mae=_mae, closeness=_closeness)
    result = lrlab.sweep(task, lrs=[0.3, 0.1], schedules=[spec], epochs=6, dtype="float64")
    for k, lr in enumerate([0.3, 0.1]):
        values = result.curve(metric, "val").iloc[:, k].tolist()
        recorded = result.curve("lr", "train").iloc[:, k].tolist()
        expected = _torch_rates(values, lr=lr, mode=mode, factor=0.5, patience=0)
        assert recorded == pytest.approx(expected, rel=1e-12)
    assert (result.curve("lr", "train").to_numpy() < [0.3, 0.1]).any()  # it did cut


def test_a_tensor_tasks_own_metrics_are_recorded_as_a_loaders_are():
    """metrics= on a task of tensors: recorded per member, as the same data in a Dataset
    records them (they were ignored, and a monitor naming one refused)."""
    split = lrlab.sweep(_regression(loader=False, mae=_mae).replace(monitor="mae"),
                        lrs=[0.3, 0.1], epochs=2, dtype="float64")
    data = lrlab.sweep(_regression(loader=True, mae=_mae), lrs=[0.3, 0.1], epochs=2,
                       dtype="float64")
    assert split.monitor == "mae"
    got, want = split.curve("mae", "val").to_numpy(), data.curve("mae", "val").to_numpy()
    assert got == pytest.approx(want, rel=1e-12)
    by_hand = lrlab.sweep(_regression(loader=False), lrs=[0.3, 0.1], epochs=2, dtype="float64")
    assert split.curve("loss", "val").to_numpy() == pytest.approx(
        by_hand.curve("loss", "val").to_numpy(), rel=1e-12)  # the metric changes no training
