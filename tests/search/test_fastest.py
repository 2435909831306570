"""Tests for Wilson & Martinez' fastest-rate procedure (lrlab.search._fastest)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from lrlab._errors import LrlabError
from lrlab.search._common import rate
from lrlab.search._fastest import (
    Walk,
    early_stop,
    fastest,
    fastest_of,
    holdout_stops,
    phase1_sse,
    slower_rates,
    walk_slower,
)
from lrlab.tasks import Split, Task

LRS = [100.0, 1.0, 0.01, 1e-4]  # on blobs: 100 diverges, 1 has the lowest epoch-1 SSE


@pytest.fixture(scope="module")
def sequential(blobs):
    """One phase-2 rate per population: the procedure exactly as the paper runs it."""
    return fastest(blobs, lrs=LRS, max_epochs=8, patience=2, parallel=1)


@pytest.fixture(scope="module")
def batched(blobs):
    """Three phase-2 rates per population, with a confirmation on all the data."""
    return fastest(blobs, lrs=LRS, max_epochs=8, patience=2, parallel=3, subset=250,
                   confirm=True, epochs=3)


def records(rows: list[tuple[int, int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])


def members(lrs: list[float], diverged: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"member": range(len(lrs)), "lr": lrs, "diverged": diverged})


# --- the decisions, on hand-made records ----------------------------------------------------


def test_phase1_scores_the_epoch1_train_sse_and_diverged_count_worst() -> None:
    table = records([
        (0, 1, "train", "sse", 1.0),      # lowest SSE, but the member diverged
        (1, 1, "train", "sse", 50.0),
        (2, 1, "train", "sse", 30.0),
        (3, 1, "train", "sse", 40.0),
        (2, 1, "val", "sse", 99.0),       # validation SSE: not the score
        (3, 2, "train", "sse", 1.0),      # epoch 2: not the score
        (3, 1, "train", "loss", 0.1),
    ])
    scores = phase1_sse(table, members([10.0, 1.0, 0.1, 0.01], [True, False, False, False]))
    assert scores["lr"].tolist() == [10.0, 1.0, 0.1, 0.01]
    assert scores["sse"].tolist() == [1.0, 50.0, 30.0, 40.0]
    assert scores["score"].tolist() == [math.inf, 50.0, 30.0, 40.0]
    assert fastest_of(scores) == 0.1


def test_phase1_nan_sse_is_worst_and_all_diverged_raises() -> None:
    table = records([(0, 1, "train", "sse", math.nan), (1, 1, "train", "sse", 5.0)])
    assert fastest_of(phase1_sse(table, members([1.0, 0.1], [False, False]))) == 0.1
    with pytest.raises(LrlabError, match="every phase-1 rate diverged"):
        fastest_of(phase1_sse(table, members([1.0, 0.1], [True, True])))


@pytest.mark.parametrize(("curve", "patience", "expected"), [
    ([0.5, 0.7, 0.7, 0.6, 0.8], 2, (2, 0.7, 4)),        # plateau then fall: stop
    ([0.5, 0.6, 0.7, 0.8], 2, (4, 0.8, 4)),             # still rising: ran out
    ([0.5, 0.7, 0.6, 0.9, 0.8, 0.7], 2, (4, 0.9, 6)),   # one dip is within patience
    ([0.9, 0.5, 0.5, 0.5], 1, (1, 0.9, 2)),
    ([math.nan, 0.4, 0.3], 5, (2, 0.4, 3)),             # NaN never improves
])
def test_early_stop(curve, patience, expected) -> None:
    assert early_stop(curve, patience) == expected


def test_early_stop_without_a_finite_accuracy() -> None:
    best_epoch, best, stopped = early_stop([math.nan, math.nan], 1)
    assert best_epoch is None and math.isnan(best) and stopped == 1


def test_holdout_stops_reads_each_member_val_accuracy() -> None:
    rows = [(0, e, "val", "accuracy", v) for e, v in enumerate([0.5, 0.8, 0.7, 0.6], 1)]
    rows += [(1, e, "val", "accuracy", v) for e, v in enumerate([0.4, 0.6, 0.9, 0.95], 1)]
    rows += [(1, 1, "train", "accuracy", 1.0)]
    table = holdout_stops(records(rows), members([0.1, 0.01], [False, False]), patience=2)
    assert table["best_epoch"].tolist() == [2, 4]
    assert table["best_accuracy"].tolist() == [0.8, 0.95]
    assert table["stopped_epoch"].tolist() == [4, 4]


@pytest.mark.parametrize(("best", "walk"), [
    ([0.80, 0.85, 0.84, 0.90], Walk(1, 3, True)),   # 0.84 does not improve: keep 0.85
    ([0.80, 0.80], Walk(0, 2, True)),               # equal is no improvement
    ([0.70, 0.80, 0.90], Walk(2, 3, False)),        # ran out while still improving
    ([math.nan, 0.5, 0.4], Walk(1, 3, True)),
    ([0.9], Walk(0, 1, False)),
])
def test_walk_slower(best, walk) -> None:
    assert walk_slower(best) == walk


def test_slower_rates() -> None:
    assert slower_rates(0.1, 10 ** -0.5, 1e-3) == [0.1, 0.0316, 0.01, 0.00316, 0.001]
    assert slower_rates(1.0, 0.5, 0.2) == [1.0, 0.5, 0.25]
    assert slower_rates(1e-5, 0.5, 1e-5) == [1e-5]


# --- the procedure on blobs ----------------------------------------------------------------


def test_phase1_trains_one_epoch_from_shared_weights_and_drops_larger_rates(sequential) -> None:
    phase1 = sequential.evidence[0]
    assert phase1.members["lr"].tolist() == LRS
    assert phase1.config["epochs"] == 1 and phase1.config["seeds"] is None
    recorded = phase1.records.query("split == 'train' and metric == 'sse' and epoch == 1")
    assert sorted(sequential.sse["sse"]) == sorted(recorded["value"])
    assert sequential.sse.set_index("lr").loc[100.0, "diverged"]
    alive = sequential.sse[~sequential.sse["diverged"]]
    assert sequential.fastest_lr == alive.loc[alive["sse"].idxmin(), "lr"] == 1.0
    status = dict(zip(sequential.sse["lr"], sequential.sse["status"]))
    assert status == {100.0: "dropped (larger, diverged)", 1.0: "fastest", 0.01: "slower",
                      1e-4: "slower"}
    assert "Dropped as larger: 100 (100 diverged)" in sequential.explanation


def test_phase2_walks_slower_by_factor_and_stops_when_accuracy_stops_improving(
        sequential) -> None:
    table = sequential.phase2
    assert table["lr"].tolist() == slower_rates(1.0, 10 ** -0.5, 1e-4)[:len(table)]
    walk = walk_slower(table["best_accuracy"].tolist())
    assert sequential.lr == table.iloc[walk.chosen]["lr"]
    assert sequential.stop_epoch == table.iloc[walk.chosen]["best_epoch"]
    assert len(table) == walk.trained and table["walked"].all()  # one at a time: no extra
    for i, population in enumerate(sequential.evidence[1:]):
        again = holdout_stops(population.records, population.members, patience=2)
        assert again["best_accuracy"].tolist() == [table.iloc[i]["best_accuracy"]]
        assert population.config["epochs"] == 8
    assert walk.stopped  # on blobs 0.0316 falls short of 0.1 and the walk ends there
    assert not table.iloc[-1]["best_accuracy"] > table.iloc[-2]["best_accuracy"]


def test_compute_counts_every_member_epoch(sequential) -> None:
    assert sequential.compute == 4 * 1 + len(sequential.phase2) * 8


def test_batched_phase2_gives_the_sequential_verdict(sequential, batched, blobs) -> None:
    alone = fastest(blobs, lrs=LRS, max_epochs=8, patience=2, parallel=3)
    assert (alone.lr, alone.stop_epoch) == (sequential.lr, sequential.stop_epoch)
    walked = alone.phase2[alone.phase2["walked"]]
    pd.testing.assert_series_equal(walked["best_epoch"], sequential.phase2["best_epoch"],
                                   check_names=False)
    assert alone.compute == 4 + sum(len(p.members) for p in alone.evidence[1:]) * 8


def test_subset_and_confirm(batched) -> None:
    assert all(p.task == "blobs[250]" for p in batched.evidence)
    confirmation = batched.confirmation
    assert confirmation is not None and confirmation.task == "blobs"
    assert confirmation.members["lr"].tolist() == [batched.lr]
    assert int(confirmation.records["epoch"].max()) == 3
    assert batched.compute == pytest.approx(
        (4 + sum(len(p.members) for p in batched.evidence[1:]) * 8) * 0.5)


def test_explanation_and_verdict_name_the_rate_and_epoch(sequential) -> None:
    text = sequential.explanation
    assert f"lr={rate(sequential.lr)}, stop at epoch {sequential.stop_epoch}" in text
    assert sequential.verdict().startswith(
        f"fastest: lr={rate(sequential.lr)}, stop at epoch {sequential.stop_epoch} ")


# --- bad input -----------------------------------------------------------------------------


def regression() -> Task:
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))
    y = x.sum(1)
    return Task(name="reg", train=Split(x[:30], y[:30]), val=Split(x[30:], y[30:]),
                model=lambda: nn.Linear(2, 1), num_classes=None, batch_size=10,
                loss=lambda out, t: (out.squeeze(-1) - t).square(), monitor="loss")


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"lrs": []}, "empty"),
    ({"lrs": [1.0, 0.0]}, "positive"),
    ({"factor": 1.0}, "factor"),
    ({"factor": 0.0}, "factor"),
    ({"factor": 2.0}, "factor"),
    ({"patience": 0}, "patience"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"parallel": 0}, "parallel"),
    ({"lr_mults": [{}]}, "lr_mults"),
])
def test_bad_input_is_one_line(blobs, kwargs, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        fastest(blobs, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_regression_task_stops_by_holdout_loss() -> None:
    result = fastest(regression(), lrs=[1.0, 0.1, 0.01], max_epochs=6, patience=2)
    assert "best_loss" in result.phase2 and "best_accuracy" not in result.phase2
    assert not result.sse["sse"].isna().all()  # phase 1's SSE is the summed squared error
    for _, row in result.phase2.iterrows():   # each stop read off its own loss curve
        population = result.evidence[int(row["population"])]
        member = population.members.index[population.members["lr"] == row["lr"]][0]
        loss = population.curve("loss", "val").iloc[:, member].to_numpy()
        epoch, best, _ = early_stop(list(-loss), 2)
        assert row["best_epoch"] == epoch and row["best_loss"] == pytest.approx(-best)
    walk = walk_slower(result.phase2["best_loss"].tolist(), higher_is_better=False)
    assert result.lr == result.phase2.iloc[walk.chosen]["lr"]
    assert "validation loss" in result.verdict() and result.confidence is not None
    assert assess_ok(result)


def assess_ok(result) -> bool:
    c = result.confidence
    return math.isfinite(c.noise) and c.chance > 0


def test_the_verdict_reads_the_baselines_noise_as_every_search_does(monkeypatch, blobs) -> None:
    """fastest's verdict allows the noise the baseline gives (Baseline.noise: its score_n,
    a share's binomial on the balanced examples for a task's own metric), as grid and auto
    do; before, it read n, the examples, whatever the baseline said. A baseline whose score
    counts half an example makes every score noise: no rate learned."""
    import lrlab.search._fastest as module
    from lrlab.search._confidence import Baseline, baseline

    real = baseline(blobs, 0)
    noisy = Baseline(real.untrained, real.chance, real.n, binomial=True, balanced=0.5)
    assert noisy.noise(real.chance, "accuracy") > 10 * real.noise(real.chance, "accuracy")
    plain = fastest(blobs, lrs=LRS, max_epochs=3, patience=2)
    monkeypatch.setattr(module, "baseline", lambda task, seed: noisy)
    told = fastest(blobs, lrs=LRS, max_epochs=3, patience=2)
    assert "no_rate_learned" not in plain.confidence.kinds
    assert "no_rate_learned" in told.confidence.kinds
    picked = told.phase2.loc[told.phase2["lr"] == told.lr, "best_accuracy"].iloc[0]
    assert told.confidence.noise == pytest.approx(noisy.noise(picked, "accuracy"))
