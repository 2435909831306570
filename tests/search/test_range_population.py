"""find_lr(seeds=K) as one population: each member is an ordinary range test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lrlab.search import find_lr, range_rates


def _data(n: int = 240, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def _model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def _plain_losses(model: nn.Module, x, y, seed: int, lrs: np.ndarray, batch: int) -> list[float]:
    """A hand-written range test: torch SGD, the rate set each step, order from seed's
    generator (a fresh permutation per pass), batches of `batch`, last partial one dropped."""
    model = __import__("copy").deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=float(lrs[0]))
    gen, order, pos, losses = torch.Generator().manual_seed(seed), None, len(x), []
    for lr in lrs:
        if pos + batch > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch]
        pos += batch
        for group in opt.param_groups:
            group["lr"] = float(lr)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_each_member_equals_a_plain_range_test_with_its_seed():
    """Member k's raw losses equal a plain SGD loop with seed k's order, step by step."""
    x, y = _data()
    model = _model()
    result = find_lr(model, nn.CrossEntropyLoss(), (x, y), start=1e-3, end=1.0, steps=30,
                     batch_size=32, seeds=[4, 7, 9], diverge=1e9)
    lrs = range_rates(1e-3, 1.0, 30, "exp")
    for seed, run in zip([4, 7, 9], result.runs):
        expected = _plain_losses(model, x, y, seed, lrs, 32)
        assert run.losses == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert result.seeds == (4, 7, 9)


def test_members_stop_on_their_own_and_the_median_covers_the_common_steps():
    """A ramp into divergence: every member stops by itself; the median curve spans the
    steps all of them reached; the user's model is untouched."""
    x, y = _data()
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = find_lr(model, nn.CrossEntropyLoss(), (x, y), start=1e-3, end=1e4, steps=60,
                     batch_size=32, seeds=3, val_data=_data(80, seed=1))
    assert all(run.stopped_early for run in result.runs)
    assert len(result.lrs) == min(len(run.lrs) for run in result.runs)
    assert result.val_accuracy is not None and len(result.val_accuracy) == len(result.lrs)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_users_optimizer_runs_the_seeds_one_after_another():
    """With the user's own optimizer the tests cannot share a population: same API, and the
    optimizer's state is restored exactly."""
    x, y = _data()
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    result = find_lr(model, nn.CrossEntropyLoss(), (x, y), optimizer=opt, start=1e-3,
                     end=1.0, steps=20, batch_size=32, seeds=2)
    assert len(result.runs) == 2 and opt.param_groups[0]["lr"] == 1e-3


def test_validation_accuracy_leaves_out_ignore_index_labels_as_one_by_one():
    """Validation labels -100 (padding; nn.CrossEntropyLoss skips them) count in no accuracy
    on the population path either: its accuracy curve is the one-by-one path's (before: each
    -100 counted as a miss there, ~30% lower here)."""
    x, y = _data()
    xv, yv = _data(80, seed=1)
    yv[::3] = -100
    model = _model()
    kwargs = {"start": 1e-3, "end": 1.0, "steps": 20, "batch_size": 32, "seeds": [4, 7],
              "val_data": (xv, yv), "diverge": 1e9}
    together = find_lr(model, nn.CrossEntropyLoss(), (x, y), **kwargs)
    apart = find_lr(model, nn.CrossEntropyLoss(), (x, y), **kwargs,
                    optimizer=torch.optim.SGD(model.parameters(), lr=1e-3))
    for a, b in zip(together.runs, apart.runs):
        assert a.val_accuracy is not None and np.nanmax(a.val_accuracy) > 0.7
        np.testing.assert_allclose(a.val_accuracy, b.val_accuracy, rtol=0, atol=1e-12)
