"""``benchmarks/race_length.py``'s pure pieces: the pick of a race stopped after each epoch
and its regret against the full training, and one rate taken on every seed."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def length(bench_import):
    return bench_import("race_length")


def _tables() -> dict:
    # best validation accuracy so far, epochs x rates, two seeds: after epoch 1 the race
    # sees 0.1 ahead on seed 0, and 1.0 ends best; seed 1 ranks 0.316 first throughout
    s0 = pd.DataFrame({0.1: [0.40, 0.50], 0.316: [0.35, 0.70], 1.0: [0.30, 0.80]}, index=[1, 2])
    s1 = pd.DataFrame({0.1: [0.30, 0.40], 0.316: [0.50, 0.90], 1.0: [0.20, 0.60]}, index=[1, 2])
    return {0: s0, 1: s1}


def test_a_race_stopped_early_picks_its_best_so_far_judged_on_the_full_training(length) -> None:
    rows = length.race_picks(_tables(), higher=True)
    assert [(e, picks) for e, picks, _ in rows] == [(1, [0.1, 0.316]), (2, [1.0, 0.316])]
    # seed 0's epoch-1 pick 0.1 ends at 0.50 against 1.0's 0.80: 30 points
    assert rows[0][2] == pytest.approx([30.0, 0.0])
    assert rows[1][2] == pytest.approx([0.0, 0.0])


def test_a_loss_is_read_lowest_first_in_percent(length) -> None:
    loss = {0: pd.DataFrame({0.1: [2.0, 1.5], 1.0: [1.8, 1.2]}, index=[1, 2])}
    rows = length.race_picks(loss, higher=False)
    assert rows[0][1] == [1.0] and rows[0][2] == pytest.approx([0.0])
    assert length.fixed_rates(loss, higher=False)[1] == pytest.approx((25.0, 25.0, 0.1))


def test_one_rate_on_every_seed_is_ranked_by_its_mean_regret(length) -> None:
    fixed = length.fixed_rates(_tables(), higher=True)
    # 0.316: 10 and 0 points; 1.0: 0 and 30; 0.1: 30 and 50
    assert fixed == [pytest.approx((5.0, 10.0, 0.316)), pytest.approx((15.0, 30.0, 1.0)),
                     pytest.approx((40.0, 50.0, 0.1))]
