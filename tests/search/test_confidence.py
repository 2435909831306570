"""Tests for how sure a search is (lrlab.search._confidence)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import macro_f1
from torch import nn

from lrlab.metrics import LabelCounts
from lrlab.search import assess, baseline, chance_score, choose, score_noise, setback
from lrlab.search._confidence import falling, not_falling
from lrlab.tasks import Split, Task, member_loss


def table(lrs, scores, finals=None, diverged=None) -> pd.DataFrame:
    return pd.DataFrame({"lr": lrs, "score": scores,
                         "final": finals if finals is not None else scores,
                         "diverged": diverged or [False] * len(lrs)})


def test_noise_of_a_share_is_the_binomial_standard_error() -> None:
    assert score_noise(0.9, "accuracy", 1000) == pytest.approx(math.sqrt(0.9 * 0.1 / 1000))
    assert score_noise(1.0, "auc", 100) == pytest.approx(math.sqrt(0.98 * 0.02 / 100))  # clipped
    assert score_noise(0.5, "loss", 100) == pytest.approx(0.05)
    assert score_noise(math.nan, "accuracy", 10) == math.inf


def test_nothing_learned_never_wins() -> None:
    # every rate within noise of chance: no learned rate, the pick is flagged
    t = table([1e-7, 1e-6, 1e-5], [0.251, 0.249, 0.262])
    choice = choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert choice.learned == () and math.isnan(choice.best_lr)
    confidence = assess(t, choice.lr, higher_is_better=True, chance=0.25, monitor="accuracy",
                        n=1000)
    assert any("no rate learned" in w for w in confidence.warnings)
    # one rate learned: it wins over a higher score that is chance plus noise... of a tie
    t = table([0.01, 0.1, 1.0], [0.26, 0.60, 0.25])
    assert choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000).lr == 0.1


def test_a_tie_goes_to_the_lower_rate_walking_down_from_the_best() -> None:
    noise = score_noise(0.90, "accuracy", 1000)  # ~0.0095
    t = table([0.01, 0.03, 0.1, 0.3], [0.70, 0.895, 0.90, 0.899])
    choice = choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert 0.005 < noise and choice.best_lr == 0.1 and choice.lr == 0.03
    assert choice.tied == (0.03,)
    # a lower rate that does not tie stops the walk
    t = table([0.03, 0.1], [0.88, 0.90])
    assert choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000).lr == 0.1


def test_a_walk_down_stops_at_a_dip_and_says_where() -> None:
    """A deep tanh MLP's Adam race of one epoch (finder-quality, seed 1, accuracy on 1,000
    validation examples): 0.00411 best at 0.576, 0.00231 below it at 0.559 (outside the
    noise), 0.0013 at 0.562 (inside it). The walk stops at the dip, as a rate outside the
    tie ends it (passing over it to 0.0013 lost 4.9 points in full); ``dipped`` says where,
    for the explanation ("ties go to the lower rate" then reads as not followed)."""
    t = table([0.000731, 0.0013, 0.00231, 0.00411, 0.013],
              [0.507, 0.562, 0.559, 0.576, 0.555])
    args = {"higher_is_better": True, "chance": 0.33, "monitor": "accuracy", "n": 1000}
    c = choose(t, **args)
    assert (c.lr, c.best_lr, c.tied, c.dipped) == (0.00411, 0.00411, (), (0.00231, 0.0013))
    # no rate below ties again: no dip; nor where the rate outside did not learn
    assert choose(t[t["lr"] != 0.0013], **args).dipped == ()
    gone = t.assign(score=[0.507, 0.562, math.nan, 0.576, 0.555],
                    diverged=[False, False, True, False, False])
    assert choose(gone, **args).lr == 0.00411 and choose(gone, **args).dipped == ()
    # a walk that reaches a tie first stops at the dip below it, the tie kept
    t2 = table([0.0013, 0.00231, 0.00411, 0.00731], [0.562, 0.52, 0.57, 0.576])
    c2 = choose(t2, **args)
    assert (c2.lr, c2.tied, c2.dipped) == (0.00411, (0.00411,), (0.00231, 0.0013))
    assert choose(t, **args, walk="up").dipped == ()


def test_a_tie_does_not_walk_down_where_the_rate_above_the_best_ties_it_too() -> None:
    """torch's TransformerEncoder on MNIST patches under Adam (``new_user.py`` ``patchenc
    adam``, seed 2): a 14-step race and its refinement, accuracy on 1,000 validation images.
    0.00231 scored best, 0.0013 below it and 0.00411 above it within the noise (0.015). The
    walk down took 0.0013, which scored 0.551 over the full training where 0.00215-0.01
    scored 0.633-0.675 (12.4 points lost): the rate above holding up as well shows no edge
    next to the best, so with ``held`` the tie stays at the best, and ``Choice.held`` says
    why."""
    t = table([0.000411, 0.000731, 0.0013, 0.00231, 0.00411, 0.013, 0.0411],
              [0.207, 0.24, 0.336, 0.351, 0.337, 0.265, 0.119])
    args = {"higher_is_better": True, "chance": 0.1, "monitor": "accuracy", "n": 1000,
            "held": True}
    c = choose(t, **args)
    assert (c.lr, c.best_lr, c.tied, c.held) == (0.00231, 0.00231, (), (0.00411, 0.0013))
    assert choose(t, **(args | {"held": False})).lr == 0.0013  # (``grid``'s walk: as before)
    # the rate above fell behind (seed 1: 0.313): the walk goes down, as before
    c1 = choose(t.assign(score=[0.222, 0.307, 0.343, 0.358, 0.313, 0.316, 0.106]), **args)
    assert (c1.lr, c1.tied, c1.held) == (0.0013, (0.0013,), ())
    # a rate more than half a decade above is no neighbour; one that did not learn holds
    # nothing up; a walk up is not held
    assert choose(t[t["lr"] != 0.00411].assign(score=[0.207, 0.24, 0.336, 0.351, 0.35, 0.119]),
                  **args).lr == 0.0013
    gone = t.assign(diverged=[False, False, False, False, True, False, False])
    assert choose(gone, **args).lr == 0.0013
    assert choose(t, **args, walk="up").lr == 0.00411
    # no tie below: nothing held
    assert choose(t.assign(score=[0.207, 0.24, 0.3, 0.351, 0.337, 0.265, 0.119]),
                  **args).held == ()


def test_a_tie_holds_where_a_rate_half_a_decade_above_ties_past_a_dip() -> None:
    """A masked LM under AdamW (``new_user.py`` ``mlm adamw``, seed 0; a 47-step race and its
    refinement, accuracy at the masked tokens of 500 validation sequences): 0.00495 scored
    best (0.2202), 0.00278 and 0.00157 below it within the noise (0.0185), the refinement's
    0.0088 above it outside (0.2003), and 0.0157 half a decade up inside it again (0.2062).
    The walk down to 0.00157 lost 13.9 points over the full training where 0.00464 lost none:
    a rate half a decade above that holds up as well shows no edge next to the best, a dip
    between them notwithstanding, so the tie stays at the best."""
    t = table([0.000495, 0.00157, 0.00278, 0.00495, 0.0088, 0.0157, 0.0495],
              [0.1619, 0.2079, 0.2184, 0.2202, 0.2003, 0.2062, 0.1613])
    args = {"higher_is_better": True, "chance": 0.1613, "monitor": "accuracy", "n": 500,
            "held": True}
    c = choose(t, **args)
    assert (c.lr, c.best_lr, c.tied, c.held) == (0.00495, 0.00495, (), (0.0157, 0.00157))
    # 0.0157 outside the noise too: the walk goes down, as before
    assert choose(t.assign(score=[0.1619, 0.2079, 0.2184, 0.2202, 0.2003, 0.198, 0.1613]),
                  **args).lr == 0.00157
    # a rate between them that did not learn is the edge: the walk goes down
    gone = t.assign(diverged=[False, False, False, False, True, False, False])
    assert choose(gone, **args).lr == 0.00157
    # more than half a decade up is no neighbour
    assert choose(t.assign(lr=[0.000495, 0.00157, 0.00278, 0.00495, 0.0088, 0.0166, 0.0495]),
                  **args).lr == 0.00157


def test_lower_is_better_scores_and_diverged_rates() -> None:
    t = table([0.01, 0.1, 1.0], [0.5, 0.2, math.nan], diverged=[False, False, True])
    choice = choose(t, higher_is_better=False, chance=1.0, monitor="loss", n=400)
    assert choice.lr == 0.1 and choice.learned == (0.01, 0.1)


def test_warnings_for_a_pick_next_to_a_collapse_at_the_edge() -> None:
    t = table([0.1, 0.3], [0.90, 0.95], finals=[0.9, 0.25])
    c = assess(t, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.margin == pytest.approx(0.05) and c.runner_up == 0.1
    edge = ("the pick 0.3 is the highest rate searched: a higher one might be better; "
            "search on to 3")
    assert c.warnings == (edge,)
    c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.margin == pytest.approx(-0.05)
    assert any("0.3 collapsed to chance" in w for w in c.warnings)
    assert any("lowest rate searched" in w for w in c.warnings)
    # a decade up is not a neighbour; a clear margin and no warning: sure
    t = table([0.01, 0.1, 1.0], [0.5, 0.9, 0.4], diverged=[False, False, True])
    c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == () and c.sure and "clear" in c.text()
    assert c.to_dict()["warnings"] == [] and c.to_dict()["sure"] is True


def test_chance_is_the_untrained_model_or_the_majority_class() -> None:
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0] * 15 + [1] * 5)
    task = Task(name="t", train=Split(x, y), val=Split(x, y), num_classes=2,
                model=lambda: nn.Linear(3, 2))
    model = task.init_model(3)
    with torch.no_grad():
        expected = float((model(x).argmax(1) == y).double().mean())
    base = baseline(task, 3)
    assert base.untrained == pytest.approx(expected) and base.n == 20
    assert base.chance == pytest.approx(max(expected, 0.75))      # the majority class
    labels = LabelCounts(examples=20, positions=20, counts=(15, 5))
    assert chance_score("accuracy", 0.2, labels) == pytest.approx(0.75)
    assert chance_score("error", 0.8, labels) == pytest.approx(0.25)
    assert chance_score("accuracy", 0.8, labels) == 0.8          # the untrained model
    assert chance_score("auc", 0.4, labels) == 0.5
    reg = Task(name="r", train=Split(x, x[:, 0]), val=Split(x, x[:, 0]), num_classes=None,
               model=lambda: nn.Linear(3, 1), monitor="loss",
               loss=lambda out, t: (out.squeeze(-1) - t).square())
    model = reg.init_model(0)
    with torch.no_grad():
        mse = float((model(x).squeeze(-1) - x[:, 0]).square().mean())
    base = baseline(reg, 0)
    assert base.untrained == pytest.approx(mse, rel=1e-6) and base.chance == base.untrained


def test_an_unstable_rate_never_wins_and_nothing_learned_takes_the_highest_stable_rate() -> None:
    # a recurrent net's race: 10 scored 0.69 once from a training loss ten times the start
    t = table([0.1, 0.316, 1.0, 3.16, 10.0], [0.504, 0.504, 0.504, 0.536, 0.69])
    t["stable"] = [True, True, True, False, False]
    choice = choose(t, higher_is_better=True, chance=0.504, monitor="accuracy", n=800)
    assert choice.learned == () and choice.lr == 1.0       # not 10, not the best of the ties
    c = assess(t, choice.lr, higher_is_better=True, chance=0.504, monitor="accuracy", n=800)
    assert any("no rate learned" in w for w in c.warnings)
    assert c.text() == "no rate beat chance"                # no margin against a lucky 10
    t["stable"] = True                                      # without the column's verdict
    assert choose(t, higher_is_better=True, chance=0.504, monitor="accuracy", n=800).lr == 10.0


def test_ties_walk_up_within_the_races_swings_when_asked() -> None:
    # an MSE regression after 6 of 40 epochs: 0.1 ahead of 0.215 by more than the validation
    # noise (~0.008) but far less than 0.215's epoch-to-epoch swings; 0.464 failed
    t = table([0.0464, 0.1, 0.215, 0.464], [0.256, 0.255, 0.277, 0.848])
    t["setback"] = [0.0, 0.079, 0.362, 0.033]
    args = {"higher_is_better": False, "chance": 0.85, "monitor": "loss", "n": 1000}
    assert choose(t, **args).lr == 0.0464                        # down: the lower tie
    up = choose(t, **args, swing=0.5, walk="up")
    assert up.lr == 0.215 and up.best_lr == 0.1 and up.tied == (0.215,)
    # smooth curves keep the validation noise alone: a higher rate 2 points behind stays out
    t = table([0.464, 1.0, 2.15], [0.766, 0.753, 0.743])
    t["setback"] = [0.0, 0.0, 0.0]
    acc = {"higher_is_better": True, "chance": 0.25, "monitor": "accuracy", "n": 1000}
    assert choose(t, **acc, swing=0.5, walk="up").lr == 1.0      # 0.013 <= noise 0.0134
    assert choose(t, **acc, swing=0.5, walk="up").tied == (1.0,)


def test_a_walk_down_on_a_loss_stops_at_a_rate_the_best_still_outpaces() -> None:
    # a SIREN's Adam race, seed 0, after 3 of 20 epochs: 0.000456 best, 0.000256 within the
    # validation noise (0.00049) but its loss fell less in the last epoch (0.0060 against
    # 0.0084); in full, 0.000456 left 0.4% more validation loss than the grid's best, 0.000256
    # 23.7%
    t = table([0.000144, 0.000256, 0.000456, 0.000811], [0.01229, 0.01030, 0.01025, 0.01932])
    t["pace"] = [0.00753, 0.00598, 0.00839, 0.00746]
    args = {"higher_is_better": False, "chance": 0.21, "monitor": "loss", "n": 432}
    assert choose(t, **args).lr == 0.000256                       # unpaced: the lower tie
    paced = choose(t, **args, paced=True)
    assert paced.lr == 0.000456 and paced.best_lr == 0.000456 and paced.tied == ()
    # a lower rate gaining as fast to within the noise keeps its tie
    t["pace"] = [0.00753, 0.00800, 0.00839, 0.00746]
    assert choose(t, **args, paced=True).lr == 0.000256
    # a race of one epoch has no pace (0 for every rate): the walk as before
    t["pace"] = 0.0
    assert choose(t, **args, paced=True).lr == 0.000256


def test_setback_is_the_mean_step_backwards() -> None:
    assert setback(np.array([0.1, 0.2, 0.3]), higher_is_better=True) == 0.0
    assert setback(np.array([0.5, 0.3, 0.6]), higher_is_better=True) == pytest.approx(0.1)
    assert setback(np.array([0.68, 1.32, 0.55]), higher_is_better=False) == pytest.approx(0.32)
    assert setback(np.array([0.5, np.nan]), higher_is_better=True) == 0.0


def test_a_pick_behind_the_best_reads_as_a_tie_not_a_negative_margin() -> None:
    t = table([0.1, 0.3], [0.899, 0.90])
    c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.margin == pytest.approx(-0.001)
    assert c.text() == ("a tie: 0.0010 behind the best, 0.3, within noise (0.0095); took the "
                        "lower rate")
    assert "-" not in c.text()
    c = assess(t, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.text().startswith("margin +0.0010 over 0.1") and "within noise" in c.text()


def test_a_tie_warns_only_across_rates_far_apart() -> None:
    near = table([0.1, 0.3, 1.0], [0.899, 0.90, 0.70])
    c = assess(near, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == ()                                 # a neighbour: in the margin line
    far = table([0.01, 0.1, 0.3, 1.0], [0.899, 0.70, 0.90, 0.5])
    c = assess(far, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    tie = ("a tie across more than half a decade: 0.01 scored within noise (0.0095) of the "
           "pick: train the pick and 0.01 for the full epochs and keep the better")
    assert c.warnings == (tie,)


def test_a_tie_warns_when_any_tied_rate_lies_far_though_the_runner_up_is_near() -> None:
    """A walk down a tie stops a quarter decade below the runner-up while a rate a decade
    and more above scored within noise too (the GRU with Adam, seed 7: 0.0047 picked, the
    tie reaching 0.0835, 6.6 points lost unwarned): the farthest tied rate is named."""
    t = table([0.0047, 0.0084, 0.0264, 0.0835, 0.264],
              [0.900, 0.905, 0.899, 0.903, 0.60])
    c = assess(t, 0.0047, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.runner_up == pytest.approx(0.0084)                  # near: the margin line's
    assert c.kinds == ("wide_tie",)
    assert c.warnings[0].startswith("a tie across more than half a decade: 0.0835 scored")
    near = table([0.0047, 0.0084, 0.0835], [0.900, 0.903, 0.70])   # the far rate lost
    c = assess(near, 0.0047, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == ()


def test_chance_on_a_loader_task_is_the_same_as_on_its_tensors() -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(30, 3, generator=g), torch.tensor([0] * 20 + [1] * 10)
    plain = Task(name="t", train=Split(x, y), val=Split(x, y), num_classes=2,
                 model=lambda: nn.Linear(3, 2))
    data = torch.utils.data.TensorDataset(x, y)
    loader = Task(name="t", train=data, val=torch.utils.data.DataLoader(data, batch_size=7),
                  num_classes=2, model=lambda: nn.Linear(3, 2), batch_size=7)
    assert not loader.in_memory
    on_loader, on_tensors = baseline(loader, 2), baseline(plain, 2)
    assert on_loader.untrained == pytest.approx(on_tensors.untrained)
    assert on_loader.chance == pytest.approx(on_tensors.chance)
    assert on_loader.chance >= 20 / 30 - 1e-12 and on_loader.n == on_tensors.n == 30


def _flat(lrs, first, last, **more) -> pd.DataFrame:
    return pd.DataFrame({"lr": lrs, "diverged": [False] * len(lrs), "first": first,
                         "last": last, **more})


def test_nothing_learned_picks_the_highest_rate_still_falling_near_the_untrained_loss() -> None:
    from lrlab.search._confidence import HOLD, falling

    # 0.1 and 1 fall and end near the untrained loss; 3.16 falls too but sits 2% above it
    # (stuck too high), 10 rises
    t = _flat([0.1, 1.0, 3.16, 10.0], [0.996, 1.004, 1.03, 2.0], [0.994, 0.999, 1.02, 2.4])
    assert falling(t) == 1.0
    # ending exactly at the bound still counts; just above does not
    assert falling(_flat([0.1, 1.0], [1.05, 1.05], [0.99, HOLD])) == 1.0
    assert falling(_flat([0.1, 1.0], [1.05, 1.05], [0.99, HOLD + 1e-6])) == 0.1
    # a rate whose loss rose is stuck, however close to the untrained model's
    assert falling(_flat([0.1, 1.0], [0.99, 0.999], [0.98, 1.0])) == 0.1
    assert falling(_flat([0.1, 1.0], [0.99, 0.999], [0.98, 0.998])) == 1.0
    assert math.isnan(falling(_flat([0.1, 1.0], [0.99, 0.999], [0.995, 1.0])))
    # unstable or diverged rates are out, in any row order
    t = _flat([1.0, 0.1], [0.99, 0.99], [0.98, 0.98], stable=[False, True])
    assert falling(t) == 0.1
    t = _flat([0.1, 1.0], [0.99, 0.99], [0.98, 0.98])
    t.loc[1, "diverged"] = True
    assert falling(t) == 0.1


def test_nothing_learned_falls_back_on_no_rate_whose_validation_loss_blew_up() -> None:
    """A ResNet with BatchNorm under momentum, a 12-step race at chance: every rate's
    training loss fell, but 0.0765 and 0.242 ended with validation losses of 132 and 37,000
    from an untrained 1.38 (0.242 scored 57% over the full training, 0.0242 98%). Without
    the untrained loss, or at BLOWN times it, the highest rate still falling."""
    from lrlab.search._confidence import BLOWN, falling

    t = _flat([0.0242, 0.0765, 0.242, 0.765], [1.0] * 4, [0.8275, 0.8051, 0.9477, 1.706],
              vloss=[2.041, 132.7, 37196.0, 14683.0], stable=[True, True, True, False])
    assert falling(t, untrained=1.383) == 0.0242
    assert falling(t) == 0.242
    assert falling(t.assign(vloss=[2.041, 132.7, BLOWN * 1.383, 14683.0]), untrained=1.383) == 0.242
    assert math.isnan(falling(t.assign(vloss=[3.0, 132.7, 37196.0, 14683.0]), untrained=1.383))


def test_by_loss_ranks_no_rate_whose_training_loss_blew_up() -> None:
    """A sum-pooled graph net's one-epoch race (every rate at chance): 0.215 and 0.0681
    blew up (training loss 27x and 10x the untrained model's) and fell back to answering the
    class frequencies, the lowest validation losses; 0.0215 (1.3x) is the rate that trained."""
    from lrlab.search._confidence import BLOWN, by_loss

    t = _flat([0.00215, 0.00681, 0.0215, 0.0681, 0.215], [1.0] * 5,
              [0.983, 0.809, 1.321, 10.52, 27.39], vloss=[1.135, 1.196, 0.6487, 0.5923, 0.5704],
              stable=[True] * 5)
    for walk in ("up", "down"):
        assert by_loss(t, untrained=1.697, n=300, walk=walk) == 0.0215
    # without the training loss the lowest validation loss wins; at BLOWN it still counts
    assert by_loss(t.drop(columns=["first", "last"]), untrained=1.697, n=300) == 0.215
    assert by_loss(t.assign(last=[0.983, 0.809, 1.321, 10.52, BLOWN]), untrained=1.697,
                   n=300) == 0.215
    # every rate blew up: nothing to rank
    assert math.isnan(by_loss(t.assign(last=[3.0] * 5), untrained=1.697, n=300))


def test_choose_says_which_rule_picked_when_nothing_learned() -> None:
    """Nothing learned: the Choice names its rule (the highest stable rate, else the best
    score); a learned pick names none."""
    t = pd.DataFrame({"lr": [0.01, 0.1, 1.0], "score": [0.26, 0.25, 0.24],
                      "diverged": [False, False, False], "stable": [True, True, False]})
    kw = {"higher_is_better": True, "chance": 0.25, "monitor": "accuracy", "n": 100}
    stable = choose(t, **kw)
    assert (stable.lr, stable.how) == (0.1, "the highest stable rate")
    none = choose(t.assign(stable=False), **kw)
    assert (none.lr, none.how) == (0.01, "the best score, no rate being stable")
    assert choose(t.drop(columns="stable"), **kw).how == "the best score"
    assert choose(t.assign(score=[0.5, 0.9, 0.3]), **kw).how == ""


def test_grid_advice_when_no_rate_stayed_finite() -> None:
    """Every rate diverged or ended non-finite: the advice points below the lowest rate
    (review: it advised rates above the largest, or between two that both diverged)."""
    from lrlab.search._grid import _nothing_learned

    t = pd.DataFrame({"lr": [0.1, 1.0, 10.0], "diverged": [False, True, True],
                      "final": [float("nan"), 0.3, 0.3]})
    assert _nothing_learned(t).startswith("no rate beat chance and none stayed finite: try "
                                          "rates below 0.1")
    assert "above 0.1" in _nothing_learned(t.assign(final=[0.3, 0.3, 0.3],
                                                    diverged=[False, False, True]).iloc[:1])


def test_a_higher_neighbour_that_never_learned_is_a_note_when_the_pick_held() -> None:
    """The edge itself, seen: 0.3 never beat chance above a pick whose curve held."""
    t = table([0.03, 0.1, 0.3], [0.80, 0.90, 0.26], finals=[0.80, 0.90, 0.25])
    c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == ()
    assert c.notes == (("the next higher rate 0.3 collapsed to chance without having learned: "
                       "the pick sits just below the edge of stability, and its own curve held"),)
    assert c.to_dict()["notes"] == list(c.notes)
    assert c.explained("So lr=0.1.") == f"So lr=0.1. T{c.notes[0][1:]}."
    gone = table([0.03, 0.1, 0.3], [0.80, 0.90, math.nan], finals=[0.80, 0.90, math.nan],
                 diverged=[False, False, True])
    c = assess(gone, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == () and "0.3 diverged without having learned" in c.notes[0]


def test_a_higher_neighbour_that_learned_then_failed_or_a_pick_that_fell_back_warns() -> None:
    learned = table([0.03, 0.1, 0.3], [0.80, 0.90, 0.85], finals=[0.80, 0.90, 0.25])
    c = assess(learned, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert len(c.warnings) == 1 and c.notes == ()
    assert c.warnings[0].startswith("the next higher rate 0.3 collapsed to chance after it had "
                                    "learned (best 0.85)")
    # a regression: the next rate reached 0.43 (from 0.87) and then blew up to 4.0
    loss = table([0.06, 0.19, 0.33], [0.25, 0.246, 0.43], finals=[0.25, 0.246, 3.98])
    c = assess(loss, 0.19, higher_is_better=False, chance=0.87, monitor="loss", n=1000)
    assert any("0.33 did not end clearly below the untrained model's loss after it had "
               "learned" in w for w in c.warnings)
    # a VAE's ELBO (the race ranked by its loss): the neighbour ended 7% below the untrained
    # model's loss, within the noise; said as that, not "collapsed to chance"
    elbo = table([0.0015, 0.0046, 0.0146], [378.5, 349.2, 375.7],
                 finals=[378.5, 349.2, 375.7])
    c = assess(elbo, 0.0046, higher_is_better=False, chance=404.9, monitor="loss", n=500)
    assert c.notes == (("the next higher rate 0.0146 did not end clearly below the untrained "
                        "model's loss without having learned: the pick sits just below the "
                        "edge of stability, and its own curve held"),)
    fell = table([0.03, 0.1, 0.3], [0.80, 0.90, 0.26], finals=[0.80, 0.84, 0.25])
    c = assess(fell, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.warnings == (("the next higher rate 0.3 collapsed to chance, and the pick's own "
                          "score fell back from 0.9 to 0.84 by its last epoch: the pick sits "
                          "near the edge of stability"),)


def test_a_pick_at_an_edge_warns_only_while_the_scores_rise_towards_it() -> None:
    # an LSTM with Adam: 100% from the lowest rate up; the tie walked down to the edge
    plateau = table([0.004, 0.007, 0.012, 0.67], [1.0, 1.0, 1.0, 0.44], finals=[1.0, 1.0, 1.0, 0.33])
    c = assess(plateau, 0.004, higher_is_better=True, chance=0.35, monitor="accuracy", n=400)
    assert c.warnings == ()
    assert c.notes == (("the pick 0.004 is the lowest rate searched, on a plateau: 0.007 beside "
                       "it scored within the noise"),)
    rising = table([0.056, 0.1, 0.18], [0.64, 0.43, 0.26])
    c = assess(rising, 0.056, higher_is_better=True, chance=0.26, monitor="accuracy", n=400)
    assert c.warnings == (("the pick 0.056 is the lowest rate searched: a lower one might be "
                          "better; search on to 0.0056"),)
    top = table([3.16, 5.62, 10.0], [0.58, 0.61, 0.65])
    c = assess(top, 10.0, higher_is_better=True, chance=0.26, monitor="accuracy", n=1000)
    assert c.warnings == (("the pick 10 is the highest rate searched: a higher one might be "
                          "better; search on to 100"),)
    # the inner neighbour learned but did not hold (back at chance): the edge still warns
    held_not = table([0.1, 0.3], [0.90, 0.905], finals=[0.9, 0.25])
    c = assess(held_not, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert any("lowest rate searched" in w for w in c.warnings)


def test_a_race_at_its_lowest_rate_names_the_full_trainings_not_a_lower_search() -> None:
    """A short race's lowest rate ahead of the raced rate above it, which held (auto on a
    depthwise-separable BatchNorm net with Adam, seed 0: 0.00454 0.593, 0.00807 0.515): the
    full training's best lay 2x above the pick (0.01 0.973 against 0.893), and a tenth of it
    scored 0.81, so the line names the pick and 0.00807 in full, not "search on to
    0.000454". A grid's (full trainings') lowest pick keeps its advice to search lower."""
    t = table([0.00454, 0.00807, 0.0144, 0.0255], [0.593, 0.515, 0.395, 0.523])
    common = {"higher_is_better": True, "chance": 0.328, "monitor": "accuracy", "n": 600}
    raced = assess(t, 0.00454, **common, raced=True)
    said = [w for w in raced.warnings if w.kind == "lowest_searched"]
    assert said == [("the pick 0.00454 is the lowest rate raced and scored ahead of 0.00807 "
                     "above it, but a short race favours low rates, so the full training's best may "
                     "lie above it; train the pick and 0.00807 for "
                     "the full epochs and keep the better")]
    grid = assess(t, 0.00454, **common)
    assert [w for w in grid.warnings if w.kind == "lowest_searched"] == [
        ("the pick 0.00454 is the lowest rate searched: a lower one might be better; search on "
         "to 0.000454")]
    # a raced neighbour that did not hold (back at chance) says nothing about the full
    # training's best: the line stays as it was
    fell = table([0.1, 0.3], [0.90, 0.905], finals=[0.9, 0.25])
    c = assess(fell, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000,
               raced=True)
    assert any("search on to 0.01" in w for w in c.warnings)



