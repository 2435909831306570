"""``benchmarks/oracle_jitter.py``'s pure pieces: the neighbours of the oracle's rate and the
table's counts, on constructed regrets (training is ``finder_quality.py``'s, tested there)."""

from __future__ import annotations

import pytest


@pytest.fixture
def jitter(bench_import):
    return bench_import("oracle_jitter")


def test_the_neighbours_are_a_twelfth_and_a_sixth_of_a_decade_either_side(jitter) -> None:
    near = jitter.neighbours(0.215)
    expected = [0.215 * 10 ** k for k in (-1 / 6, -1 / 12, 1 / 12, 1 / 6)]  # float64
    assert near == pytest.approx(expected, rel=5e-3)  # kept to 3 significant digits
    assert near == sorted(near) and all(f"{v:.3g}" == repr(v) for v in near)


def test_the_table_counts_the_neighbours_over_the_goal_line(jitter) -> None:
    # regrets in the order of OFFSETS: a sixth below, a twelfth below, a twelfth above, a
    # sixth above; classification's line is 2 points, a regression's 5%
    runs = [{"best": 1.0, "regrets": [0.5, 2.5, 0.0, 3.0], "regression": False},
            {"best": 0.464, "regrets": [0.0, 1.0, 1.5, 9.0], "regression": False}]
    reg = [{"best": 0.215, "regrets": [4.0, 6.0, 20.0, 300.0], "regression": True}]
    text = jitter.report({("tabular", "sgd"): runs, ("friedman", "sgd"): reg}, seeds=2)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in text.splitlines() if line.startswith(("| tabular", "| friedman"))}
    tabular = rows["tabular"]
    assert tabular[2] == "1, 0.464"
    assert tabular[3] == "1.8 / 2.5 pt"  # a twelfth below: mean of 2.5 and 1.0, worst 2.5
    assert tabular[6] == "6.0 / 9.0 pt"  # a sixth above
    assert tabular[7] == "3 of 8"        # 2.5, 3.0, 9.0
    assert tabular[8] == "1"             # only the first seed misses at a twelfth
    friedman = rows["friedman"]
    assert friedman[7] == "3 of 4" and friedman[8] == "1"
    assert friedman[4] == "20.0 / 20.0%"
