"""Tests for how sure a search is (lrlab.search._confidence)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from lrlab.search import assess, chance_score, choose, score_noise, untrained_score
from lrlab.tasks import Split, Task


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


def test_lower_is_better_scores_and_diverged_rates() -> None:
    t = table([0.01, 0.1, 1.0], [0.5, 0.2, math.nan], diverged=[False, False, True])
    choice = choose(t, higher_is_better=False, chance=1.0, monitor="loss", n=400)
    assert choice.lr == 0.1 and choice.learned == (0.01, 0.1)


def test_warnings_for_a_pick_next_to_a_collapse_at_the_edge() -> None:
    t = table([0.1, 0.3], [0.90, 0.95], finals=[0.9, 0.25])
    c = assess(t, 0.3, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
    assert c.margin == pytest.approx(0.05) and c.runner_up == 0.1
    edge = "the pick 0.3 is the highest rate searched: a higher one might be better"
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
    assert untrained_score(task, 3) == pytest.approx(expected)
    assert chance_score(task, 0.2) == pytest.approx(0.75)       # the majority class
    assert chance_score(task.replace(monitor="auc"), 0.4) == 0.5
    reg = Task(name="r", train=Split(x, x[:, 0]), val=Split(x, x[:, 0]), num_classes=None,
               model=lambda: nn.Linear(3, 1), monitor="loss",
               loss=lambda out, t: (out.squeeze(-1) - t).square())
    model = reg.init_model(0)
    with torch.no_grad():
        mse = float((model(x).squeeze(-1) - x[:, 0]).square().mean())
    assert untrained_score(reg, 0) == pytest.approx(mse, rel=1e-6)
    assert chance_score(reg, mse) == mse
