"""Tests for start-large-and-halve (lrlab.search._halving)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lrlab._errors import LrlabError
from lrlab.schedules import parse_schedule
from lrlab.search._common import rate
from lrlab.search._halving import halving, halving_table, halvings, subset_losses
from lrlab.tasks import get_task


@pytest.fixture(scope="module")
def big_start(blobs):
    """From 1e3 down to ~1e-3 on 10% of blobs (50 examples, batch 50), 10 steps."""
    return halving(blobs, start=1e3, min_lr=1e-3, iterations=10, epochs=20, confirm=True)


# --- pure pieces ---------------------------------------------------------------------------


def test_halvings() -> None:
    assert halvings(1.0, 0.1) == [1.0, 0.5, 0.25, 0.125]
    assert halvings(1.0, 0.125) == [1.0, 0.5, 0.25, 0.125]
    assert len(halvings(10.0, 1e-7)) == 27


def test_halving_table_on_hand_made_values() -> None:
    members = pd.DataFrame({"member": [0, 1, 2, 3, 4], "lr": [0.5, 8.0, 4.0, 2.0, 1.0],
                            "diverged": [False, True, False, False, False]})
    table = halving_table(members, 2.0, [1.0, math.nan, 2.5, 2.0, 1.5])
    assert table["lr"].tolist() == [8.0, 4.0, 2.0, 1.0, 0.5]
    assert table["frozen"].tolist() == [True, False, False, False, False]
    # frozen; went up; did not go down (equal); down; down
    assert table["diverged"].tolist() == [True, True, True, False, False]
    assert (table["start_loss"] == 2.0).all()
    # falls 1.0 (the largest), -0.5, 0, 0.5: shares of it
    np.testing.assert_allclose(table["progress"].tolist(), [np.nan, -0.5, 0.0, 0.5, 1.0])


def test_a_rate_that_barely_moves_the_loss_counts_as_diverging() -> None:
    """Digits at lr 2.5 took the loss from 2.34 to 2.325 while 0.3 took it to 0.4: a bounce
    at the edge of divergence, not training."""
    members = pd.DataFrame({"member": [0, 1, 2], "lr": [2.5, 1.25, 0.3],
                            "diverged": [False, False, False]})
    table = halving_table(members, 2.34, [2.325, 1.1, 0.4])
    assert table["diverged"].tolist() == [True, False, False]  # 1.25: 1.24 of 1.94 >= half
    lenient = halving_table(members, 2.34, [2.325, 1.1, 0.4], progress=0.0)
    assert lenient["diverged"].tolist() == [False, False, False]
    strict = halving_table(members, 2.34, [2.325, 1.1, 0.4], progress=0.9)
    assert strict["diverged"].tolist() == [True, True, False]


def test_a_slow_rate_below_the_best_is_not_diverged() -> None:
    members = pd.DataFrame({"member": [0, 1, 2], "lr": [1.0, 0.5, 1e-4],
                            "diverged": [False, False, False]})
    table = halving_table(members, 2.3, [2.2, 0.5, 2.29])
    assert table["diverged"].tolist() == [True, False, False]  # 1e-4: slow, still falling


# --- the procedure on blobs ----------------------------------------------------------------


def test_all_halvings_train_as_one_population(big_start) -> None:
    (population,) = big_start.evidence
    assert population.members["lr"].tolist() == halvings(1e3, 1e-3)
    assert population.config["seeds"] is None  # same weights and order for every rate
    assert big_start.examples == 50 and population.task == "blobs[50]"
    assert big_start.steps == 10 and population.config["epochs"] == 10  # 1 step per epoch


def test_picks_the_largest_rate_that_does_not_diverge(big_start) -> None:
    table = big_start.rates
    assert table.iloc[0]["frozen"]  # 1e3 blows up on blobs
    alive = table[~table["diverged"]]
    assert big_start.lr == alive["lr"].max()
    assert table[table["lr"] > big_start.lr]["diverged"].all()
    assert big_start.lr < 1e3
    frozen = big_start.evidence[0].members.set_index("lr")["diverged"]
    assert table.set_index("lr")["frozen"].equals(frozen.reindex(table["lr"]))


def test_start_and_end_losses_are_on_the_same_examples(big_start, blobs) -> None:
    search = blobs.subset(50, seed=0)
    start, end = subset_losses(big_start.evidence[0], search, seed=0)
    assert start == pytest.approx(big_start.rates["start_loss"].iloc[0])
    np.testing.assert_allclose(np.sort(end[np.isfinite(end)]),
                               np.sort(big_start.rates["end_loss"].dropna()))
    tiny = big_start.rates.iloc[-1]  # 1e-3: moves a little, downhill
    assert tiny["end_loss"] < tiny["start_loss"]


def test_proposed_schedule_decays_about_100x(big_start) -> None:
    assert big_start.schedule == "exp:decay=100"
    sched = parse_schedule(big_start.schedule).build(big_start.lr, epochs=20, steps_per_epoch=10)
    ratio = float(sched(199)[0] / sched(0)[0])  # the last of 200 steps
    assert ratio == pytest.approx(1 / 100)
    assert rate(big_start.lr) in big_start.schedule_description
    assert rate(big_start.lr / 100) in big_start.schedule_description


def test_confirm_trains_the_rate_with_the_schedule_on_all_data(big_start) -> None:
    confirmation = big_start.confirmation
    assert confirmation is not None and confirmation.task == "blobs"
    assert confirmation.members["lr"].tolist() == [big_start.lr]
    assert confirmation.members["schedule"].tolist() == ["exp:decay=100"]
    last = confirmation.curve("lr", "train").iloc[-1, 0]  # the rate at the last step
    assert last == pytest.approx(big_start.lr / 100, rel=1e-6)


def test_compute_and_explanation(big_start) -> None:
    members = len(halvings(1e3, 1e-3))
    assert big_start.compute == pytest.approx(members * 10 * 50 / 500)
    assert big_start.total_compute == pytest.approx(big_start.compute + 20)
    text = big_start.explanation
    assert f"so lr={rate(big_start.lr)}" in text and "exp" in text
    assert "frozen by the population" in text
    assert big_start.verdict().startswith(f"halving: lr={rate(big_start.lr)} ")


def test_iterations_size_the_subset() -> None:
    digits = get_task("digits")
    result = halving(digits, start=1.0, min_lr=0.2, subset=None, iterations=5)
    assert result.examples == 5 * 32 and result.steps == 5
    assert result.evidence[0].config["epochs"] == 1
    assert result.compute == pytest.approx(3 * 1 * 160 / len(digits.train))


def test_every_rate_diverging_raises(blobs) -> None:
    with pytest.raises(LrlabError) as err:
        halving(blobs, start=1e3, min_lr=100.0, iterations=5)
    assert "every rate" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"start": 1e-8}, "start"),
    ({"start": 0.1, "min_lr": 0.1}, "start"),
    ({"min_lr": 0.0}, "min_lr"),
    ({"start": math.nan}, "start"),
    ({"iterations": 1}, "iterations"),
    ({"iterations": 2.5}, "iterations"),
    # said as iterations, not as the search epochs it would have needed ("epochs must be
    # at most 1000000", which halving takes for the planned training)
    ({"iterations": 10**8}, "iterations must be a whole number from 2 to 1000000"),
    ({"decay": 1.0}, "decay"),
    ({"decay": -5.0}, "decay"),
    ({"progress": 1.0}, "progress"),
    ({"progress": -0.1}, "progress"),
    ({"subset": 2.5}, "subset"),
    ({"schedules": ["cosine"]}, "schedules"),
])
def test_bad_input_is_one_line(blobs, kwargs, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        halving(blobs, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)
