"""Reduce-on-plateau in a sweep: the trainer drives it with each epoch's validation metric."""

from __future__ import annotations

import pytest
import torch

import lrlab
from lrlab.cli import main


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
    ("plateau:monitor=nope", "monitor must be a validation metric"),
    ("plateau:patience=x", "patience must be a whole number"),
    ("plateau:zz=1", "is not one of plateau's keys"),
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
