"""Batch size and the rate: the refined optimum, the fitted exponent, the claim, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lrlab import LrlabError
from lrlab.studies import ScalingResult, optimum, scaling
from lrlab.tasks import get_task
from lrlab.train import SweepResult

LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def test_optimum_is_the_parabolas_vertex() -> None:
    """A curve quadratic in log10(lr) peaking at 0.05: the vertex is 0.05 exactly."""
    peak = math.log10(0.05)
    values = [1 - (math.log10(lr) - peak) ** 2 for lr in LRS]
    best, refined = optimum(LRS, values, higher=True)
    assert best == 0.03 and refined == pytest.approx(0.05, rel=1e-9)
    best, refined = optimum(LRS, [-v for v in values], higher=False)
    assert refined == pytest.approx(0.05, rel=1e-9)
    assert optimum(LRS, values[:5] + [math.nan, 0.0], True)[1] == pytest.approx(0.05)
    assert optimum([0.1, 1.0], [0.5, 0.9], True) == (1.0, 1.0)  # at the edge: not refined


def _made(power: float, optimizer: str) -> ScalingResult:
    """Populations whose final accuracy peaks at 0.01 * (B / 32)^power, per batch size."""
    runs = {}
    for b in (32, 64, 128, 256):
        peak = math.log10(0.01 * (b / 32) ** power)
        rows, members = [], []
        for k, lr in enumerate(LRS):
            v = 0.9 - 0.1 * (math.log10(lr) - peak) ** 2
            rows += [(k, 1, "val", "accuracy", v), (k, 1, "val", "loss", 1 - v),
                     (k, 1, "train", "loss", 1.0)]
            members.append({"member": k, "label": f"lr={lr:g}", "lr": lr,
                            "optimizer": optimizer, "seed": 0, "diverged": False,
                            "diverged_epoch": pd.NA})
        runs[b] = SweepResult("made", "accuracy", True, {"optimizer": optimizer},
                              pd.DataFrame(rows, columns=["member", "epoch", "split", "metric",
                                                          "value"]),
                              pd.DataFrame(members).astype({"diverged_epoch": "Int64"}))
    return ScalingResult(runs, optimizer)


@pytest.mark.parametrize("power, optimizer, verdict", [
    (1.0, "sgd", "holds"), (0.5, "adam", "holds"), (0.5, "sgd", "does not hold"),
    (0.8, "sgd", "holds"), (0.7, "adam", "holds"), (0.15, "adam", "partly"),
    (1.4, "sgd", "partly"), (-0.2, "adam", "does not hold"),
])
def test_exponent_and_claim_follow_the_records(power, optimizer, verdict) -> None:
    result = _made(power, optimizer)
    k, intercept = result.exponent()
    assert k == pytest.approx(power, abs=1e-9)
    assert intercept == pytest.approx(math.log10(0.01) - power * math.log10(32), abs=1e-9)
    assert np.allclose(result.table()["optimum"], [0.01 * 2**(power * i) for i in range(4)])
    assert result.claims()[0].verdict == verdict


def test_a_best_rate_at_an_edge_of_the_rates_warns() -> None:
    """Optima at 0.01 * (B / 32)^1.5: batch 256's, 0.23, is inside; at power 3 batch 128's
    (0.64, nearer 1 than 0.3 in log-rate) and 256's (5.1) are best at the highest rate swept,
    1, which the exponent then reads."""
    assert _made(1.5, "sgd").warnings == []
    assert _made(3.0, "sgd").warnings == [
        ("the best rate of batch 128 and batch 256 is the highest swept, 1: their optima may "
        "lie above it, and the claims read them as 1; sweep rates above 1 too")]


def test_a_small_run_saves_loads_and_reports(tmp_path) -> None:
    with pytest.warns(UserWarning, match="^lrlab: the best rate of batch 128 is the highest "
                      "swept, 1: "):  # the study's own warning, also on its page
        r = scaling(get_task("blobs"), batch_sizes=[64, 128], lrs=[1, 0.3, 0.1], epochs=1)
    r.save(tmp_path / "s")
    back = ScalingResult.load(tmp_path / "s")
    assert back.verdict() == r.verdict() and sorted(back.runs) == [64, 128]
    page = r.write_report(tmp_path / "s.html").read_text()
    assert "per batch size" in page and "the best rate of batch 128 is the highest" in page


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_sizes": [64]}, "two or more distinct batch sizes"),
    ({"batch_sizes": [64, 64]}, "two or more distinct batch sizes"),
    ({"batch_sizes": [64, 5000]}, ("^batch size 5000 is more than the 500 training examples; "
                                  "lower it$")),
    ({"batch_sizes": [0, 32]}, "^batch size 0 must be at least 1$"),  # was: "...; lower it"
    ({"lrs": [1, 0.1]}, "three or more rates"),
    ({"batch_size": 32}, "sets batch_size itself"),
    ({"optimizer": "nope"}, "unknown update rule"),
])
def test_bad_input_is_one_line(kwargs, words) -> None:
    settings = {"batch_sizes": [32, 64], "lrs": [1, 0.3, 0.1], "epochs": 1, **kwargs}
    with pytest.raises(LrlabError, match=words) as err:
        scaling(get_task("blobs"), **settings)
    assert "\n" not in str(err.value)


def test_a_loader_task_counts_its_examples_not_its_batches() -> None:
    """A DataLoader's len is its batches (4 of 16 here): batch size 32 of 64 examples was
    refused as 'not in 1..4 (the training examples)'; each population now trains at its
    batch size (the loader rebuilt at it), and 100 is refused against the 64 examples."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab import Task

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] > 0).long()
    data = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    task = Task.from_loaders(lambda: torch.nn.Linear(4, 2), data, DataLoader(TensorDataset(x, y)),
                             loss=torch.nn.CrossEntropyLoss(), epochs=1)
    with pytest.warns(UserWarning, match="highest swept"):  # one epoch of a linear model
        r = scaling(task, batch_sizes=[8, 32], lrs=[1, 0.3, 0.1], epochs=1)
    assert {b: run.config["batch_size"] for b, run in r.runs.items()} == {8: 8, 32: 32}
    with pytest.raises(LrlabError, match=r"batch size 100 is more than the 64 training "):
        scaling(task, batch_sizes=[8, 100], lrs=[1, 0.3, 0.1], epochs=1)
