"""The readings of a range-test curve, on constructed curves whose answers are known.

Smoothing against a float64 hand computation; the tools' rules (valley, steepest,
min_div10) where the answer follows from the formula; Smith's readings and lrlab's
suggestion on U-shaped, sigmoid, ragged and flat curves.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from lrlab import LrlabError
from lrlab.search import (
    ADAPTIVE_RULES,
    DEFAULT_RULES,
    LOSS_RULES,
    Rules,
    diverged,
    ema,
    min_div10,
    next_step,
    rules_for,
    smith_readings,
    steepest,
    suggest,
    trend,
    trend_bottom,
    valley,
)
from lrlab.search._readings import describe
from lrlab.search._result import RangeTestResult
from lrlab.search._suggest import (
    NOISY,
    broke_at,
    deep,
    early_rise,
    fell_back,
    into_bottom,
    later_fall,
    ragged_bottom,
    scatter,
    shallow,
    turn_up,
)

RAW = {"smooth": 0.0, "skip_start": 0.0, "skip_end": 0}   # the comparison rules, unsmoothed
STEP = 10 ** 0.1                                          # one grid step of LOG below


def log_grid(lo: float, hi: float, per_decade: int = 10) -> np.ndarray:
    return np.logspace(lo, hi, round((hi - lo) * per_decade) + 1)


def within(value: float, target: float, factor: float) -> bool:
    return target / factor <= value <= target * factor


# --- smoothing -------------------------------------------------------------------------

def test_ema_matches_a_float64_hand_computation():
    values = np.random.default_rng(0).normal(2.0, 0.5, size=50)
    for beta in (0.0, 0.5, 0.9, 0.98):
        avg, expected = 0.0, []
        for t, v in enumerate(values.tolist()):
            avg = beta * avg + (1 - beta) * v
            expected.append(avg / (1 - beta ** (t + 1)))
        np.testing.assert_allclose(ema(values, beta), expected, rtol=1e-14, atol=0)
    assert ema(values, 0.98)[0] == values[0]


def test_trend_has_no_lag_and_shrugs_off_a_spike():
    u = np.arange(101, dtype=float)
    dip = (u - 50.0) ** 2 / 100.0
    assert int(np.argmin(trend(dip))) == 50
    assert int(np.argmin(ema(dip, 0.9))) > 52                   # the EMA lags
    line = np.linspace(3.0, 1.0, 101)
    spiky = line.copy()
    spiky[30] += 100.0
    assert np.max(np.abs(trend(spiky) - line)) < 0.02            # a spike of 100


# --- the tools' rules ------------------------------------------------------------------

def test_valley_is_two_thirds_down_the_longest_run():
    lrs = log_grid(-4, 0, 2)                                     # 9 rates
    assert valley(lrs, [5, 6, 5, 4, 3, 2, 1, 2, 9], **RAW).lr == lrs[1 + (2 * 5) // 3]
    # two runs of 2 decreases: the larger drop wins
    assert valley(lrs, [3, 2, 1, 5, 2, 0, 9, 9, 9], **RAW).lr == lrs[3 + (2 * 2) // 3]
    assert math.isnan(valley(lrs, np.arange(9.0), **RAW).lr)


def test_steepest_finds_the_inflection_in_log_lr():
    lrs = log_grid(-4, 0)
    assert steepest(lrs, -np.tanh(np.log10(lrs) + 2), **RAW).lr == pytest.approx(1e-2)
    linear = np.linspace(0.01, 1.0, 100)                         # uneven in log space
    found = steepest(linear, -np.tanh(3 * (np.log(linear) - np.log(0.2))), **RAW).lr
    assert abs(found - 0.2) <= 0.01
    assert math.isnan(steepest(lrs, np.log10(lrs), **RAW).lr)


def test_min_div10_is_the_minimum_over_ten():
    lrs = log_grid(-5, 0)
    assert min_div10(lrs, (np.log10(lrs) + 2) ** 2, **RAW).lr == pytest.approx(1e-3)


def test_the_tools_trim_and_smooth_by_default():
    lrs = log_grid(-5, 0)
    losses = (np.log10(lrs) + 2) ** 2
    losses[-5:] = -100.0                                         # a blow-up the trim drops
    assert min_div10(lrs, losses, smooth=0.0).lr == pytest.approx(1e-3)
    lagged = min_div10(lrs, (np.log10(lrs) + 2) ** 2).lr          # EMA 0.98 lags
    assert lagged > 1e-3


# --- Smith's readings ------------------------------------------------------------------

def test_u_shaped_curve_max_lr_near_minimum_min_lr_where_it_falls():
    lrs = log_grid(-6, 0)
    u = np.log10(lrs)
    r = smith_readings(lrs, np.minimum((u + 2) ** 2, 9.0))       # flat, then a U
    assert 10 ** -2.4 <= r.max_lr.lr <= 1e-2                     # 1% of 9 above the best
    assert within(r.min_lr.lr, 10 ** (-2 - math.sqrt(8.1)), STEP)  # 10% of 9 below the start
    assert r.recommended.lr == r.max_lr.lr
    assert r.cycle.upper == r.max_lr.lr and r.cycle.lower == pytest.approx(r.max_lr.lr / 3)
    assert "1/3 to 1/4" in r.cycle.why


def test_real_looking_curve_flat_then_falling_then_blowing_up():
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    loss = np.where(u < -4, 2.0, 2.0 - 0.5 * (u + 4))           # falls 1.5 over 3 decades
    loss = np.where(u > -1, 0.5 + 8 * (u + 1) ** 2, loss)        # then blows up
    r = smith_readings(lrs, loss)
    assert 1e-4 < r.min_lr.lr <= 10 ** -3.6                      # 10% of the drop: 0.3 decades in
    assert within(r.max_lr.lr, 0.1, STEP ** 2)


def test_ragged_loss_sets_max_lr_before_the_minimum():
    rng = np.random.default_rng(1)
    lrs = log_grid(-5, 0)                                        # 51 points
    loss = np.linspace(2.0, 0.5, 51) + rng.normal(0, 0.005, 51)
    loss[30:] += rng.normal(0, 0.3, 21)                          # jagged from index 30
    r = smith_readings(lrs, loss)
    assert "ragged" in r.max_lr.why
    assert lrs[27] <= r.max_lr.lr <= lrs[33]


def test_accuracy_readings_rise_and_plateau():
    lrs = log_grid(-6, 0)
    u = np.log10(lrs)
    acc = 0.3 + 0.7 / (1 + np.exp(-4 * (u + 4)))                 # rises around 1e-4
    acc = np.where(u > -1.5, acc - 2 * (u + 1.5) ** 2, acc)      # falls apart past 0.03
    r = smith_readings(lrs, acc, higher_is_better=True, what="accuracy")
    assert 1e-5 < r.min_lr.lr < 1e-4                              # 10% of the rise
    assert 10 ** -3.5 < r.max_lr.lr <= 10 ** -1.5                 # where it stops rising
    assert "accuracy" in r.min_lr.why and "risen" in r.min_lr.why


def test_unreadable_curves_give_nan_with_a_reason():
    lrs = log_grid(-5, 0)
    flat = 1.0 + np.random.default_rng(2).normal(0, 0.1, len(lrs))
    for values in (flat, np.ones(len(lrs))):
        r = smith_readings(lrs, values)
        assert math.isnan(r.max_lr.lr) and math.isnan(r.cycle.lower)
        assert "no clear drop" in r.min_lr.why or "no drop at all" in r.min_lr.why
        assert "widen" not in r.min_lr.why  # the curve alone cannot say a range would help
        assert math.isnan(suggest(lrs, values).lr)
    assert "too few" in smith_readings(lrs[:4], [3.0, 2.0, 1.0, 2.0]).max_lr.why


# --- lrlab's suggestion ----------------------------------------------------------------

def test_suggestion_keeps_a_margin_below_the_bottom_and_the_turn():
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    loss = np.where(u < -4, 2.0, 2.0 - 0.5 * (u + 4))            # falls to 0.5 at 0.1 ...
    loss = np.where(u > -1, 0.5 + 8 * (u + 1) ** 2, loss)        # ... then blows up
    bottom = suggest(lrs, loss, rules=Rules(divisor=1.0, margin=1.0))  # no margin: the bottom
    assert within(bottom.lr, 0.1, STEP ** 2)
    r = suggest(lrs, loss)                  # the bottom / 2, below the turn / 3
    assert r.lr == pytest.approx(bottom.lr / 2) and "/ 2" in r.why
    assert "the loss turns up at 0.126" in r.why  # 5% of the drop above the minimum
    assert r.why.count("its bottom") == 1  # read at the bottom: not said again in brackets
    near = suggest(lrs, loss, rules=Rules(divisor=1.0))  # the turn / 3 below the bottom
    assert near.lr == pytest.approx(0.126 / 3, rel=0.01) and "/ 3" in near.why
    assert near.why.count("turns up at") == 1 and "the trend reaches its bottom at" in near.why
    adaptive = suggest(lrs, loss, rules=ADAPTIVE_RULES)  # halfway down: 2.0 -> 1.25 at 10^-2.5
    assert within(adaptive.lr, 10 ** -2.5, STEP ** 2) and "50% down its descent" in adaptive.why
    assert adaptive.lr <= 0.126 / 4


def test_loss_rules_read_the_bottom_over_two_at_most_four_times_halfway_down():
    """LOSS_RULES (an adaptive rule on a task ranked by its loss): the bottom / 2 where the
    descent is short; where the bottom lies far above halfway down (a slow fall over many
    decades, the steps' doing), four times the rate halfway down."""
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    short = np.select([u < -3, u < -2], [2.0, 2.0 - 1.5 * (u + 3)], 0.5 + 0.3 * (u + 2) ** 2)
    r = suggest(lrs, short, rules=LOSS_RULES)  # bottom 10^-2, halfway 10^-2.5
    bottom = suggest(lrs, short, rules=Rules(divisor=1.0, margin=1.0)).lr
    assert within(bottom, 0.01, STEP ** 3)
    assert r.lr == pytest.approx(bottom / 2) and "its bottom" in r.why and "/ 2" in r.why
    assert suggest(lrs, short, rules=ADAPTIVE_RULES).lr < r.lr / 1.5  # halfway: lower
    slow = np.where(u < -6, 2.0, 2.0 - 0.25 * (u + 6))          # 2.0 -> 0.5 from 1e-6 to 1
    slow = np.where(u > 0, 0.5 + 8 * u ** 2, slow)
    r = suggest(lrs, slow, rules=LOSS_RULES)   # halfway down at 10^-3: 4x is 0.004
    assert within(r.lr, 0.004, STEP ** 2) and "50% down its descent" in r.why and "x 4" in r.why
    assert suggest(lrs, slow, rules=replace(LOSS_RULES, reach=0.0)).lr > 0.1  # the bottom / 2
    with pytest.raises(LrlabError, match="reach"):
        Rules(reach=0.5)


def test_suggestion_reads_the_start_of_a_flat_bottom():
    lrs = log_grid(-6, 1)
    u = np.log10(lrs)
    loss = np.clip(-(u + 2), 0.0, 2.0) - 1e-4 * u                # 0 from 1e-2, still falling
    r = suggest(lrs, loss)
    assert within(r.lr, 1e-2 / 2, STEP ** 3)                   # the trend rounds the corner
    assert "end higher (end=1000)" in r.why and "start lower" not in r.why
    assert "start lower" in suggest(lrs[30:], loss[30:]).why               # cut: falls at once


def test_without_a_clear_descent_a_rate_below_the_break_or_what_to_run():
    lrs = log_grid(-7, 0)
    flat = 1.0 + 0.01 * np.random.default_rng(0).standard_normal(len(lrs))
    r = suggest(lrs, flat, diverged=True)       # the test blew up at the last rate
    assert r.lr == pytest.approx(lrs[-1] / 10) and "diverged at 1" in r.why
    assert "weak evidence" in r.why
    r = suggest(lrs, flat)                      # never fell, never rose, never diverged
    assert math.isnan(r.lr) and "end=1000" in r.why
    broken = np.where(lrs > 0.1, 1.0 + 10 * (np.log10(lrs) + 1), flat)  # flat, then up
    r = suggest(lrs, broken)
    assert within(r.lr, 0.1 / 10, STEP ** 2) and "breaks upwards" in r.why
    bump = np.where((lrs > 1e-5) & (lrs < 1e-4), 1.5, flat)      # a bump that goes away
    assert math.isnan(suggest(lrs, bump).lr)


# --- next_step: advice that can help where it is given ----------------------------------

def test_next_step_follows_the_shape_of_the_curve():
    """Each shape gets the one step that can help it, with the value to pass; a curve that
    broke is never told to widen its range."""
    lrs = log_grid(-7, 1)
    flat = 1.0 + 0.01 * np.random.default_rng(0).standard_normal(len(lrs))
    u = np.log10(lrs)
    broke = np.where(u > 0, flat + 5 * u, flat)                  # flat to 1, then up
    # dense and flat over 7 decades, then up: the test is too short, not too narrow
    step = next_step(lrs, broke)
    assert "steps shows no clear descent below 1.26, and a wider range will not" in step
    assert "lrlab auto" in step and "start lower" not in step and "end higher" not in step
    # the grid it names reaches half the break: deep sigmoid layers train best at a third to
    # half of it, and find raises a reading that catapulted to the break / 2.8
    assert f"a grid from {10 ** 0.1 / 100:.3g} to {10 ** 0.1 / 2:.3g})" in step  # break 1.26
    # the same shape over 1.5 decades only: the flat part may be the bottom of a descent
    near = log_grid(-1.5, 1, per_decade=40)
    near_loss = 1.0 + 0.01 * np.random.default_rng(3).standard_normal(len(near)) + np.where(
        near > 1, 5 * np.log10(near), 0.0)
    assert "start lower (start=1.06e-05)" in next_step(near, near_loss)  # the break / 1e5
    # ... unless an earlier test already looked from the first rates (a zoom)
    assert "shows no clear descent" in next_step(near, near_loss, earlier=1e-7)
    # sparse: more steps
    sparse = lrs[::8]
    assert "steps are too few" in next_step(sparse, broke[::8]) and "steps=100" in next_step(
        sparse, broke[::8])
    # never moved: the descent has not started (end x 1000), unless the rates were huge
    assert "run the test further (end=10000)" in next_step(lrs, flat)
    assert "gradients are near zero" in next_step(lrs * 1e3, flat)
    # a clear valley with nothing to add; falling from the first rates / at the last rate
    valley = np.minimum(np.abs(u + 3), 2.0) + 0.01 * np.random.default_rng(1).standard_normal(
        len(lrs))                                                 # flat, down from 1e-5, up
    assert next_step(lrs, valley) == ""
    assert f"start lower (start={lrs[30] / 100:g})" in next_step(lrs[30:], valley[30:])
    assert next_step(lrs[30:], valley[30:], earlier=1e-7) == ""   # a zoom's start is not the user's
    assert "end higher (end=" in next_step(lrs[:30], valley[:30])


def test_a_flat_curve_that_rose_but_never_blew_up_is_told_to_run_further():
    """A flat curve that broke upwards and reached the test's end without diverging, its
    loss never 4x its level (the test's own divergence factor): the rise may be a spike a training of epochs recovers from,
    so the advice is to run the test further, never that a wider range cannot help (a
    bag-of-words over a sparse embedding, SGD: its test rose from 3.8 to 2.3x its level at
    the end, 10, and 10-46 trained best). One that rose past that, or diverged, says so."""
    lrs = log_grid(-7, 1)
    flat = 1.0 + 0.01 * np.random.default_rng(0).standard_normal(len(lrs))
    u = np.log10(lrs)
    rose = np.where(u > 0, flat + 2 * u, flat)                    # flat to 1, then up to 3x
    step = next_step(lrs, rose)
    assert "never blew up (at most 2.60x" in step and "up to the test's end, 10)" in step
    assert "run it further (end=1000)" in step and "will not change" not in step
    assert "train a few rates from 0.0" in step and "up to that point" in step
    # the same rise cut short by divergence, or carried past twice the level: says so
    step = next_step(lrs, rose, diverged=True)
    assert "a wider range will not change that (its loss blew up at 10)" in step
    steep = np.where(u > 0, flat + 5 * u, flat)
    assert "will not change that (its loss rose to" in next_step(lrs, steep)


def test_a_noisy_start_below_its_level_is_not_a_fall_from_the_first_rates():
    """A Gaussian NLL regression's range test under Adam (benchmarks/user_shapes5:gaussnll,
    seed 1): the first batch's loss was low, so the trend starts below the noisy first points'
    median and climbs back to a plateau before the loss falls near 1e-2. It was told "the loss
    falls from the first rates: start lower (start=1e-09)"; it falls three decades up."""
    loss = np.array([
        0.777, 1.062, 1.366, 0.954, 1.361, 0.852, 1.122, 1.126, 0.772, 0.784, 1.199, 0.890,
        0.776, 0.838, 1.005, 1.053, 1.021, 0.957, 1.415, 0.983, 1.033, 1.098, 0.952, 0.764,
        1.185, 1.214, 0.879, 0.910, 0.808, 1.137, 1.401, 0.776, 1.130, 1.157, 0.792, 1.076,
        0.706, 1.043, 0.861, 0.971, 1.247, 0.983, 1.064, 0.740, 0.912, 0.755, 0.861, 0.924,
        1.085, 0.719, 0.918, 0.711, 0.830, 0.772, 1.027, 0.862, 0.853, 0.960, 0.907, 0.829,
        0.671, 0.819, 0.739, 0.730, 0.648, 0.642, 0.549, 0.441, 0.472, 0.593, 0.273, 0.601,
        0.509, 0.583, 0.558, 0.703, 0.516, 0.728, 0.477, 0.651, 0.667, 0.676, 0.900, 1.123,
        6.309, 5.107, 8.080, 1.655, 1.423, 1.656, 1.734])
    lrs = np.geomspace(1e-7, 2.257, 92)[: len(loss)]
    d = describe(lrs, loss)
    assert d.clear and d.crossing(DEFAULT_RULES.improve) == 0 < d.head  # the old reading
    assert "start lower" not in next_step(lrs, loss)
    # a clear fall from the first rates still is one, noisy or not
    u = np.log10(lrs)
    falling = np.minimum(np.abs(u + 3), 2.0) + 0.1 * np.random.default_rng(4).standard_normal(
        len(lrs))
    assert "start lower" in next_step(lrs[30:], falling[30:])


def test_next_step_of_a_test_that_stopped_at_once():
    lrs = np.array([1.0, 1.05])
    assert next_step(lrs, [2.0, 50.0], diverged=True) == (
        "the loss diverged within 2 step(s), at 1.05: start lower (start=0.001)")
    # already run from a thousandth of the first start: the rate is not the problem
    assert "check the data and the loss" in next_step(lrs, [2.0, 50.0], diverged=True,
                                                      earlier=1000.0)
    assert "check the data" in next_step([], [], diverged=True)
    stopped = next_step(lrs, [2.0, 1.9], reason="train_data ran out after 2 batches")
    assert "train_data ran out" in stopped and "at least 5" in stopped


def test_the_readings_name_the_next_step_they_are_given():
    lrs = log_grid(-7, 1)
    flat = 1.0 + 0.01 * np.random.default_rng(0).standard_normal(len(lrs))
    r = smith_readings(lrs, flat, advice="do this")
    assert r.max_lr.why.endswith("; do this") and r.cycle.why.endswith("; do this")
    assert suggest(lrs, flat, advice="do that").why.endswith(": do that")
    assert suggest(lrs, flat).why.endswith(next_step(lrs, flat))  # by default, the curve's own


# --- the descent test and flat curves, on noisy constructed curves ---------------------

def noisy(lrs: np.ndarray, curve: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return curve + sigma * np.random.default_rng(seed).standard_normal(len(lrs))


def test_a_flat_curve_lowest_at_its_first_rates_is_no_descent():
    # the trend's lowest point at the start once had its noise measured over one or two
    # points (zero), so the first rates read as a "clear descent" (deep tanh, GRU)
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    flat = noisy(lrs, np.where(u > 0.5, 1.0 + 4 * (u - 0.5), 1.0), 0.01, seed=2)
    flat[:3] -= 0.03                                          # three low first points
    d = describe(lrs, flat)
    assert d.best < 5 and not d.clear
    r = suggest(lrs, flat)
    assert "breaks upwards" in r.why and "weak evidence" in r.why
    assert 10 ** 0.4 / 10 <= r.lr <= 10 ** 0.8 / 10           # a tenth of the break, not 1e-7
    assert math.isnan(trend_bottom(lrs, flat))


def test_a_low_start_does_not_clip_a_flat_curve_into_a_long_descent():
    # the trend's clip (at the highest level before its lowest point) once sat at the low
    # first points, so the whole flat curve lay below the level and read as a clear descent
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    flat = noisy(lrs, np.where(u > 0.5, 1.0 + 4 * (u - 0.5), 1.0), 0.01)
    flat[:4] -= 0.05
    tr = trend(flat)
    assert np.median(tr[10:70]) == pytest.approx(1.0, abs=0.01)   # the plateau, not 0.95
    assert not describe(lrs, flat).clear and "breaks upwards" in suggest(lrs, flat).why


def test_a_dip_in_a_noisy_plateau_is_noise_not_a_descent():
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    base = np.where(u > 0.5, 1.0 + 4 * (u - 0.5), 1.0)
    dip = base - 0.025 * np.exp(-((u + 4) / 0.3) ** 2)        # 2.5 noise units at 1e-4, back
    r = suggest(lrs, noisy(lrs, dip, 0.01, seed=3))
    assert r.lr > 1e-2 and "breaks upwards" in r.why           # from the break, not the dip


def test_a_weak_fall_that_leads_into_the_rise_is_read_as_a_descent():
    # a noisy loss (an MSE regression) falls by ~2.5 noise units over a decade, then rises
    lrs = log_grid(-7, 1)
    u = np.log10(lrs)
    shape = 1.0 - 0.5 * np.clip(u + 3, 0, 1) + np.where(u > -1.5, 3 * (u + 1.5) ** 2, 0)
    loss = noisy(lrs, np.where(u > -2, np.minimum(shape, 0.5 + 3 * (u + 1.5) ** 2), shape), 0.2)
    d = describe(lrs, loss)
    assert not d.clear
    r = suggest(lrs, loss)
    assert "weak descent" in r.why or "it turns up" in r.why
    assert 1e-3 / 3 <= r.lr <= 10 ** -1.5                    # in the fall, below the rise


def test_a_plain_noisy_valley_reads_below_its_bottom_and_the_turn():
    lrs = log_grid(-6, 1)
    u = np.log10(lrs)
    valley_ = noisy(lrs, 2.0 - 1.5 * np.clip(u + 4, 0, 3) / 3 + np.where(u > -1, 6 * (u + 1) ** 2, 0),
                    0.02, seed=1)
    d = describe(lrs, valley_)
    assert d.clear
    r = suggest(lrs, valley_)
    assert 10 ** -1.8 <= r.lr <= 10 ** -0.9                  # bottom 0.1 / 2, turn ~0.13 / 3
    assert "lower start" not in r.why


def test_flat_then_diverged_reads_a_tenth_of_the_last_rate():
    lrs = log_grid(-7, 0.5)
    flat = noisy(lrs, np.ones(len(lrs)), 0.01, seed=2)
    r = suggest(lrs, flat, diverged=True)
    assert r.lr == pytest.approx(lrs[-1] / 10) and "diverged" in r.why


def late_learner(lrs: np.ndarray, rise: float = 1.5) -> np.ndarray:
    """Flat to 1e-2, a clear descent to 0.5 by 0.1, up to ``rise`` at 0.3-1, then a fall to
    zero at 3-10 (an LSTM with Adam that learns suddenly once enough steps have passed)."""
    u = np.log10(lrs)
    curve = 1.0 - 0.5 * np.clip(u + 2, 0, 1)
    curve = np.where(u > -0.8, 0.5 + (rise - 0.5) * np.clip((u + 0.8) / 0.3, 0, 1), curve)
    return np.where(u > 0.3, rise * (1 - np.clip((u - 0.3) / 0.6, 0, 1)), curve)


def test_a_fall_after_a_rise_above_the_start_is_the_steps_doing():
    lrs = log_grid(-7, 1, per_decade=12)
    loss = noisy(lrs, late_learner(lrs), 0.01, seed=4)
    d = describe(lrs, loss, ADAPTIVE_RULES)
    assert d.clear and lrs[d.best] > 3                          # the whole curve: lowest at 3+
    cut = early_rise(d, ADAPTIVE_RULES)
    assert cut is not None and 0.1 < lrs[cut] < 0.5            # rose above 1 + 3 noise there
    r = suggest(lrs, loss, rules=ADAPTIVE_RULES)
    below = suggest(lrs[:cut], loss[:cut], rules=ADAPTIVE_RULES)   # the descent before it
    assert r.lr == below.lr and 1e-2 < r.lr < 0.1
    assert "rose above its starting level" in r.why
    result = RangeTestResult.build(lrs, loss, rules=ADAPTIVE_RULES)
    assert any(w.startswith("the loss rose above its starting level") for w in result.warnings)
    assert result.headroom.lr == lrs[cut]
    # the same curve whose bump stays below the starting level: one descent, read whole
    calm = noisy(lrs, late_learner(lrs, rise=0.9), 0.01, seed=4)
    assert early_rise(describe(lrs, calm, ADAPTIVE_RULES), ADAPTIVE_RULES) is None
    assert suggest(lrs, calm, rules=ADAPTIVE_RULES).lr > 0.3


def fell_back_curve(lrs: np.ndarray, back: float = 0.97) -> np.ndarray:
    """A scale-invariant network's test under SGD (ArcFace's): a fall from 2 over four
    decades to 1 at 0.03, up to 1.45 by 0.1 and held for a decade, then back down to
    ``back`` by 10 (the weights, grown large, take the steps in)."""
    u = np.log10(lrs)
    curve = 2.0 - np.clip((u + 5.5) / 4, 0, 1)
    curve = np.where(u > -1.5, 1.0 + 0.45 * np.clip((u + 1.5) / 0.5, 0, 1), curve)
    return np.where(u > 0, 1.45 - (1.45 - back) * np.clip(u, 0, 1), curve)


def test_a_fall_back_no_lower_after_a_rise_is_read_below_the_rise():
    lrs = log_grid(-7, 1, per_decade=12)
    loss = noisy(lrs, fell_back_curve(lrs), 0.01, seed=4)
    d = describe(lrs, loss)
    assert d.clear and lrs[d.best] > 3                         # the whole curve: lowest at 3+
    off = replace(DEFAULT_RULES, rebound=0.0)                  # as before the rule
    assert trend_bottom(lrs, loss, rules=off) > 3
    assert early_rise(d, DEFAULT_RULES) is None                 # never above its start
    cut = fell_back(d, DEFAULT_RULES)
    assert cut is not None and 0.03 < lrs[cut] < 0.1
    assert later_fall(d, DEFAULT_RULES) == cut
    assert 0.01 < trend_bottom(lrs, loss) <= 0.035             # auto's placement: the low
    r = suggest(lrs, loss)
    assert r.lr == suggest(lrs[:cut], loss[:cut]).lr and r.lr < 0.02
    assert "fell back to about it" in r.why
    result = RangeTestResult.build(lrs, loss)
    assert "fell_back" in result.kinds and "end higher" not in result.advice
    line = next(w for w in result.warnings if w.kind == "fell_back")
    assert f"train rates from {r.lr / 100:.3g} up to {r.lr:.3g}" in line
    assert result.headroom.lr == lrs[cut]
    # under a short heavy-ball training its rates (from a tenth of the suggestion up to twice
    # it) are said too: the next step is this line's, rates well below the suggestion
    short = replace(result, training_steps=30, momentum=0.9)
    assert short.kinds[-2:] == ("fell_back", "short_training")
    assert short.next_step.startswith(f"train rates from {r.lr / 100:.3g} up to {r.lr:.3g}")
    from lrlab.search._auto import placement

    assert placement(result) == (trend_bottom(lrs, loss), True)  # auto's race: from the low
    # a second descent clearly deeper than the first low is read whole, as before
    deeper = noisy(lrs, fell_back_curve(lrs, back=0.5), 0.01, seed=4)
    assert fell_back(describe(lrs, deeper), DEFAULT_RULES) is None
    assert trend_bottom(lrs, deeper) > 3
    # an adaptive rule's curve is not read so (unmeasured there)
    assert fell_back(describe(lrs, loss, ADAPTIVE_RULES), ADAPTIVE_RULES) is None
    with pytest.raises(LrlabError, match="rebound must be >= 0"):
        Rules(rebound=-1.0)


def test_a_shallow_or_noisy_descent_warns_and_a_firm_one_does_not():
    lrs = log_grid(-6, 1)
    u = np.log10(lrs)

    def valley_(depth, sigma, seed=1):
        shape = 1.0 - depth * np.clip(u + 3, 0, 1) + np.where(u > -1, 6 * (u + 1) ** 2, 0)
        return noisy(lrs, shape, sigma, seed=seed)

    said = {}
    for name, depth, sigma in (("shallow", 0.03, 0.01), ("firm", 0.15, 0.01),
                               ("noisy", 0.9, 0.2)):
        loss = valley_(depth, sigma)
        d = describe(lrs, loss)
        assert d.clear, name
        said[name] = (d, " ".join(RangeTestResult.build(lrs, loss).warnings))
    d, text = said["shallow"]
    assert 3 < d.drop / d.noise < 2 * 3 and shallow(d, DEFAULT_RULES)
    assert "a shallow descent" in text and "lrlab auto" in text
    d, text = said["firm"]
    assert d.drop / d.noise > 6 and not shallow(d, DEFAULT_RULES) and text == ""
    d, text = said["noisy"]
    assert d.noise > NOISY * d.level and "a noisy loss" in text and "shallow" not in text


def test_a_descent_by_most_of_its_level_is_noisy_not_shallow():
    """A regression's noise is its untrained batches' spread, a share of its level: a loss
    that fell by 60% of its level or more (``deep``) is warned as noisy, not as a shallow
    descent, however few noise units it fell (a forecaster under Adam fell by 71% of its
    level, 4.4 noise units: 'a shallow descent'); one that fell by less still is."""
    lrs = log_grid(-6, 1)
    u = np.log10(lrs)
    said = {}
    for share, sigma in ((0.75, 0.55), (0.45, 0.4)):
        shape = 3.0 * (1.0 - share * np.clip(u + 3, 0, 1)) + np.where(u > -1, 20 * (u + 1) ** 2, 0)
        loss = noisy(lrs, shape, sigma, seed=2)
        d = describe(lrs, loss)
        assert d.clear and shallow(d, DEFAULT_RULES) and d.noise > NOISY * d.level, share
        said[share] = (d, RangeTestResult.build(lrs, loss).kinds)
    d, kinds = said[0.75]
    assert d.drop > 0.6 * d.level and deep(d, DEFAULT_RULES)
    assert "noisy_loss" in kinds and "shallow_descent" not in kinds
    d, kinds = said[0.45]
    assert d.drop < 0.6 * d.level and not deep(d, DEFAULT_RULES)
    assert "shallow_descent" in kinds and "noisy_loss" not in kinds


#: ``new_user.py``'s ``hashed`` (a linear model over 8,192 hashed features, batches of 4),
#: seed 1: its range test's training losses at 100 rates from 1e-7 to 10 (to 3 decimals). The
#: suggestion, 1.91, lost 7.3 points to a 13-rate grid's best (0.464), and nothing warned.
HASHED_S1 = [
    1.118, 1.098, 1.072, 1.102, 1.091, 1.092, 1.099, 1.114, 1.084, 1.121, 1.117, 1.104, 1.081,
    1.103, 1.126, 1.101, 1.091, 1.101, 1.108, 1.069, 1.103, 1.133, 1.100, 1.091, 1.077, 1.105,
    1.089, 1.131, 1.070, 1.093, 1.099, 1.118, 1.116, 1.086, 1.102, 1.065, 1.103, 1.069, 1.106,
    1.087, 1.108, 1.083, 1.087, 1.113, 1.104, 1.117, 1.092, 1.092, 1.075, 1.093, 1.075, 1.091,
    1.101, 1.127, 1.072, 1.088, 1.091, 1.077, 1.090, 1.104, 1.076, 1.092, 1.089, 1.066, 1.102,
    1.090, 1.092, 1.102, 1.099, 1.072, 1.086, 1.087, 1.064, 1.093, 1.139, 1.052, 1.034, 1.102,
    1.121, 1.258, 1.003, 1.105, 1.129, 0.923, 1.109, 0.829, 1.006, 0.802, 1.410, 1.212, 0.369,
    1.167, 1.377, 0.941, 0.508, 0.557, 0.810, 5.226, 0.911, 2.341]


def test_a_bottom_inside_its_own_scatter_warns():
    """A tiny batch's loss, flat and quiet until the model moves, then scattered by more
    than it fell: the curve's noise (measured up to the bottom, mostly on the quiet stretch)
    is under 2% of its level and the descent 8.6x it, so no other line warned; the scatter
    at the bottom (the residual's MAD over 2h points before it and h after, h = 5 here, by
    hand) is twice the fall. The same trend with a tenth of that scatter does not warn."""
    lrs = np.geomspace(1e-7, 10.0, 100)
    loss = np.array(HASHED_S1)
    d = describe(lrs, loss)
    part = (d.raw - d.trend)[d.best - 10: d.best + 6]
    mad = 1.4826 * float(np.median(np.abs(part - np.median(part))))
    assert scatter(d, DEFAULT_RULES) == pytest.approx(mad, rel=1e-12)
    assert d.clear and not shallow(d, DEFAULT_RULES) and d.noise < NOISY * d.level
    assert mad > 1.5 * d.drop and ragged_bottom(d, DEFAULT_RULES)
    result = RangeTestResult.build(lrs, loss)
    assert result.kinds == ("ragged_bottom",)
    assert f"{lrs[d.best]:.3g}" in result.warnings[0] and "lrlab auto" in result.warnings[0]
    calm = d.trend + 0.1 * (loss - d.trend)
    assert RangeTestResult.build(lrs, calm).kinds == ()


def test_rules_follow_the_update_rule():
    import torch

    params = [torch.nn.Parameter(torch.zeros(1))]
    assert rules_for("adam") is ADAPTIVE_RULES and rules_for("momentum") is DEFAULT_RULES
    assert rules_for(torch.optim.AdamW(params)) is ADAPTIVE_RULES
    assert rules_for(torch.optim.SGD(params, lr=0.1)) is DEFAULT_RULES
    assert rules_for(torch.optim.ASGD(params, lr=0.1)) is DEFAULT_RULES


def test_another_packages_adaptive_optimizer_gets_the_adaptive_rules():
    """By class name (bitsandbytes' AdamW8bit) or by the hyperparameters only such rules
    take (Hugging Face's Adafactor: beta1, decay_rate); a plain SGD-like class keeps SGD's."""
    import torch

    params = [torch.nn.Parameter(torch.zeros(1))]

    class AdamW8bit(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 1e-3})

    class Renamed(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8})

    class HeavyBall(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1, "momentum": 0.9})

    assert rules_for(AdamW8bit(params)) is ADAPTIVE_RULES
    assert rules_for(Renamed(params)) is ADAPTIVE_RULES
    assert rules_for(HeavyBall(params)) is DEFAULT_RULES
    transformers = pytest.importorskip("transformers.optimization")
    adafactor = transformers.Adafactor(params, lr=1e-3, relative_step=False, scale_parameter=False)
    assert rules_for(adafactor) is ADAPTIVE_RULES


