"""The check of an adaptive rule's reading: rates trained side by side, where each ended."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import deep_sigmoid_task

from lrlab.search._below import FASTER, Below, below


def test_a_lower_rate_is_faster_when_it_ends_lower_by_a_share_of_the_higher_ones_start():
    """``FASTER`` of where the two started (the lower start: one thrown up by a catapult is
    no scale), not of where they ended: two losses near zero (an LSTM's, 0.02 and 0.003) are
    no evidence; a diverged rate loses to a finite one."""
    assert FASTER == 0.05
    check = Below((0.1, 0.0316), (1.5, 1.4), (1.1, 0.6), 224, 2.0)
    assert check.faster(0) and check.lr == 0.0316 and check.lowered
    near_zero = Below((0.1, 0.0316), (1.1, 1.1), (0.02, 0.003), 224, 2.0)
    assert not near_zero.faster(0) and near_zero.lr == 0.1 and not near_zero.lowered
    edge = Below((0.1, 0.0316), (2.0, 2.0), (1.0, 1.0 - 0.1 * 1.001), 224, 2.0)
    assert edge.faster(0) and not Below((0.1, 0.0316), (2.0, 2.0), (1.0, 0.9 + 1e-9), 224,
                                       2.0).faster(0)
    thrown = Below((0.34, 0.107), (1.78, 1.46), (1.47, 1.39), 128, 2.0)   # 0.08 > 5% of 1.46
    assert thrown.faster(0) and not Below((0.34, 0.107), (1.78, 1.78), (1.47, 1.39), 128,
                                         2.0).faster(0)
    walked = check.then(Below((0.01,), (1.4,), (0.9,), 224, 1.0))   # s/10 slower: s/sqrt(10)
    assert walked.lrs == (0.1, 0.0316, 0.01) and walked.lr == 0.0316 and walked.cost == 3.0
    assert walked.text() == "0.1 ended at 1.1 (from 1.5), 0.0316 ended at 0.6 (from 1.4), 0.01 ended at 0.9 (from 1.4)"
    blown = Below((0.1, 0.0316), (1.5, 1.4), (math.inf, 1.3), 224, 2.0)
    assert blown.faster(0) and blown.lr == 0.0316 and blown.text().startswith("0.1 diverged")
    every = Below((0.1, 0.0316, 0.01), (2.0,) * 3, (1.5, 1.2, 0.9), 224, 3.0)
    assert every.lr == 0.01                              # each beat the one above: the lowest


def test_the_outcome_says_why_a_rate_that_ended_a_little_lower_did_not_count():
    """``lrlab find --task user_shapes10:mil --optimizer adam`` said '0.986 ended at 0.757
    (from 60.1), 0.312 ended at 0.694 (from 7.77): no lower rate trained faster': the lower
    rate did end lower, by less than ``FASTER`` of the loss they started from (0.389); the
    clause now says that rule, and a lowered reading as before."""
    mil = Below((0.986, 0.312), (60.1, 7.77), (0.757, 0.694), 200, 1.33)
    assert not mil.lowered and mil.outcome() == (
        "no lower rate ended lower by more than 5% of the loss they started from, the "
        "reading stands")
    assert Below((0.1, 0.0316), (1.5, 1.4), (1.1, 0.6), 224, 2.0).outcome() == (
        "a lower rate trained faster, read 0.0316")


def test_below_keeps_where_each_rate_started_and_ended_as_a_sweep_trains_it():
    """The windows are read off the same population a sweep trains (weights, batches, steps):
    the means of each member's first and last 20 step losses, by hand in float64; a member
    that diverged ends at inf; the cost counts every member-epoch."""
    from lrlab import sweep
    from lrlab.tasks import get_task

    task = get_task("blobs")
    lrs = [0.3, 0.3 / 10 ** 0.5, 1e4]
    check = below(task, lrs, optimizer="adam", horizon=65, seed=2)
    ref = sweep(task, lrs=lrs[:2], optimizer="adam", epochs=math.ceil(65 / 10), seed=2,
                record_steps=True)
    steps = ref.steps[ref.steps["metric"] == "loss"]
    assert check.steps == 70 and check.lrs == tuple(lrs)
    for member, lr in zip(ref.members["member"], ref.members["lr"]):
        x = steps[steps["member"] == member].sort_values("step")["value"].to_numpy(np.float64)
        i = lrs.index(min(lrs, key=lambda v: abs(v - lr)))
        assert len(x) == 70 and lrs[i] == pytest.approx(lr)
        assert check.starts[i] == pytest.approx(x[:20].sum() / 20, rel=1e-12)
        assert check.ends[i] == pytest.approx(x[-20:].sum() / 20, rel=1e-12)
    assert check.ends[2] == math.inf and check.cost == pytest.approx(3 * 7)


def test_deep_sigmoid_layers_adam_reading_sits_at_chance_and_gives_way_to_a_third_of_it(
        monkeypatch):
    """Three sigmoid layers (PyTorch's default initialisation) on 4 tabular classes, Adam:
    the range test falls late (0.03-0.3) and turns up at 0.5, so it reads a quarter of that,
    0.127; trained there for 208 steps the loss sits at its untrained level (ln 4: the units
    saturate), while a third of it ends at a third of that, and a tenth of it higher again:
    the suggestion is the third (these layers train best at 0.01-0.05 with Adam). The test
    is read without the loss of the classes' shares here (its fall does not go three noise
    units below ln 4: read against it, a zoom below the break reads 0.037 at once, see
    :func:`test_deep_sigmoid_layers_fall_only_to_the_class_shares_loss`)."""
    from lrlab.search import _task_range, range_test

    monkeypatch.setattr(_task_range, "_shares", lambda task, seed, scored=None: (math.nan, 0))
    task = deep_sigmoid_task()
    r = range_test(task, seed=4, steps=100, validate=False, extend=True, optimizer="adam")
    check = r.below
    assert check is not None and check.lowered and check.steps >= 200
    assert "turns up at 0.509, / 4" in r.suggestion.why and check.lrs[0] > 0.1
    assert check.ends[0] == pytest.approx(math.log(4), rel=0.02)   # at chance, after 208 steps
    assert check.ends[1] < check.ends[0] / 2 < check.ends[2]
    assert r.suggestion.lr == pytest.approx(check.lrs[1]) == pytest.approx(check.lrs[0] / 10 ** 0.5)
    assert "a lower rate trained faster" in r.suggestion.why


def test_deep_sigmoid_layers_fall_only_to_the_class_shares_loss():
    """The same test read against the loss of its 4 classes' shares (about ln 4): its fall
    stays within three noise units of it, so the range test zooms below its break and reads
    that (0.037, where these layers train best), and says why."""
    from lrlab.search import range_test

    r = range_test(deep_sigmoid_task(), seed=4, steps=100, validate=False, extend=True,
                   optimizer="adam")
    assert r.prior == pytest.approx(math.log(4), abs=0.01) and r.first is not None
    assert r.kinds[0] == "class_shares" and 0.01 < r.suggestion.lr < 0.05
