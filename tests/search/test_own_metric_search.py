"""A search on a task of tensors ranked by one of its own metrics (``metrics=``,
``monitor=``): the race ranks by it, and on a regression chance is not checked (no score of
lrlab's own to compare with; a classifier's is its value on majority answers)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import macro_f1
from torch import nn

from lrlab.search import auto, grid
from lrlab.tasks import Split, Task, member_loss


def _mae(outputs, targets):
    return (outputs - targets).abs().squeeze(-1)


def _task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 0.0]))[:, None]
    return Task(name="reg", train=Split(x[:90], y[:90]), val=Split(x[90:], y[90:]),
                model=lambda: nn.Linear(4, 1), num_classes=None, monitor="mae",
                loss=member_loss(nn.MSELoss(reduction="none")), metrics={"mae": _mae},
                batch_size=10, epochs=2)


def test_auto_and_grid_rank_a_tensor_task_by_its_own_metric() -> None:
    """Both ran into a KeyError reading the untrained model's score."""
    task = _task()
    found = auto(task)
    assert found.confidence is not None and math.isnan(found.confidence.chance)
    assert "validation mae" in found.verdict()
    searched = grid(task, lrs=[0.3, 0.1, 0.01])
    assert "validation mae" in searched.verdict() and searched.lr in (0.3, 0.1, 0.01)
    assert searched.evidence[0].monitor == "mae"
    for result in (found, searched):  # chance unknown: said so, never "scores nan"
        assert "nan" not in result.explanation
    assert "Chance is not known here" in found.explanation


def _imbalanced() -> tuple[Task, torch.Tensor]:
    """The new user's MLP on 7% positives (13 of 200 validation examples), ranked by its
    macro-F1; and its labels."""
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 10, generator=g)
    y = ((x[:, 0] + 0.5 * x[:, 1]) > 1.6).long()
    task = Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2)),
        DataLoader(TensorDataset(x[:800], y[:800]), 32, shuffle=True, drop_last=True),
        DataLoader(TensorDataset(x[800:], y[800:]), 200), loss=nn.CrossEntropyLoss(),
        metrics={"f1": macro_f1}, monitor="f1", epochs=5)
    return task, y


def test_a_race_on_an_own_metric_at_the_majority_level_falls_back_to_the_loss() -> None:
    """A new user's classifier on 7% positives ranked by its macro-F1: every raced rate sat at
    0.4831, exactly always answering the majority class, and with chance 'not known' all
    counted as learned, so ties walked up to 5.62 (0.887 over the full training against 1.0
    at 1). Chance is now that level: no rate learned, and the validation loss ranks them."""
    task, y = _imbalanced()
    found = auto(task, seed=2)
    from sklearn.metrics import f1_score

    level = sum(len(part) * f1_score(part.numpy(), [0] * len(part), labels=[0, 1],
                                     average="macro", zero_division=0)
                for part in y[800:].split(32)) / 200   # the evaluation's batches of 32
    assert found.confidence.chance == pytest.approx(level, rel=1e-6)
    said = [w for w in found.warnings if w.startswith("no rate learned")]
    assert len(said) == 1 and "lowest validation loss" in said[0]
    vloss = {}
    for race in found.evidence:  # (not the second epoch of a rate unstable after the first,
        # looked at again: it learned nothing, and stays out of the ranking)
        if int(race.records["epoch"].max()) == found.race_epochs:
            for lr, v in zip(race.members["lr"], race.curve("loss", "val").min()):
                vloss[float(lr)] = float(v)
    assert vloss[found.lr] <= min(vloss.values()) * (1 + 2 / math.sqrt(200))


def test_a_lone_learner_at_the_top_of_the_race_gives_way_to_the_lowest_loss() -> None:
    """Seed 0 of the same task: 10, the top of the race (the range test reached no higher),
    alone left the majority level (F1 0.656 against 0.483 at 3.16-0.1, 5.62 under two noise
    units above it), with a training loss above theirs; over the full training 10 scored
    0.713 where 1-2 scored 0.972. The pick is the rate with the lowest validation loss of
    the others (before: 10, 26 points behind), warned, and its margin reads against the
    noise of a macro-F1 on 13 positives (a binomial on 48.6 balanced examples, not the
    loss formula's 0.483 / sqrt(200))."""
    task, y = _imbalanced()
    found = auto(task, seed=0)
    top = max(found.candidates + found.refined)
    said = [w for w in found.warnings if w.kind == "lone_at_top"]
    assert len(said) == 1 and said[0].startswith(f"{top:g}, the highest rate raced")
    assert "the rate with the lowest validation loss" in said[0]
    assert found.lr < top
    vloss = {}
    for race in found.evidence:
        for lr, v in zip(race.members["lr"], race.curve("loss", "val").min()):
            vloss[float(lr)] = float(v)
    del vloss[top]
    assert vloss[found.lr] == min(vloss.values())
    pos = int(y[800:].sum())
    balanced = 4 / (1 / (200 - pos) + 1 / pos)
    score = float(found.scores.set_index("lr").loc[found.lr, "best_val_f1"])
    assert found.confidence.noise == pytest.approx(math.sqrt(score * (1 - score) / balanced))
    assert f"so the pick is the rate with the lowest validation loss of the others, " \
        f"{found.lr:g}" in found.explanation


def test_a_lone_learner_at_the_top_reads_its_neighbours_below() -> None:
    """``lone_at_top``: the rates half a decade below at chance and nothing raced above; not
    when a rate above was raced (that is ``lone``'s), when a neighbour below learned too, or
    when its own training loss ended clearly below theirs (it learned)."""
    import pandas as pd

    from lrlab.search._confidence import lone, lone_at_top

    t = pd.DataFrame({"lr": [0.1, 0.316, 1.0, 3.16, 5.62, 10.0],
                      "score": [0.483, 0.483, 0.483, 0.483, 0.531, 0.656],
                      "diverged": [False] * 6,
                      "last": [0.70, 0.53, 0.39, 0.38, 0.45, 0.74]})    # seed 0's race
    common = {"higher_is_better": True, "chance": 0.483, "monitor": "f1", "n": 48.6,
              "binomial": True}
    assert lone_at_top(t, 10.0, **common)
    assert not lone_at_top(t, 5.62, **common)                   # 10 raced above it
    # 10 raced above and stayed at chance: lone's shape (the lower neighbour), not this one
    below = t.assign(score=[0.483] * 4 + [0.656, 0.483], last=[0.70, 0.53, 0.39, 0.38, 0.74, 0.45])
    assert not lone_at_top(below, 5.62, **common)
    assert lone(below, 5.62, **common) == 3.16
    assert not lone_at_top(t.assign(score=[0.483] * 4 + [0.65, 0.656]), 10.0, **common)
    assert not lone_at_top(t.assign(last=[0.70, 0.53, 0.39, 0.38, 0.45, 0.37]), 10.0,
                           **common)                            # 1% below every neighbour
    assert lone_at_top(t.assign(last=[0.70, 0.53, 0.39, 0.38, 0.45, 0.4475]), 10.0, **common)
