"""``benchmarks/turn_regret.py``'s pure pieces: a grid rate's band by its ratio to the turn,
the bands' text and the regrets read from a cache (the range test is ``auto``'s own)."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def turns(bench_import):
    return bench_import("turn_regret")


def test_a_rate_falls_in_the_band_of_its_ratio_to_the_turn(turns) -> None:
    band = {r: turns.NAMES[int(np.searchsorted(turns.BANDS, r))]
            for r in (0.05, 0.2, 0.5, 1.5, 1.9, 3.0, 4.0)}
    assert band == {0.05: "<0.1x", 0.2: "0.1-0.3x", 0.5: "0.3-1x", 1.5: "1-1.78x",
                    1.9: "1.78-3.2x", 3.0: "1.78-3.2x", 4.0: ">3.2x"}


def test_the_bands_count_the_rates_over_the_line(turns) -> None:
    per = [[], [0.0, 3.0, 1.0], [], [], [2.5, 4.0], []]
    assert turns._bands(per, loss=False) == ("0.1-0.3x: median 1.0 (1/3 over); "
                                             "1.78-3.2x: median 3.2 (2/2 over)")
    assert turns._bands(per, loss=True) == ("0.1-0.3x: median 1.0 (0/3 over); "
                                            "1.78-3.2x: median 3.2 (0/2 over)")


def test_regrets_are_points_or_percent_against_the_seeds_best_grid_rate(turns, tmp_path) -> None:
    grid = turns.GRIDS["adam"]
    scores = {str(g): 0.5 for g in grid} | {str(grid[10]): 0.9, str(grid[11]): 0.88,
                                            "0.0333": 0.99}  # an extra rate is no grid rate
    (tmp_path / "gru-s0-adam.json").write_text(json.dumps(scores))
    r = turns.regrets(tmp_path, "gru", 0, "adam", loss=False)
    assert set(r) == set(grid)
    assert r[grid[10]] == 0.0 and r[grid[11]] == pytest.approx(2.0)
    assert r[grid[0]] == pytest.approx(40.0)
    loss = turns.regrets(tmp_path, "gru", 0, "adam", loss=True)  # lowest is best: 0.5
    assert loss[grid[0]] == 0.0 and loss[grid[10]] == pytest.approx(80.0)