def test_divergence_rule_reduces_to_x_times_best_for_positive_losses():
    rng = np.random.default_rng(3)
    for best, s, first in rng.uniform(0.01, 10, size=(200, 3)):
        assert diverged(s, best, first, 4.0) == (s > 4.0 * best)
    # best <= 0: a rise of 3 x max(|best|, first - best)
    assert not diverged(6.5, -2.0, 1.0, 4.0)         # scale max(2, 3) = 3: limit -2 + 9 = 7
    assert diverged(7.5, -2.0, 1.0, 4.0)
    assert diverged(-1.0, -10.0, -9.0, 4.0) is False and diverged(21.0, -10.0, -9.0, 4.0)


# --- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize(("lrs", "values", "match"), [
    ([1e-3, 1e-2], [1.0], "equal lengths"),
    ([1e-3, 1e-2, 1e-1], [1.0, math.nan, 1.0], "nan or inf"),
    ([1e-3, 1e-3, 1e-1], [1.0, 1.0, 1.0], "strictly increasing"),
    ([-1e-3, 1e-2, 1e-1], [1.0, 1.0, 1.0], "positive"),
])
def test_bad_curves(lrs, values, match):
    for rule in (valley, steepest, min_div10, suggest, smith_readings):
        with pytest.raises(LrlabError, match=match):
            rule(lrs, values)