def test_a_ties_advice_names_its_rates_when_it_is_the_one_next_step() -> None:
    """A tie's line said 'train both for the full epochs'; where another line advised too,
    one_next_step (6c59e7d) kept that advice apart from its line, and auto printed
    'next: train both for the full epochs', both of nothing. The tie lines name the rates."""
    from lrlab.search._confidence import one_next_step
    from lrlab.search._findings import Finding

    few = Finding("a short race (40 optimizer steps of 600): check the pick against the rates "
                  "half a decade either side for the full epochs", "few_steps")
    far = table([0.01, 0.1, 0.3, 1.0], [0.899, 0.70, 0.90, 0.5])
    tie = assess(far, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    one = one_next_step(dataclasses.replace(tie, warnings=(*tie.warnings, few)))
    assert one.next_step == "train the pick and 0.01 for the full epochs and keep the better"
    t = table([0.0647, 0.205, 0.364, 0.647, 1.15], [2213.0, 2214.0, 1517.0, 1474.0, 1935.0])
    t["pace"] = [23603.0, 7489.0, 3337.0, 2387.0, 2049.0]
    moving = assess(t, 0.364, higher_is_better=False, chance=41448.0, monitor="loss", n=400)
    one = one_next_step(dataclasses.replace(moving, warnings=(*moving.warnings, few)))
    assert one.next_step == "train the pick and 0.647 for the full epochs"

def test_a_tie_on_a_loss_still_falling_fast_warns() -> None:
    """An Adam regression on unscaled targets: 0.364 and 0.647 tied at a loss of about 1,500
    after 2 of 10 epochs, both still falling by thousands an epoch."""
    t = table([0.0647, 0.205, 0.364, 0.647, 1.15], [2213.0, 2214.0, 1517.0, 1474.0, 1935.0])
    t["pace"] = [23603.0, 7489.0, 3337.0, 2387.0, 2049.0]
    c = assess(t, 0.364, higher_is_better=False, chance=41448.0, monitor="loss", n=400)
    assert len(c.warnings) == 1 and c.warnings[0].startswith(
        "a tie still moving: 0.647 scored within noise (75.85) of the pick while both losses "
        "still fell by more than 2x that in the last epoch (3337 and 2387)")
    # settled curves (each fell by less than twice the noise): the tie is the margin line's
    c = assess(t.assign(pace=[10.0, 10.0, 100.0, 60.0, 5.0]), 0.364, higher_is_better=False,
               chance=41448.0, monitor="loss", n=400)
    assert c.warnings == ()
    # one of the two still falling fast, the other settled: not both moving, no warning
    c = assess(t.assign(pace=[23603.0, 7489.0, 3337.0, 60.0, 2049.0]), 0.364,
               higher_is_better=False, chance=41448.0, monitor="loss", n=400)
    assert c.warnings == ()
    # an accuracy approaches a ceiling both rates share: no warning; nor without paces
    acc = table([0.1, 0.3], [0.80, 0.805]).assign(pace=[0.1, 0.1])
    assert assess(acc, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy",
                  n=1000).warnings == ()
    assert assess(t.drop(columns="pace"), 0.364, higher_is_better=False, chance=41448.0,
                  monitor="loss", n=400).warnings == ()


def test_a_pick_not_raced_says_so_and_whose_margin_it_reads() -> None:
    """A pick moved below a raced rate (auto's quarter decade under a rate whose neighbour
    blew up) was never raced: its margin is the raced rate's, and the clause says so
    (before: 'margin +0.0600 over 0.1', as if the pick itself had led the race)."""
    import dataclasses

    t = table([0.1, 0.3, 1.0], [0.84, 0.90, 0.35])
    raced = assess(t, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    moved = dataclasses.replace(raced, lr=0.178, scored=0.3)
    assert moved.text() == ("0.178 not raced, its evidence 0.3's race: margin +0.0600 over 0.1 "
                            "against noise 0.0095 (clear)")
    assert raced.sure and not moved.sure
    assert moved.to_dict()["scored"] == 0.3 and raced.to_dict()["scored"] is None
    assert dataclasses.replace(moved, margin=math.nan, runner_up=math.nan).text() == (
        "0.178 not raced, its evidence 0.3's race: no other rate to compare")


def _batched_f1(y: torch.Tensor, pred: int, size: int, classes: list[int]) -> float:
    """sklearn's macro-F1 of always answering ``pred``, per batch of ``size``, weighted by
    the batch's examples (as an evaluation averages a metric giving one value a batch)."""
    from sklearn.metrics import f1_score

    total = 0.0
    for part in y.split(size):
        answers = torch.full_like(part, pred)
        total += len(part) * f1_score(part.numpy(), answers.numpy(), labels=classes,
                                      average="macro", zero_division=0)
    return total / len(y)


def test_chance_of_a_classifiers_own_metric_is_its_value_on_majority_answers() -> None:
    """A macro-F1 on 7% positives: always answering the majority class scores ~0.48, the
    level a race's rates sat at; lrlab reads it as chance (it was 'not known' before)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g)
    y = (x[:, 0] > 1.5).long()
    task = Task(name="f1", train=Split(x[:200], y[:200]), val=Split(x[200:], y[200:]),
                num_classes=2, model=lambda: nn.Linear(4, 2), metrics={"f1": macro_f1},
                monitor="f1")
    base = baseline(task, 0)
    assert math.isnan(base.untrained) and base.n == 100
    assert base.chance == pytest.approx(_batched_f1(y[200:], 0, 100, [0, 1]), rel=1e-6)
    # a loader of batches of 16 scores (and so chances) per batch, as the races score it
    data = torch.utils.data.TensorDataset(x[200:], y[200:])
    loader = task.replace(train=torch.utils.data.TensorDataset(x[:200], y[:200]),
                          val=torch.utils.data.DataLoader(data, batch_size=16), batch_size=16)
    on_loader = baseline(loader, 0)
    assert on_loader.chance == pytest.approx(_batched_f1(y[200:], 0, 16, [0, 1]), rel=1e-6)
    assert on_loader.chance != pytest.approx(base.chance, rel=1e-4)  # the batches differ


def test_majority_answers_follow_the_models_own_output_layout() -> None:
    """Classes on axis 1 (a tagger read as nn.CrossEntropyLoss reads it, with -100 padding
    no class counts) and one binary logit against 0/1 floats: the metric sees outputs of
    its model's own shape that answer the majority class."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 5, 6, generator=g)
    y = torch.where(x[:, 0] > 1.0, 2, torch.where(x[:, 1] > 1.2, 1, 0))  # (B, 6): 0 mostly
    y[:, -1] = -100
    seen = []

    def tagged_accuracy(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(out.shape))
        keep = t != -100
        return (out.argmax(1)[keep] == t[keep]).float().mean()

    data = torch.utils.data.TensorDataset(x, y)
    task = Task(name="tags", train=data, val=torch.utils.data.DataLoader(data, batch_size=64),
                model=lambda: nn.Conv1d(5, 3, 1), loss=member_loss(nn.CrossEntropyLoss()),
                metrics={"tagged": tagged_accuracy}, monitor="tagged", batch_size=16)
    base = baseline(task, 0)
    kept = y[:, :-1]
    major = int(torch.bincount(kept.flatten()).argmax())
    assert base.chance == pytest.approx(float((kept == major).double().mean()), rel=1e-6)
    assert seen[-1][1:] == (3, 6)                       # (B, C, T): the model's layout
    # one logit per example under BCEWithLogits: the majority class 1 answered by +MARGIN
    xb = torch.randn(80, 3, generator=g)
    yb = (xb[:, :1] > -1.0).float()                     # (B, 1), ~84% ones

    def recall_of_zeros(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        said = torch.sigmoid(out.reshape(-1)) > 0.5
        zeros = t.reshape(-1) == 0
        return (~said & zeros).sum() / zeros.sum().clamp(min=1)

    pair = torch.utils.data.TensorDataset(xb, yb)
    binary = Task(name="bin", train=pair, val=torch.utils.data.DataLoader(pair, batch_size=80),
                  model=lambda: nn.Linear(3, 1), loss=member_loss(nn.BCEWithLogitsLoss()),
                  metrics={"zeros": recall_of_zeros}, monitor="zeros", batch_size=16)
    assert baseline(binary, 0).chance == 0.0            # always 1: no zero recalled


def test_chance_of_an_own_metric_stays_unknown_where_it_cannot_be_read() -> None:
    """A metric that raises on constant answers, and a regression: chance is not known."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(40, 3, generator=g)
    y = (x[:, 0] > 0.8).long()

    def picky(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if float(out.std()) > 1.0:
            raise ValueError("constant outputs")
        return (out.argmax(-1) == t).float()

    task = Task(name="p", train=Split(x, y), val=Split(x, y), num_classes=2,
                model=lambda: nn.Linear(3, 2), metrics={"picky": picky}, monitor="picky")
    assert math.isnan(baseline(task, 0).chance)
    reg = Task(name="r", train=Split(x, x[:, 0]), val=Split(x, x[:, 0]), num_classes=None,
               model=lambda: nn.Linear(3, 1), loss=lambda out, t: (out.squeeze(-1) - t).square(),
               metrics={"mae": lambda out, t: (out.squeeze(-1) - t).abs()}, monitor="mae")
    assert math.isnan(baseline(reg, 0).chance)


def _bootstrap(counts, wrong, metric, draws=400, seed=0):
    """A classifier's predictions on labels of ``counts`` with a share ``wrong[c]`` of each
    class's answers wrong, scored by ``metric``; its score and the standard deviation of
    that score over ``draws`` resamples of the validation examples."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    pred = y.copy()
    flip = rng.random(len(y)) < np.asarray(wrong)[y]
    pred[flip] = (y[flip] + rng.integers(1, len(counts), flip.sum())) % len(counts)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(draws)]
    return metric(y, pred), float(np.std([metric(y[i], pred[i]) for i in draws]))


@pytest.mark.parametrize(("counts", "wrong"), [
    ((187, 13), (0.01, 0.15)),         # the new user's 7% positives, a good model
    ((187, 13), (0.005, 0.8)),         # near the majority level: few positives answered
    ((173, 27), (0.02, 0.1)),
    ((275, 77, 31, 17), (0.1, 0.3, 0.4, 0.5)),
    ((100, 100), (0.1, 0.1)),          # balanced: the plain binomial on every example
])
def test_a_share_of_the_tasks_own_is_as_noisy_as_its_rare_classes(counts, wrong) -> None:
    """The noise of a macro-F1 or a balanced accuracy (sklearn's, over bootstrap resamples of
    the validation examples) against the binomial on ``balanced_examples``: within 0.7-1.4x
    of it, where the loss formula ``|s| / sqrt(n)`` it had before was off by up to 2.8x
    (0.067 for a macro-F1 of 0.947 on 27 positives of 200, against 0.024)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    labels = LabelCounts(examples=sum(counts), positions=sum(counts), counts=counts)
    many = labels.balanced_examples()
    assert many == pytest.approx(len(counts) ** 2 / sum(1 / c for c in counts))
    macro = lambda y, p: f1_score(y, p, average="macro", labels=range(len(counts)),
                                  zero_division=0)
    for metric in (macro, balanced_accuracy_score):
        score, spread = _bootstrap(counts, wrong, metric)
        noise = score_noise(score, "f1", many, binomial=True)
        assert 0.7 < noise / spread < 1.4, (score, noise, spread)
    assert score_noise(0.9, "f1", 100, binomial=True) == score_noise(0.9, "accuracy", 100)
    assert score_noise(0.9, "accuracy", 100, binomial=False) == pytest.approx(0.09)


def test_balanced_examples_count_examples_not_positions() -> None:
    """A tagger's classes are counted per token, its noise per example: the classes' shares
    of the positions, applied to the examples (balanced classes give the examples back)."""
    assert LabelCounts(examples=10, positions=60, counts=(30, 30)).balanced_examples() == \
        pytest.approx(10)
    skewed = LabelCounts(examples=10, positions=60, counts=(50, 10, 0))  # a class unseen
    assert skewed.balanced_examples() == pytest.approx(4 / (60 / 500 + 60 / 100))
    assert math.isnan(LabelCounts(examples=10).balanced_examples())  # no classes scored


def test_an_own_share_is_read_as_one_and_other_own_metrics_are_not() -> None:
    """``baseline`` marks a classifier's own metric whose majority level lies in [0, 1] as a
    share (its noise a binomial on the balanced examples); a metric of another scale and a
    regression's keep the loss formula."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(200, 3, generator=g)
    y = (x[:, 0] > 1.4).long()                                    # ~8% positives
    logit_sum = lambda out, t: out.sum(-1) - 100.0
    task = Task(name="f", train=Split(x, y), val=Split(x, y), num_classes=2,
                model=lambda: nn.Linear(3, 2),
                metrics={"f1": macro_f1, "sum": logit_sum}, monitor="f1")
    base = baseline(task, 0)
    pos = int(y.sum())
    assert base.binomial is True and base.n == 200
    assert base.score_n == pytest.approx(4 / (1 / (200 - pos) + 1 / pos))
    other = baseline(task.replace(monitor="sum", mode="max"), 0)
    assert other.binomial is None and other.score_n == 200 and other.chance < 0
    above = baseline(task.replace(monitor="sum", mode="max",
                                  metrics={"sum": lambda out, t: out.sum(-1) + 100.0}), 0)
    assert above.binomial is None and above.chance > 1  # a scale past a share's [0, 1]
    reg = Task(name="r", train=Split(x, x[:, 0]), val=Split(x, x[:, 0]), num_classes=None,
               model=lambda: nn.Linear(3, 1), loss=lambda out, t: (out.squeeze(-1) - t).square(),
               metrics={"mae": lambda out, t: (out.squeeze(-1) - t).abs()}, monitor="mae")
    assert baseline(reg, 0).binomial is None


def test_each_rate_falling_passes_over_has_its_reason_and_only_those_are_passed_over():
    # one row per reason, in not_falling's order, and one that falls
    t = pd.DataFrame({"lr": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
                      "diverged": [False, False, False, False, False, True],
                      "stable": [True, True, True, True, False, True],
                      "first": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                      "last": [1.0, 0.9, 0.8, 1.05, 0.7, 0.5],
                      "vloss": [1.0, 1.0, 2.5, 1.0, 1.0, 1.0]})
    reasons = not_falling(t, untrained=1.0)
    assert reasons == ["did not fall", "", "blew up on the validation data",
                       "ended its training loss 5% above the untrained model's",
                       "was unstable (its loss never came back to the untrained model's)",
                       "diverged"]
    assert falling(t, untrained=1.0) == 0.03
    assert falling(t) == 0.1  # without the untrained model's loss, no validation check
