"""Which rate is best with several seeds: the mean over seeds per rate, never one lucky
seed; the rows built by hand, the means computed by hand in float64."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from helpers import made_run

from lrlab.train import rank, setting_labels

# rate 0.1 is steady (mean 0.90); rate 1.0 has one lucky seed (0.95) that beats every seed
# of 0.1, but its mean is 0.79
STEADY = [0.90, 0.91, 0.89]
LUCKY = [0.95, 0.70, 0.72]
FINALS = ([(1.0, s, "c", v) for s, v in enumerate(LUCKY)]
          + [(0.1, s, "c", v) for s, v in enumerate(STEADY)])


def summary(best: list[float], loss: list[float] | None = None) -> pd.DataFrame:
    """Two rates x three seeds, rate 1.0 first, as a summary with its settings."""
    n = len(best)
    labels = [f"lr={lr:g} seed={k % 3}" for k, lr in enumerate([1.0] * 3 + [0.1] * 3)][:n]
    return pd.DataFrame({"member": range(n), "label": labels,
                         "setting": [label.split()[0] for label in labels],
                         "best_val_auc": best, "final_val_loss": loss or [1.0] * n})


def test_the_mean_over_seeds_beats_one_lucky_seed() -> None:
    table = rank(summary(LUCKY + STEADY), "auc", True)
    assert table["label"].tolist() == ["lr=0.1 seed=1", "lr=0.1 seed=0", "lr=0.1 seed=2",
                                       "lr=1 seed=0", "lr=1 seed=2", "lr=1 seed=1"]
    assert table["mean_best_val_auc"].tolist() == pytest.approx(
        [sum(STEADY) / 3] * 3 + [sum(LUCKY) / 3] * 3, abs=1e-15)
    assert table["seeds"].tolist() == [3] * 6


def test_lower_is_better_and_the_mean_final_loss_breaks_ties() -> None:
    """Loss: 1.0's seeds (0.2, 0.6, 0.7) hold the lowest, 0.1's (0.4, 0.45, 0.5) the lower
    mean; two settings with equal means go by their mean final validation loss."""
    table = rank(summary([0.2, 0.6, 0.7, 0.4, 0.45, 0.5]).rename(
        columns={"best_val_auc": "best_val_loss"}), "loss", False)
    assert table["setting"].tolist() == ["lr=0.1"] * 3 + ["lr=1"] * 3
    assert table["label"].iloc[0] == "lr=0.1 seed=0"
    tied = rank(summary([0.5, 0.75, 0.25, 0.5, 0.5, 0.5], [2.0, 2.0, 2.0, 1.0, 1.5, 0.5]),
                "auc", True)
    assert tied["setting"].tolist() == ["lr=0.1"] * 3 + ["lr=1"] * 3


def test_a_seed_without_a_score_puts_its_rate_after_the_scored_ones() -> None:
    """A seed that diverged at once has no best: its rate's mean is not a mean of the
    others (two lucky seeds of three would win), so the rate comes last."""
    table = rank(summary([0.99, 0.98, math.nan, 0.5, 0.5, 0.5]), "auc", True)
    assert table["setting"].tolist() == ["lr=0.1"] * 3 + ["lr=1"] * 3
    assert math.isnan(table["mean_best_val_auc"].iloc[-1])


def test_one_seed_per_rate_ranks_members_as_before() -> None:
    table = summary([0.5, 0.9, 0.7]).assign(setting=["a", "b", "c"])
    assert rank(table, "auc", True)["setting"].tolist() == ["b", "c", "a"]
    no_settings = table.drop(columns="setting")
    assert rank(no_settings, "auc", True)["member"].tolist() == [1, 2, 0]


def test_a_run_names_the_rate_with_the_best_mean() -> None:
    """ranked(), best() and the verdict of a run; the per-member summary is untouched."""
    run = made_run(FINALS)
    assert setting_labels(run.members).tolist() == ["lr=1 c"] * 3 + ["lr=0.1 c"] * 3
    best = run.best()
    assert (best["setting"], best["label"], best["lr"]) == ("lr=0.1 c", "lr=0.1 c seed=1", 0.1)
    assert best["mean_best_val_auc"] == pytest.approx(sum(STEADY) / 3, abs=1e-7)  # float32
    assert run.ranked()["setting"].tolist() == ["lr=0.1 c"] * 3 + ["lr=1 c"] * 3
    assert run.summary()["label"].tolist() == run.members["label"].tolist()
    assert run.verdict().startswith(
        "best: lr=0.1 c (validation auc 0.9000, mean over 3 seeds of their best; best seed "
        "lr=0.1 c seed=1: 0.9100 at epoch 1 of 1)")


def test_a_run_with_one_seed_per_rate_keeps_the_summary_columns() -> None:
    run = made_run([(1.0, 0, "c", 0.6), (0.1, 0, "c", 0.9)])
    assert run.ranked().columns.tolist() == run.summary().columns.tolist()
    assert run.ranked()["lr"].tolist() == [0.1, 1.0]
    assert run.verdict().startswith("best: lr=0.1 c seed=0 (validation auc 0.9000 at epoch 1")


def test_when_no_rate_has_a_mean_the_best_scored_seed_leads() -> None:
    """Every rate has a seed that never scored: none has a mean, so the rates go by their
    best seed (not by grid order), and the best is a scored member."""
    table = rank(summary([math.nan, 0.6, 0.7, 0.9, math.nan, 0.5]), "auc", True)
    assert table["setting"].tolist() == ["lr=0.1"] * 3 + ["lr=1"] * 3
    assert table["label"].iloc[0] == "lr=0.1 seed=0"
    low = rank(summary([math.nan, 0.2, 0.7, 0.4, math.nan, 0.5]).rename(
        columns={"best_val_auc": "best_val_loss"}), "loss", False)
    assert low["label"].iloc[0] == "lr=1 seed=1"


def test_the_verdict_of_a_rate_without_a_mean_names_its_seed() -> None:
    run = made_run([(1.0, 0, "c", math.nan), (1.0, 1, "c", 0.6),
                    (0.1, 0, "c", 0.9), (0.1, 1, "c", math.nan)], diverged=(0, 3))
    assert run.best()["label"] == "lr=0.1 c seed=0"
    verdict = run.verdict()
    assert verdict.startswith("best: lr=0.1 c seed=0 (validation auc 0.9000 at epoch 1")
    assert "nan" not in verdict


def test_a_run_prints_as_one_line_naming_the_rate_the_verdict_names() -> None:
    """A bare result in a REPL: the rate best by its mean over seeds (0.1 at 0.90, not the
    lucky seed of 1.0 at 0.95), the members that diverged, no tables."""
    assert repr(made_run(FINALS, diverged=(0,))) == (
        "SweepResult(task='made', optimizer='sgd', members=6, epochs=1, diverged=1, "
        "best_lr=0.1, auc=0.9)")
    assert repr(made_run([(1.0, 0, "c", 0.6)], diverged=(0,))) == (
        "SweepResult(task='made', optimizer='sgd', members=1, epochs=1, diverged=1)")
    no_mean = made_run([(1.0, 0, "c", math.nan), (1.0, 1, "c", 0.6)])
    assert repr(no_mean).endswith("best_lr=1, auc=0.6)")
