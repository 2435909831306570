"""The range test clips gradients as a sweep does (``clip_grad_norm``, ``lrlab find
--clip-grad-norm``) and steps over accumulated batches (``range_test(accumulate=)``,
``lrlab find --accumulate``): each path against a loop written with torch's own
``clip_grad_norm_``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lrlab._errors import LrlabError
from lrlab.search import find_lr, range_rates

START, END, STEPS, CLIP = 1e-3, 3.0, 12, 0.05


def _data(n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def _net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def _reference(model: nn.Module, batches, accumulate: int, clip: float | None) -> list[float]:
    """The ramp written out: per step, the mean of ``accumulate`` micro-batch losses (each
    backward scaled by 1 / accumulate), torch's clip_grad_norm_ over every parameter, SGD."""
    losses, it = [], iter(batches)
    for lr in range_rates(START, END, STEPS).tolist():
        model.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(accumulate):
            x, y = next(it)
            loss = nn.functional.cross_entropy(model(x), y)
            (loss / accumulate).backward()
            total += float(loss.detach()) / accumulate
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), clip)
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(total)
    return losses


@pytest.mark.parametrize("accumulate", [1, 3])
def test_each_step_clips_the_gradient_as_torch_does(accumulate):
    """One test after another (a user's optimizer, batches as given): the curve equals the
    loop with torch.nn.utils.clip_grad_norm_ before every step, after the accumulated
    micro-batches; without the clip the curve is another one (the clip binds)."""
    x, y = _data(16 * STEPS * accumulate)
    batches = list(zip(x.split(16), y.split(16)))
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=START)
    kw = {"optimizer": opt, "start": START, "end": END, "steps": STEPS, "accumulate": accumulate,
          "diverge": 1e9}
    clipped = find_lr(model, nn.CrossEntropyLoss(), batches, clip_grad_norm=CLIP, **kw)
    plain = find_lr(model, nn.CrossEntropyLoss(), batches, **kw)
    want = _reference(_net(), batches, accumulate, CLIP)
    np.testing.assert_allclose(clipped.losses, want, rtol=1e-5)
    np.testing.assert_allclose(plain.losses, _reference(_net(), batches, accumulate, None),
                               rtol=1e-5)
    assert not np.allclose(plain.losses, want, rtol=1e-3)


def test_seeds_trained_as_one_population_clip_each_member_alone():
    """Several seeds on tensors with lrlab's own SGD run as one population: each member's
    gradient is clipped by its own norm (Population's clip_grad_norm), as a test run alone
    with torch's clip_grad_norm_ on that seed's data order."""
    x, y = _data(64)
    seeds, size = [0, 3], 16
    got = find_lr(_net(), nn.CrossEntropyLoss(), (x, y), start=START, end=END, steps=STEPS,
                  batch_size=size, seeds=seeds, clip_grad_norm=CLIP, diverge=1e9)
    for seed, run in zip(seeds, got.runs):
        g = torch.Generator().manual_seed(seed)
        order = torch.cat([torch.randperm(len(x), generator=g)
                           for _ in range(STEPS * size // len(x) + 1)])
        batches = [(x[order[i:i + size]], y[order[i:i + size]])
                   for i in range(0, STEPS * size, size)]
        np.testing.assert_allclose(run.losses, _reference(_net(), batches, 1, CLIP), rtol=1e-4)


@pytest.mark.parametrize("clip", [0.0, -1.0, float("inf"), float("nan"), "1"])
def test_a_bad_clip_is_one_line(clip):
    x, y = _data()
    with pytest.raises(LrlabError) as err:
        find_lr(_net(), nn.CrossEntropyLoss(), (x, y), clip_grad_norm=clip)
    assert "clip_grad_norm" in str(err.value) and "\n" not in str(err.value)


def test_the_task_range_test_clips_and_accumulates_everywhere_it_trains(monkeypatch):
    """range_test hands clip_grad_norm and accumulate to every test it runs and the clip to
    a flat curve's stability check (which trains batches ``accumulate`` times larger, the
    same examples per step); a training over accumulated batches has that many times fewer
    steps, so blobs' 200 become a short training of 100."""
    from lrlab.search import _task_range, range_test
    from lrlab.search._result import SHORT
    from lrlab.search._steady import Steady
    from lrlab.tasks import get_task

    blobs = get_task("blobs").replace(epochs=20)  # 10 batches of 50 an epoch
    tests, checks = [], []
    real = _task_range.find_lr

    def spy(*args, **kwargs):
        tests.append((kwargs["clip_grad_norm"], kwargs["accumulate"]))
        return real(*args, **kwargs)
    monkeypatch.setattr(_task_range, "find_lr", spy)
    r = range_test(blobs, steps=30, validate=False, clip_grad_norm=0.5, accumulate=2)
    assert tests == [(0.5, 2)] and r.training_steps == 100 < SHORT
    assert range_test(blobs, steps=30, validate=False).training_steps == 200 >= SHORT

    def steady(task, lrs, **kwargs):
        checks.append((kwargs["clip_grad_norm"], kwargs["batch_size"]))
        return Steady(tuple(lrs), (0.0,) * len(lrs), 100, 1.0, (False,) * len(lrs))
    monkeypatch.setattr(_task_range, "steady", steady)
    flat = _task_range._checked(blobs, 0.1, {"optimizer": "sgd", "hparams": None, "seed": 0,
                                             "check_batch": 100, "device": "cpu",
                                             "clip_grad_norm": 0.5})
    assert checks == [(0.5, 100)] and flat[0] == 0.1
    with pytest.raises(LrlabError, match="accumulate"):
        range_test(blobs, accumulate=0)


def test_a_flat_curves_check_trains_the_accumulated_batch(monkeypatch):
    """With ``accumulate`` K the stability check trains batches K times the task's (the
    examples of one optimizer step), at most the training set; without, the task's own."""
    from lrlab.search import _task_range, range_test
    from lrlab.tasks import get_task

    blobs = get_task("blobs")  # batches of 50 of its 500 examples
    seen = []

    class Seen(Exception):
        pass

    def looks(task, args, **kwargs):
        seen.append(args["check_batch"])
        raise Seen
    monkeypatch.setattr(_task_range, "_looks", looks)
    for accumulate in (1, 3, 40):
        with pytest.raises(Seen):
            range_test(blobs, accumulate=accumulate, validate=False)
    assert seen == [None, 150, 500]


def test_auto_clips_its_range_test_as_its_races(monkeypatch):
    """``auto(clip_grad_norm=C)`` clips the training of its races, and its range test, which
    places them, clips to C too (``None`` without)."""
    from lrlab.search import _auto, auto

    seen = []

    class Seen(Exception):
        pass

    def test(task, **kwargs):
        seen.append(kwargs["clip_grad_norm"])
        raise Seen
    monkeypatch.setattr(_auto, "range_test", test)
    for clip in (0.5, None):
        with pytest.raises(Seen):
            auto("blobs", seeds=1, **({} if clip is None else {"clip_grad_norm": clip}))
    assert seen == [0.5, None]