@pytest.mark.parametrize("bad", [
    {"window": 0.0}, {"improve": 1.5}, {"plateau": -0.1}, {"ragged": 1.0},
    {"divisor": 0.5}, {"cycle_divisor": 0.0}, {"clear": -1.0},
])
def test_bad_rules(bad):
    with pytest.raises(LrlabError, match="bad Rules"):
        Rules(**bad)


def test_bad_smoothing_and_trim():
    with pytest.raises(LrlabError, match="smooth"):
        ema([1.0, 2.0], 1.0)
    with pytest.raises(LrlabError, match="skip_start"):
        valley([1e-3, 1e-2, 1e-1], [3.0, 2.0, 1.0], skip_start=1.0)


def two_falls(lrs: np.ndarray) -> np.ndarray:
    """1.46 falling to 1.36 at 1e-3 .. 3e-3 (a classifier's outputs learning its classes'
    shares), back at 1.42 from 3e-2, a second fall to 1.3 at 0.1 .. 0.5 (its features
    learning), then a blow-up from 1 (three sigmoid layers under Adam)."""
    u = np.log10(lrs)
    curve = 1.46 - 0.1 * np.clip((u + 3) / 0.5, 0, 1)
    curve = np.where(u > -1.8, 1.36 + 0.06 * np.clip((u + 1.8) / 0.3, 0, 1), curve)
    curve = np.where(u > -1, 1.42 - 0.12 * np.clip((u + 1) / 0.7, 0, 1), curve)
    return np.where(u > 0, 1.3 + 2 * u ** 2, curve)


