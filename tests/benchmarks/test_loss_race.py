"""``benchmarks/loss_race.py``: the race read against the full training, by a loss (percent
excess) or, with ``--metric accuracy``, by an accuracy (points below the grid's best)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def lr_race(bench_import):
    return bench_import("loss_race")


def _record(metric: str | None, val: dict) -> dict:
    r = {"name": "t", "optimizer": "momentum", "seed": 0, "pick": 0.1, "raced": [0.1, 0.3],
         "grid": [0.03, 0.1, 0.3], "h": 2, "epochs": 3, "val": val,
         "train": {lr: np.array([1.0, 0.9, 0.8]) for lr in val}}
    return r | ({"metric": metric} if metric else {})


def test_an_accuracy_race_is_read_in_points_below_the_grids_best(lr_race, capsys):
    """0.03 ends best (0.9) though 0.3 led the two-epoch race (0.7): the pick 0.1 ends 10
    points below it, 0.3 20; a loss record read as before (percent excess of the lowest)."""
    val = {0.03: np.array([0.3, 0.5, 0.9]), 0.1: np.array([0.4, 0.6, 0.8]),
           0.3: np.array([0.5, 0.7, 0.5])}
    lr_race.show(_record("accuracy", val))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("t momentum seed 0: auto 0.1 (+10.0 points), grid best 0.03 (0.9), "
                      "race 2 of 3 epochs")
    assert out[3].split() == ["R", "0.3", "race:", "best", "0.7,", "last", "rise", "+0.2,",
                              "train", "0.9", "|", "full:", "best", "0.7", "(+20.0", "points)",
                              "at", "epoch", "2"]
    assert lr_race._best(np.array([0.2, np.nan, 0.6]), "accuracy") == 0.6
    assert lr_race._best(np.array([np.nan]), "accuracy") == 0.0
    loss = {0.03: np.array([2.0, 1.5, 1.0]), 0.1: np.array([2.0, 1.4, 1.25]),
            0.3: np.array([1.8, 1.2, 2.0])}
    lr_race.show(_record(None, loss))
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "t momentum seed 0: auto 0.1 (+25.0%), grid best 0.03 (1), race 2 of 3 epochs"
