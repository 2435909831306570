"""``benchmarks/edge_margin.py``'s pure pieces: which raced rates failed, the race's edge,
the rule tried (half a decade below that edge) and the excess loss, on constructed records
(the training is ``lrlab.search.auto``'s and ``lrlab.sweep``'s, tested there)."""

from __future__ import annotations

import math

import pytest


@pytest.fixture
def edge(bench_import):
    return bench_import("edge_margin")


def _row(lr: float, score: float, last: float, **more) -> dict:
    row = {"lr": lr, "score": score, "vloss": score, "last": last, "diverged": False,
           "stable": True, "blew": False}
    return row | more


def _record(pick: float, rows: list[dict], full: dict[float, float]) -> dict:
    return {"pick": pick, "race": rows, "start": [1.0, 0.86], "grid": [0.01, 0.1, 0.215, 1.0],
            "floor": 0.0, "full": {repr(k): v for k, v in full.items()}}


def test_a_rate_fails_when_it_diverged_blew_up_or_learned_next_to_nothing(edge) -> None:
    assert not edge._failed(_row(0.1, 0.26, 0.33), 0.86)
    assert edge._failed(_row(0.5, 0.85, 0.98), 0.86)         # training loss ended at 0.98 of the untrained
    assert edge._failed(_row(1.6, 7e7, 6e7, diverged=True), 0.86)
    assert edge._failed(_row(0.3, 0.4, 0.5, blew=True), 0.86)
    assert edge._failed(_row(0.06, 5173.0, -2.5), 0.86)      # validation loss over 2x
    assert edge._failed(_row(0.2, 0.3, 0.4, stable=False), 0.86)


def test_the_rule_takes_the_highest_rate_half_a_decade_below_the_lowest_failure(edge) -> None:
    rows = [_row(0.0333, 0.27, 0.29), _row(0.0593, 0.25, 0.30), _row(0.105, 0.257, 0.32),
            _row(0.187, 0.343, 0.43), _row(0.593, 0.855, 1.09),
            _row(1.87, 1e9, 1e9, diverged=True)]
    full = {0.01: 0.5, 0.1: 0.3, 0.215: 0.2, 1.0: 5.0, 0.105: 0.25, 0.187: 0.23}
    r = _record(0.105, rows, full)
    assert edge._edge(rows, 0.105, 0.86) == 0.593
    assert edge.below_edge(r) == 0.187                        # 0.593 / 10 ** 0.5 = 0.1875
    assert edge._excess(r, 0.187) == pytest.approx(100 * (0.23 / 0.2 - 1))
    assert edge._excess(r, 0.105) == pytest.approx(25.0)


def test_the_rule_never_moves_down_and_keeps_a_pick_with_no_failure_above(edge) -> None:
    rows = [_row(0.1, 0.3, 0.4), _row(0.316, 0.25, 0.35), _row(1.0, 0.29, 0.6)]
    r = _record(0.316, rows, {0.01: 0.5, 0.1: 0.3, 0.215: 0.2, 1.0: 0.4, 0.316: 0.25})
    assert math.isinf(edge._edge(rows, 0.316, 0.86))
    assert edge.below_edge(r) == 0.316
    rows[2] = _row(1.0, 0.9, 0.95)                            # fails: 0.316 is the rate below
    assert edge.below_edge(r | {"race": rows}) == 0.316
    r = _record(0.316, rows[:2] + [_row(0.5, 0.9, 0.95)], r["full"] | {0.5: 3.0})
    assert edge.below_edge(r) == 0.316                        # 0.1 lies below the pick


def test_the_second_rule_reads_only_rates_that_diverged_or_blew_up(edge) -> None:
    rows = [_row(0.0877, 0.27, 0.29), _row(0.156, 0.29, 0.29), _row(0.277, 0.74, 0.91),
            _row(1.56, 1e3, 1e3, diverged=True)]
    r = _record(0.0877, rows, {0.01: 0.5, 0.1: 0.3, 0.215: 0.2, 1.0: 5.0})
    assert edge.below_edge(r) == 0.0877                       # 0.277 learned next to nothing
    assert edge.below_blowup(r) == 0.156                      # 1.56 / 10
    r = _record(0.0877, rows[:3], r["full"])                  # nothing diverged
    assert edge.below_blowup(r) == 0.0877