def test_halfway_down_reads_the_fall_into_the_bottom_not_an_earlier_one():
    """Half the whole drop (1.46 -> 1.3: 1.38) is first reached in the early fall, at
    1e-3 .. 3e-3, two decades below the fall that leads into the bottom; the trend then stands
    at 1.42 for half a decade, above that level by far more than half its noise, so the adaptive
    reading is the crossing on the last fall, near 10^-0.5 (the second fall's midway: where
    the line 1.42 -> 1.3 over 0.1 .. 0.5 reaches 1.38, 10^(-1 + 0.7/3)). SGD's bottom, and a
    curve with one fall, read as before."""
    lrs = log_grid(-7, 1, per_decade=12)
    loss = noisy(lrs, two_falls(lrs), 0.003, seed=2)
    d = describe(lrs, loss, ADAPTIVE_RULES)
    assert d.clear and 0.3 < lrs[d.best] <= 1
    assert lrs[d.crossing(0.5)] < 1e-2                         # the first crossing: the early fall
    i = into_bottom(d, ADAPTIVE_RULES)
    goal = d.level - 0.5 * d.drop
    assert d.trend[i] <= goal < d.trend[i - 1]                 # a crossing, downwards ...
    assert np.any(d.trend[d.crossing(0.5): i] > goal + d.noise / 2)   # ... after coming back up
    assert within(lrs[i], 10 ** (-1 + 0.7 / 3), STEP ** 2)
    r = suggest(lrs, loss, rules=ADAPTIVE_RULES)
    assert r.lr == pytest.approx(min(lrs[i], lrs[turn_up(d, ADAPTIVE_RULES)] / 4))
    assert within(r.lr, 10 ** (-1 + 0.7 / 3), STEP ** 2)
    sgd = describe(lrs, loss)                                  # the bottom: the first crossing
    assert into_bottom(sgd, DEFAULT_RULES) == sgd.crossing(DEFAULT_RULES.depth)
    u = np.log10(lrs)                                          # one fall, at 1e-3 .. 3e-3
    one = noisy(lrs, 1.46 - 0.1 * np.clip((u + 3) / 0.5, 0, 1) + 2 * u.clip(0) ** 2, 0.003,
                seed=2)
    d1 = describe(lrs, one, ADAPTIVE_RULES)
    assert into_bottom(d1, ADAPTIVE_RULES) == d1.crossing(0.5)


