"""``benchmarks/loss_advice.py``'s pure pieces: the pick's neighbours and the readings' table,
on constructed regrets (training is ``finder_quality.py``'s, tested there)."""

from __future__ import annotations

import pytest


@pytest.fixture
def advice(bench_import):
    return bench_import("loss_advice")


def test_the_neighbours_are_a_quarter_and_half_a_decade_either_side(advice) -> None:
    rates = advice.around(0.105)
    expected = [0.105 * 10 ** (k / 4) for k in (-2, -1, 0, 1, 2)]  # float64
    assert rates == pytest.approx(expected, rel=5e-3)  # kept to 3 significant digits
    assert rates[2] == 0.105 and all(f"{v:.3g}" == repr(v) for v in rates)


def test_each_reading_keeps_the_best_of_its_rates(advice) -> None:
    # regrets in the order of QUARTERS: half a decade below, a quarter below, the pick, a
    # quarter above, half a decade above
    runs = [{"lr": 0.105, "rates": advice.around(0.105), "regrets": [106.0, 63.7, 25.8, 15.2, 149.2]},
            {"lr": 0.156, "rates": advice.around(0.156), "regrets": [2.0, 24.0, 9.8, 37.1, 1000.0]}]
    text = advice.report({("regression", "sgd"): runs}, {}, seeds=2)
    rows = {line.split("|")[3].strip(): [c.strip() for c in line.split("|")[4:-1]]
            for line in text.splitlines() if line.startswith("| regression | sgd | ")
            and not line.split("|")[3].strip().isdigit()}
    assert rows["pick alone"] == ["17.8", "25.8", "2"]
    assert rows["best of pick +- 1/4 decade"] == ["12.5", "15.2", "2"]   # 15.2 and 9.8
    assert rows["best of pick +- 1/2 decade"] == ["13.9", "25.8", "1"]   # 25.8 and 2.0
    assert rows["best of all five"] == ["8.6", "15.2", "1"]