#: ``new_user.py``'s ``convnext adamw`` seed 1, the range test's raw losses (AdamW, 100 steps
#: from 1e-7 to 10, diverged at 3.27): a ConvNeXt whose layer-scaled blocks start as
#: identities, on 10 MNIST classes, its untrained loss 2.5.
CONVNEXT_S1 = [
    2.4457, 2.6386, 2.5756, 2.4914, 2.3841, 2.5135, 2.6032, 2.4609, 2.5935, 2.3992,
    2.5133, 2.5123, 2.5979, 2.6104, 2.4342, 2.4742, 2.4331, 2.4475, 2.5733, 2.5113,
    2.6068, 2.4692, 2.5676, 2.5469, 2.547, 2.4443, 2.5355, 2.5199, 2.394, 2.4595,
    2.4238, 2.3913, 2.5177, 2.5314, 2.5779, 2.463, 2.4483, 2.6235, 2.5013, 2.5955,
    2.4464, 2.5608, 2.5421, 2.4241, 2.3975, 2.4157, 2.3889, 2.466, 2.4262, 2.3678,
    2.3945, 2.2652, 2.3405, 2.3701, 2.3422, 2.2593, 2.316, 2.3326, 2.2755, 2.3207,
    2.2851, 2.3099, 2.3406, 2.3458, 2.3341, 2.2112, 2.3685, 2.102, 2.0867, 2.2962,
    2.5286, 2.4509, 2.5467, 2.3288, 2.455, 2.4077, 2.3978, 2.3192, 2.3601, 2.4639,
    2.4177, 2.3263, 2.5894, 2.4419, 2.4737, 2.349, 2.8244, 3.7118, 5.6775, 14.8248,
    23.5001, 29.3268, 65.2008, 243.7482,
]


def test_a_descent_only_to_the_loss_of_the_class_shares_is_read_flat():
    """The ConvNeXt's loss fell from 2.5 to ln 10 = 2.303, the loss of predicting each of
    10 balanced classes' share, and no further: a clear descent by itself (read halfway
    down, 0.000628, 54 points below the rates that train), but not ``clear`` x its noise
    below that prior, so it is read as a flat curve there: from where it broke upwards for
    good (0.89) / 10, and the reason says what the fall was. The advice names the
    denser test below the break, unless this test is that zoom already."""
    lrs = np.geomspace(1e-7, 10.0, 100)[: len(CONVNEXT_S1)]
    loss = np.array(CONVNEXT_S1)
    prior = math.log(10)
    d = describe(lrs, loss, ADAPTIVE_RULES)
    assert d.clear and math.isnan(d.prior)
    assert suggest(lrs, loss, rules=ADAPTIVE_RULES, diverged=True).lr < 1e-3
    flat = describe(lrs, loss, ADAPTIVE_RULES, prior)
    assert not flat.clear and flat.prior == prior and flat.level == prior
    assert d.trend[d.best] > prior - ADAPTIVE_RULES.clear * d.noise   # not clearly below
    assert flat.drop == pytest.approx(prior - d.trend[d.best], rel=1e-12)
    r = suggest(lrs, loss, rules=ADAPTIVE_RULES, diverged=True, prior=prior)
    at = lrs[broke_at(flat, ADAPTIVE_RULES, True)]
    assert 0.5 < at < 1.5 and r.lr == pytest.approx(at / ADAPTIVE_RULES.unclear)
    assert "fell only to 2.3, the loss of predicting each class's share" in r.why
    advice = next_step(lrs, loss, rules=ADAPTIVE_RULES, diverged=True, prior=prior)
    assert advice.startswith("the loss fell only to the loss of predicting each class's "
                             f"share and broke at {at:.3g}: run a denser test")
    assert f"start={at / 1000:.3g}" in advice and "steps=188" in advice
    zoomed = next_step(lrs, loss, rules=ADAPTIVE_RULES, diverged=True, prior=prior,
                       earlier=lrs[0] / 100)
    assert "denser" not in zoomed
    result = RangeTestResult.build(lrs, loss, rules=ADAPTIVE_RULES, stopped_early=True,
                                   reason="diverged at lr 3.27", prior=prior)
    assert result.suggestion == r and result.kinds[0] == "no_clear_descent"
    assert result.after(None).prior == prior


def test_a_descent_clearly_below_the_class_shares_reads_as_before():
    """A fall from 2.5 through ln 10 on to 1.2 (the denser test's shape on the same
    ConvNeXt) reads the same with the prior as without it: every field of its descent."""
    lrs = log_grid(-7, 1, per_decade=12)
    u = np.log10(lrs)
    curve = 2.5 - 0.2 * np.clip((u + 5), 0, 1) - 1.1 * np.clip((u + 2.5) / 1.5, 0, 1)
    loss = noisy(lrs, np.where(u > 0, 1.2 + 3 * u ** 2, curve), 0.02, seed=3)
    for rules in (DEFAULT_RULES, ADAPTIVE_RULES):
        d, p = describe(lrs, loss, rules), describe(lrs, loss, rules, math.log(10))
        assert d.clear and p.clear and math.isnan(p.prior)
        assert (d.level, d.top, d.best, d.drop, d.noise) == (p.level, p.top, p.best, p.drop,
                                                             p.noise)
        assert suggest(lrs, loss, rules=rules) == suggest(lrs, loss, rules=rules,
                                                          prior=math.log(10))
