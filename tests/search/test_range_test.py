"""find_lr on tiny models and synthetic data: the ramp, data forms, accumulation, groups, stops.

Restoration of the user's objects is in test_lr_restore.py, bad input in test_lr_inputs.py,
the readings on constructed curves in test_lr_readings.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import fake_range_tests
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab import LrlabError
from lrlab.integrations import scale_rates
from lrlab.search import RangeTestResult, diverged, ema, find_lr, model_loss, range_rates

CE = nn.CrossEntropyLoss()


def separable(n: int = 256, seed: int = 0, dtype=torch.float32):
    """Two well-separated classes in 4-D: linearly separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g, dtype=dtype) + 3.0 * (2 * y[:, None] - 1).to(dtype)
    return x, y


def mlp(seed: int = 0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2)).to(dtype)


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x) - size + 1, size)]


def lr_log(optimizer) -> list[list[float]]:
    """Record every param group's lr at each optimizer step (a public hook, no patching)."""
    seen: list[list[float]] = []
    optimizer.register_step_pre_hook(lambda opt, *_: seen.append([g["lr"] for g in
                                                                  opt.param_groups]))
    return seen


# --- the ramp --------------------------------------------------------------------------

def test_range_rates_exp_and_linear():
    exp = range_rates(1e-6, 1.0, 61, "exp")
    assert exp[0] == 1e-6 and exp[-1] == 1.0 and len(exp) == 61
    np.testing.assert_allclose(np.diff(np.log10(exp)), 0.1, rtol=1e-9)
    lin = range_rates(0.01, 1.0, 100, "linear")
    assert lin[0] == 0.01 and lin[-1] == 1.0
    np.testing.assert_allclose(np.diff(lin), 0.01, rtol=1e-9)


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_each_step_runs_at_its_rate(mode):
    x, y = separable()
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    seen = lr_log(opt)
    r = find_lr(net, CE, (x, y), optimizer=opt, start=1e-4, end=0.1, steps=20, mode=mode)
    expected = range_rates(1e-4, 0.1, 20, mode)
    assert [s[0] for s in seen] == expected.tolist() == r.lrs.tolist()
    assert not r.stopped_early and "reached end" in r.reason
    np.testing.assert_array_equal(r.smoothed, ema(r.losses, 0.98))


def test_param_groups_keep_their_ratios():
    x, y = separable()
    net = mlp()
    groups = [{"params": net[0].parameters(), "lr": 0.2},
              {"params": net[2].weight, "lr": 0.02}, {"params": net[2].bias, "lr": 1.0}]
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    seen = lr_log(opt)
    r = find_lr(net, CE, (x, y), optimizer=opt, start=1e-5, end=1e-2, steps=15)
    for rate, (g0, g1, g2) in zip(r.lrs, seen):
        assert g0 == rate
        assert g1 == pytest.approx(rate * 0.1, rel=1e-12)
        assert g2 == pytest.approx(rate * 5.0, rel=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.02, 1.0]
    # the README's way to train at a reading: group 0 at it, the others in their ratios
    scale_rates(opt, [], 0.05)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005, 0.25], rel=1e-12)


# --- data forms ------------------------------------------------------------------------

def test_batches_as_tuples_lists_dicts_loaders_and_tensors_agree():
    x, y = separable()
    run = {"start": 1e-4, "end": 1.0, "steps": 24}
    pairs = batches(x, y, 32)
    ref = find_lr(mlp(), CE, pairs, **run).losses
    as_lists = [list(b) for b in pairs]
    dicts = [{"input": bx, "label": by} for bx, by in pairs]
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    packed = [torch.cat([bx, by[:, None].float()], 1) for bx, by in pairs]
    packed_loss = model_loss(lambda m, b: CE(m(b[:, :-1]), b[:, -1].long()))
    for data, loss, extra in [(as_lists, CE, {}), (dicts, CE, {"batch_keys": ("input", "label")}),
                              (loader, CE, {}), (packed, packed_loss, {})]:
        np.testing.assert_array_equal(find_lr(mlp(), loss, data, **run, **extra).losses, ref)


def test_tensor_tuple_is_shuffled_by_the_global_generator_then_batched():
    x, y = separable()
    net = mlp()
    torch.manual_seed(7)
    perm = torch.randperm(len(x))
    ref = find_lr(net, CE, batches(x[perm], y[perm], 32), start=1e-4, end=1.0, steps=10)
    torch.manual_seed(7)
    got = find_lr(net, CE, (x, y), start=1e-4, end=1.0, steps=10, batch_size=32)
    np.testing.assert_array_equal(got.losses[:8], ref.losses[:8])       # the first pass
    assert not np.array_equal(got.losses[8:], ref.losses[8:])           # reshuffled after


def test_map_dataset_and_one_shot_iterator():
    x, y = separable()
    r = find_lr(mlp(), CE, TensorDataset(x, y), start=1e-4, end=1.0, steps=12, batch_size=64)
    assert len(r.lrs) == 12
    one_shot = iter(batches(x, y, 32))                            # 8 batches, then nothing
    r = find_lr(mlp(), CE, one_shot, start=1e-4, end=1.0, steps=20)
    assert len(r.lrs) == 8 and r.stopped_early and "ran out" in r.reason


class SelfLoss(nn.Module):
    """A model that computes its own loss from a dict batch."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, batch: dict) -> torch.Tensor:
        return CE(self.net(batch["x"]), batch["y"])


def test_a_model_that_computes_its_own_loss():
    x, y = separable()
    data = [{"x": bx, "y": by} for bx, by in batches(x, y, 32)]
    r = find_lr(SelfLoss(), model_loss(lambda m, b: m(b)), data, start=1e-4, end=1.0,
                steps=16, val_data=data[:2])
    ref = find_lr(mlp(), CE, batches(x, y, 32), start=1e-4, end=1.0, steps=16)
    np.testing.assert_allclose(r.losses, ref.losses, rtol=1e-6)
    assert r.val_accuracy is None and np.isfinite(r.val_loss).all()


# --- accumulation, validation ----------------------------------------------------------

def test_accumulating_half_batches_equals_full_batches():
    x, y = separable(dtype=torch.float64)
    run = {"start": 1e-3, "end": 1.0, "steps": 30, "diverge": 1e6}
    torch.manual_seed(3)
    full = find_lr(mlp(dtype=torch.float64), CE, (x, y), batch_size=32, **run)
    torch.manual_seed(3)
    half = find_lr(mlp(dtype=torch.float64), CE, (x, y), batch_size=16, accumulate=2, **run)
    np.testing.assert_allclose(half.losses, full.losses, rtol=0, atol=1e-6)


def test_validation_every_k_steps_and_readings_on_accuracy():
    x, y = separable()
    xv, yv = separable(128, seed=1)
    r = find_lr(mlp(), CE, (x, y), start=1e-4, end=10.0, steps=30, val_data=(xv, yv),
                eval_every=3)
    evaluated = np.isfinite(r.val_accuracy)
    last = len(r.lrs) - 1
    assert evaluated.tolist() == [t % 3 == 0 or t == 29 for t in range(last + 1)]
    assert np.array_equal(evaluated, np.isfinite(r.val_loss))
    assert ((r.val_accuracy[evaluated] >= 0) & (r.val_accuracy[evaluated] <= 1)).all()
    assert r.read_on == "training loss"  # 11 evaluations are too few to read accuracy on
    frame = r.to_frame()
    assert list(frame.columns) == ["lr", "loss", "smoothed", "trend", "val_loss", "val_accuracy"]
    dense = find_lr(mlp(), CE, (x, y), start=1e-4, end=10.0, steps=30, val_data=(xv, yv))
    assert dense.read_on == "validation accuracy"  # 30 evaluations



@pytest.mark.parametrize("shuffle, dropout", [(True, 0.0), (False, 0.3)])
def test_validation_draws_nothing_the_training_draws(shuffle, dropout):
    """A validation loader draws its iterator's seed from torch's generator: the test trains
    on the same shuffles (a shuffled loader) and dropout masks with validation as without."""
    x, y = separable()
    xv, yv = separable(64, seed=1)

    def run(val):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))
        train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=shuffle)
        return find_lr(net, CE, train, val_data=val, start=1e-3, end=1.0, steps=20,
                       diverge=1e6)

    plain = run(None)
    seen = run(DataLoader(TensorDataset(xv, yv), batch_size=32))
    assert np.isfinite(seen.val_loss).all()
    assert np.array_equal(seen.losses, plain.losses)

# --- stops -----------------------------------------------------------------------------

def regression(n: int = 128):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(n, 1, generator=g)


def check_stop_rule(r, factor):
    """The stop came exactly at the first step where ``diverged`` holds."""
    s = r.smoothed
    flags = [diverged(s[t], s[: t + 1].min(), s[0], factor) for t in range(len(s))]
    assert flags[-1] and not any(flags[:-1])


def test_divergence_stop_with_positive_losses():
    torch.manual_seed(0)
    r = find_lr(nn.Linear(3, 1), nn.MSELoss(), regression(), start=1e-4, end=100.0,
                steps=60, batch_size=16)
    assert r.stopped_early and "diverged" in r.reason and r.lrs[-1] < 100.0
    assert r.smoothed[-1] > 4.0 * r.smoothed[:-1].min()
    check_stop_rule(r, 4.0)
    # the reason says the rule in words, with the numbers it compared (it said
    # "(diverge=4)", a Python keyword that lrlab find has no flag for)
    best = r.smoothed[:-1].min()
    assert r.reason == (f"diverged at lr {r.lrs[-1]:.3g}: the smoothed loss "
                        f"{r.smoothed[-1]:.4g} is over 4x the best, {best:.4g}")


def test_divergence_stop_with_negative_losses():
    mse = nn.MSELoss()

    def offset_nll(out, target):                                  # an NLL + a constant: < 0
        return mse(out, target) - 10.0

    torch.manual_seed(0)
    r = find_lr(nn.Linear(3, 1), offset_nll, regression(), start=1e-4, end=100.0, steps=60,
                batch_size=16)
    assert (r.smoothed[:-1] < 0).all() and r.smoothed.min() < r.smoothed[0] - 2.0
    assert r.stopped_early and "diverged" in r.reason
    assert len(r.lrs) > 30 and r.smoothed[1] > 4 * r.smoothed[0]   # "4 x best" would stop at 1
    check_stop_rule(r, 4.0)
    best, first = r.smoothed[:-1].min(), r.smoothed[0]
    assert r.reason.endswith(f"rose {r.smoothed[-1] - best:.4g} above the best, {best:.4g}: "
                             "over 3x the larger of its size and the fall before it "
                             f"({max(abs(best), first - best):.4g})")


def test_nan_and_inf_stop_the_test_and_are_not_recorded():
    calls = []

    def poisoned(out, target):
        calls.append(1)
        loss = CE(out, target)
        return loss * math.nan if len(calls) == 15 else loss

    x, y = separable()
    r = find_lr(mlp(), poisoned, (x, y), start=1e-4, end=1.0, steps=30)
    assert len(r.lrs) == 14 and r.stopped_early and "nan" in r.reason
    torch.manual_seed(0)
    r = find_lr(nn.Linear(3, 1), nn.MSELoss(), regression(), start=1.0, end=1e8, steps=40,
                diverge=1e300, batch_size=16)
    assert r.stopped_early and ("inf" in r.reason or "nan" in r.reason)
    assert np.isfinite(r.losses).all()


# --- a real task -----------------------------------------------------------------------

def train_accuracy(lr: float, epochs: int = 3) -> float:
    x, y = separable(512, seed=4)
    xv, yv = separable(512, seed=5)
    net = mlp(seed=1)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(epochs):
        for bx, by in batches(x, y, 32):
            opt.zero_grad()
            CE(net(bx), by).backward()
            opt.step()
    with torch.no_grad():
        return float((net(xv).argmax(1) == yv).float().mean())


def test_suggested_rate_trains_a_separable_problem():
    x, y = separable(512, seed=4)
    torch.manual_seed(0)
    r = find_lr(mlp(seed=1), CE, (x, y), start=1e-6, end=100.0, steps=100)
    assert 1e-3 <= r.suggestion.lr <= 10.0
    assert r.min_lr.lr < r.max_lr.lr and r.recommended.lr == r.max_lr.lr
    assert train_accuracy(r.suggestion.lr) > 0.9
    assert train_accuracy(r.recommended.lr) > 0.9
    text = r.explain()
    for name in ("min_lr", "max_lr", "recommended", "cycle", "suggestion", "valley",
                 "steepest", "min_div10"):
        assert name in text
    assert set(r.suggestions()) >= {"min_lr", "max_lr", "suggestion", "valley", "steepest"}


def test_several_seeds_give_a_band_and_a_median_suggestion():
    x, y = separable()
    net = mlp()
    before = [p.detach().clone() for p in net.parameters()]
    r = find_lr(net, CE, (x, y), start=1e-5, end=100.0, steps=40, seeds=3, reinit=True)
    assert len(r.runs) == 3 and r.seeds == (0, 1, 2)
    assert len({run.losses[0] for run in r.runs}) == 3             # redrawn weights differ
    band = r.band()
    assert len(band) == min(len(run.lrs) for run in r.runs) == len(r.lrs)
    assert (band["low"] <= band["median"]).all() and (band["median"] <= band["high"]).all()
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    once, again = (find_lr(net, CE, (x, y), start=1e-5, end=100.0, steps=40, seeds=[5, 6])
                   for _ in range(2))
    np.testing.assert_array_equal(once.runs[0].losses, again.runs[0].losses)
    assert "Median of 2 runs" in once.explain()


def test_a_test_that_records_nothing_still_explains_itself():
    x, y = separable()
    r = find_lr(mlp(), lambda out, target: CE(out, target) * math.nan, (x, y))
    assert len(r.lrs) == 0 and r.stopped_early and "nan" in r.reason
    assert math.isnan(r.suggestion.lr) and math.isnan(r.max_lr.lr)
    assert "too few points" in r.explain() and r.to_frame().empty and r.band().empty


# --- range_test(extend=True): the second look at a flat curve ----------------------------

def test_a_flat_curve_that_broke_is_looked_at_again_zoomed(monkeypatch):
    from lrlab.search import range_test

    rng = np.random.default_rng(0)

    def flat_then_break(lrs, at, noise):
        u = np.log10(lrs)
        return 1.0 + noise(len(lrs)) + np.where(u > at, 5 * (u - at), 0), False

    def zigzag(n):  # flat within its noise, no fall at all
        return 0.01 * (-1.0) ** np.arange(n)

    task, calls = fake_range_tests(monkeypatch, [
        lambda x: flat_then_break(x, 0.6, lambda n: 0.01 * rng.standard_normal(n)),
        lambda x: flat_then_break(x, 0.5, zigzag)])
    r = range_test(task, validate=False, extend=True)
    (s1, e1, n1), (s2, e2, n2) = calls
    assert (s1, e1, n1) == (1e-7, 10.0, 100)
    broke = s2 * 1000                                  # the zoom starts 3 decades below the break
    assert 10 ** 0.5 < broke < 10 ** 1.0 and e2 == pytest.approx(min(10.0, 10 * broke))
    assert n2 == 200
    # still flat at twice the steps: where it broke again, / rules.flat (4)
    assert "second test" in r.suggestion.why and r.lrs[0] == pytest.approx(s2)
    assert 10 ** 0.5 / 4 < r.suggestion.lr < 10 ** 0.8 / 4 and "/ 4" in r.suggestion.why


def test_the_zoom_keeps_a_clear_descent_and_drops_a_noisy_one(monkeypatch):
    from lrlab.search import range_test

    rng = np.random.default_rng(1)

    def flat(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * rng.standard_normal(len(lrs)) + np.where(u > 0.6, 5 * (u - 0.6), 0), False

    def valley(lrs):  # falls from 0.05 to 0.5, turns up after 1
        u = np.log10(lrs)
        fall = 1.0 - 0.5 * np.clip((u + 1.3) / 1.0, 0, 1) + np.where(u > 0, 4 * u ** 2, 0)
        return fall + 0.01 * rng.standard_normal(len(lrs)), False

    task, calls = fake_range_tests(monkeypatch, [flat, valley])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 2 and "turns up" in r.suggestion.why or "bottom" in r.suggestion.why
    assert 0.1 < r.suggestion.lr < 0.6

    def noisy_fall(lrs):  # a weak fall, within 3x its noise: the first reading stands
        u = np.log10(lrs)
        return (1.0 - 0.3 * np.clip(u + 1, 0, 1) + 0.2 * rng.standard_normal(len(lrs))
                + np.where(u > 0.6, 5 * (u - 0.6), 0)), False

    task, calls = fake_range_tests(monkeypatch, [flat, noisy_fall])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 2 and r.lrs[0] == pytest.approx(1e-7)
    assert "/ 10" in r.suggestion.why


def test_a_zoom_that_shows_only_a_dip_or_a_fall_within_its_noise_reads_its_break(monkeypatch):
    """The zoom of a flat curve that broke: a shallow dip that comes back to the starting
    level two decades below the break is no descent (three sigmoid layers lost 55 points on
    one), nor is a fall of one or two noise units; a quiet zoom is read at its break / 4."""
    from lrlab.search import DEFAULT_RULES, range_test
    from lrlab.search._readings import describe
    from lrlab.search._suggest import dip

    rng = np.random.default_rng(2)

    def flat(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * rng.standard_normal(len(lrs)) + np.where(u > 0.6, 5 * (u - 0.6), 0), False

    def dipped(lrs, depth=0.045):  # a flat-bottomed dip at 0.01-0.03, back to the level
        u = np.log10(lrs)           # and wandering about it, then a break at 3
        hole = depth * np.clip(1 - np.abs(u + 1.75) / 0.35, 0, 0.5) * 2
        wander = np.where((u > -1.3) & (u < 0.3), 0.012 * np.sin(2 * np.pi * (u + 1.3) / 0.8), 0)
        return (1.0 - hole + wander + 0.01 * rng.standard_normal(len(lrs))
                + np.where(u > 0.5, 5 * (u - 0.5), 0)), False

    zoom_lrs = np.geomspace(10 ** 0.6 / 1000, 10.0, 200)
    loss, _ = dipped(zoom_lrs)
    d = describe(zoom_lrs, loss)
    assert d.clear and dip(d, DEFAULT_RULES)                    # clear, shallow, back to level
    task, calls = fake_range_tests(monkeypatch, [flat, dipped])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 2 and "second test" in r.suggestion.why
    assert 10 ** 0.5 / 4 < r.suggestion.lr < 10 ** 0.8 / 4       # the break / 4, not the dip
    # its margin is read from the break as well (was: the dip's turn-up, below the suggestion:
    # 'lrlab find' printed '0.03x below where the loss turns up')
    assert r.headroom.why == "where the loss broke upwards" and r.headroom.lr > r.suggestion.lr
    # and the warning says what the suggestion was read from (was: 'a shallow descent for
    # its noise ... too little to place a rate firmly', of a dip the suggestion did not use)
    assert not any("shallow descent" in w for w in r.warnings)
    said = [w for w in r.warnings if w.startswith("no descent to read: the loss dipped by ")]
    assert len(said) == 1 and said[0].kind == "dip_read_flat"
    assert f"read from where the loss broke upwards ({r.headroom.lr:.3g})" in said[0]
    def dipped_unbroken(lrs):  # the same dip, and no break up to the end (10)
        loss, _ = dipped(lrs)
        u = np.log10(lrs)
        return loss - np.where(u > 0.5, 5 * (u - 0.5), 0), False

    task, calls = fake_range_tests(monkeypatch, [flat, dipped_unbroken])
    r = range_test(task, validate=False, extend=True)
    first_break = calls[1][0] * 1000
    assert "did not break up to 10" in r.suggestion.why
    assert r.suggestion.lr == pytest.approx(first_break / 4)        # the first test's break
    assert r.headroom.lr == pytest.approx(first_break) and "first test" in r.headroom.why
    assert any("read from where the first test's loss broke upwards" in w for w in r.warnings)
    task, calls = fake_range_tests(monkeypatch, [flat, lambda x: dipped(x, depth=0.2)])
    firm = range_test(task, validate=False, extend=True)          # a firm descent is read
    assert "second test" not in firm.suggestion.why and firm.suggestion.lr < 0.03

    def slight(lrs):  # a fall of about two noise units, within its noise: still flat
        u = np.log10(lrs)
        return (1.0 - 0.02 * np.clip(u + 2, 0, 1) + 0.01 * rng.standard_normal(len(lrs))
                + np.where(u > 0.5, 5 * (u - 0.5), 0)), False

    task, calls = fake_range_tests(monkeypatch, [flat, slight])
    r = range_test(task, validate=False, extend=True)
    d = describe(r.lrs, r.losses)
    assert not d.clear and d.drop > d.noise                       # was: the first test's / 10
    assert "second test" in r.suggestion.why and 10 ** 0.5 / 4 < r.suggestion.lr < 10 ** 0.8 / 4


def test_a_flat_reading_that_is_unstable_when_trained_gives_way_half_a_decade_at_a_time(
        monkeypatch):
    """The quiet zoom's reading (its break / 4) is trained for a hundred steps: stable, it
    stands (no warning of its own); unstable, the rate half a decade lower is tried, up to
    three, and the first stable one is the suggestion; none: half a decade below the last.
    The reason and a warning say which."""
    from lrlab.search import range_test

    rng = np.random.default_rng(3)

    def flat(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * rng.standard_normal(len(lrs)) + np.where(u > 0.6, 5 * (u - 0.6), 0), False

    task, _ = fake_range_tests(monkeypatch, [flat, flat])
    kept = range_test(task, validate=False, extend=True)
    reading = kept.suggestion.lr
    assert kept.steady.lrs == (reading,) and "stable" in kept.suggestion.why
    assert not any("unstable" in w for w in kept.warnings)
    for below, tried in ((reading / 3, 2), (reading / 5, 3)):  # stable from `below` down
        task, _ = fake_range_tests(monkeypatch, [flat, flat],
                                   rise=lambda lr, below=below: 0.01 if lr <= below * 1.001 else 0.3)
        r = range_test(task, validate=False, extend=True)
        assert r.steady.lrs == pytest.approx([reading / 10 ** (i / 2) for i in range(tried)])
        assert r.suggestion.lr == pytest.approx(r.steady.lrs[-1])
        assert "the first stable one" in r.suggestion.why
        assert any("was unstable when trained for 100 steps (its loss rose 30% above" in w
                   and w.kind == "unstable_reading" for w in r.warnings)
    task, _ = fake_range_tests(monkeypatch, [flat, flat], rise=lambda lr: math.inf)
    r = range_test(task, validate=False, extend=True)
    assert r.suggestion.lr == pytest.approx(reading / 10 ** 1.5)
    assert "none stayed stable" in r.suggestion.why and "diverged" in r.suggestion.why
    assert any("(it diverged), so the suggestion is below the last tried" in w for w in r.warnings)
    task, _ = fake_range_tests(monkeypatch, [flat, flat], rise=lambda lr: 0.3)
    off = range_test(task, validate=False, extend=True, steady=False)  # no check asked for
    assert off.steady is None and off.suggestion.lr == pytest.approx(reading)


def test_a_flat_reading_that_catapulted_is_raised_when_the_higher_rate_settles_too(
        monkeypatch):
    """A stable reading whose loss catapulted (shot up in its first steps and settled back)
    is tried at RAISE x; that rate is the suggestion when it catapulted and stayed stable
    too, with a warning; else the reading stands. A reading that did not catapult is not
    raised (the GRU's, the LSTM's), nor is one that was unstable."""
    from lrlab.search import range_test
    from lrlab.search._task_range import RAISE

    rng = np.random.default_rng(3)

    def flat(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * rng.standard_normal(len(lrs)) + np.where(u > 0.6, 5 * (u - 0.6), 0), False

    task, _ = fake_range_tests(monkeypatch, [flat, flat])
    reading = range_test(task, validate=False, extend=True).suggestion.lr
    task, _ = fake_range_tests(monkeypatch, [flat, flat], jump=lambda lr: True)
    up = range_test(task, validate=False, extend=True)
    assert up.steady.raised and up.steady.lrs == pytest.approx([RAISE * reading, reading])
    assert up.suggestion.lr == pytest.approx(RAISE * reading) and 1 < RAISE < 2
    assert "catapult" in up.suggestion.why and "settled too" in up.suggestion.why
    assert any("catapulted when trained" in w and w.kind == "catapult_raised"
               for w in up.warnings)
    assert not any("was unstable" in w for w in up.warnings)
    task, _ = fake_range_tests(monkeypatch, [flat, flat],        # the higher rate did not
                               jump=lambda lr: lr < reading * 1.01)  # catapult: it stands
    kept = range_test(task, validate=False, extend=True)
    assert kept.steady.raised and kept.steady.stable == (False, True)
    assert kept.suggestion.lr == pytest.approx(reading) and "did not catapult and settle" in kept.suggestion.why
    # the raised rate did not catapult: no catapult warning, nor one that it was unstable
    assert not any("catapulted when trained" in w or "was unstable" in w
                   for w in kept.warnings)
    task, _ = fake_range_tests(monkeypatch, [flat, flat],        # unstable: lowered, never raised
                               rise=lambda lr: 0.3 if lr > reading / 2 else 0.0, jump=lambda lr: True)
    low = range_test(task, validate=False, extend=True)
    assert not low.steady.raised and low.suggestion.lr == pytest.approx(reading / 10 ** 0.5)


def test_an_adaptive_reading_gives_way_while_a_lower_rate_trains_faster(monkeypatch):
    """With Adam, a clear curve's reading s is trained beside s / sqrt(10) for SPAN steps:
    when the lower one ends lower by more than FASTER of where s started, it is the
    suggestion and half a decade lower is tried, three rates at most; else s stands, and
    the reason says nothing of it. Plain SGD is never checked so, nor with steady=False."""
    from lrlab.search import range_test
    from lrlab.search._below import FASTER, SPAN

    rng = np.random.default_rng(1)

    def valley(lrs):  # falls from 0.05 to 0.5, turns up after 1
        u = np.log10(lrs)
        fall = 1.0 - 0.5 * np.clip((u + 1.3) / 1.0, 0, 1) + np.where(u > 0, 4 * u ** 2, 0)
        return fall + 0.01 * rng.standard_normal(len(lrs)), False

    task, _ = fake_range_tests(monkeypatch, [valley])
    kept = range_test(task, validate=False, extend=True, optimizer="adam")
    s = kept.suggestion.lr
    assert "50% down its descent" in kept.suggestion.why and "trained faster" not in kept.suggestion.why
    assert kept.below.lrs == pytest.approx([s, s / 10 ** 0.5]) and not kept.below.lowered
    assert kept.below.steps == SPAN

    def ends(by):  # every rate below s ends `by` of its start (2) lower than the one above
        return lambda lr: 1.0 - by * 2.0 * round(math.log10(s / lr) * 2)
    for by, lr, tried in ((2 * FASTER, s / 10, 3), (FASTER / 2, s, 2)):
        task, _ = fake_range_tests(monkeypatch, [valley], end=ends(by))
        r = range_test(task, validate=False, extend=True, optimizer="adam")
        assert r.below.lrs == pytest.approx([s / 10 ** (i / 2) for i in range(tried)])
        assert r.suggestion.lr == pytest.approx(lr)
        assert ("a lower rate trained faster" in r.suggestion.why) == (lr < s)
    task, _ = fake_range_tests(monkeypatch, [valley],        # only the first lower one is faster
                               end=lambda lr: 0.5 if s / 5 < lr < s / 2 else 1.0)
    r = range_test(task, validate=False, extend=True, optimizer="adam")
    assert r.suggestion.lr == pytest.approx(s / 10 ** 0.5) and len(r.below.lrs) == 3
    assert "0.5 (from 2)" in r.suggestion.why
    task, _ = fake_range_tests(monkeypatch, [valley], end=lambda lr: lr)
    off = range_test(task, validate=False, extend=True, optimizer="adam", steady=False)
    assert off.below is None and off.suggestion.lr == pytest.approx(s)
    task, _ = fake_range_tests(monkeypatch, [valley], end=lambda lr: lr)
    sgd = range_test(task, validate=False, extend=True)
    assert sgd.below is None and "trained faster" not in sgd.suggestion.why


def test_a_test_that_diverged_at_once_is_run_again_lower_and_remembers_it(monkeypatch):
    """Diverged within the first tenth of its steps: again from start / 1000 with the same
    steps per decade; the result keeps the first test, and its advice knows it was run."""
    from lrlab.search import range_test

    def blow_up(lrs):  # diverges at once from the user's start
        return np.array([1.0, 40.0]), True

    def valley(lrs):  # from a thousandth of it: flat, falls from 0.01 to 1, then blows up
        u = np.log10(lrs)
        return 1.0 - 0.25 * np.clip(u + 2, 0, 2) + np.where(u > 0, 4 * u ** 2, 0), False

    task, calls = fake_range_tests(monkeypatch, [blow_up, valley])
    r = range_test(task, start=0.5, end=100.0, validate=False, extend=True)
    (s1, e1, n1), (s2, e2, n2) = calls
    assert (s1, e1, n1) == (0.5, 100.0, 100) and s2 == pytest.approx(5e-4) and e2 == 100.0
    assert n2 == 100 + round(300 / np.log10(200))            # three decades at the same density
    assert r.first is not None and len(r.first.lrs) == 2 and r.lrs[0] == pytest.approx(5e-4)
    assert 0.1 < r.suggestion.lr < 0.6 and r.advice == "" and r.warnings == ()

    task, calls = fake_range_tests(monkeypatch, [blow_up, blow_up])   # still at once: not the rate
    r = range_test(task, start=0.5, end=100.0, validate=False, extend=True)
    assert len(calls) == 2 and math.isnan(r.suggestion.lr)
    assert "check the data and the loss" in r.suggestion.why and "start lower" not in r.advice


def test_tools_readings_on_a_flat_curve_say_they_read_noise() -> None:
    """valley, steepest and min_div10 keep the rates their tools would print, but on a curve
    with no clear descent each reason says the rate was read off noise; on a clear descent
    they say nothing of the kind."""
    lrs = np.geomspace(1e-6, 10.0, 120)
    wobble = 0.01 * np.sin(np.arange(120) * 1.7)
    flat = np.where(lrs < 1.0, 1.0 + wobble, 1.0 + 5 * np.log10(lrs / 0.999))
    flat_result = RangeTestResult.build(lrs, flat)
    assert flat_result.warnings and "no clear descent" in flat_result.warnings[0]
    tools = flat_result.comparisons()
    assert set(tools) == {"valley", "steepest", "min_div10"}
    for reading in tools.values():
        assert not np.isfinite(reading.lr) or reading.why.endswith(
            "read off noise: the curve has no clear descent")
    assert any(np.isfinite(r.lr) for r in tools.values())
    clear = RangeTestResult.build(lrs, np.abs(np.log10(lrs)))
    assert all("read off noise" not in r.why for r in clear.comparisons().values())


# --- a task ranked by its loss ------------------------------------------------------------

def test_a_task_ranked_by_its_loss_is_told_to_train_twice_and_four_times_the_suggestion():
    """A regression's best rate for the full epochs sits above a short test's reading (the
    loss keeps falling): the warnings name the suggestion, 2x and 4x it to train, whether
    the task is tensors with ``monitor="loss"`` or a DataLoader one whose kind its first
    batch tells; a classifier's test and :func:`find_lr`'s own curve do not."""
    from lrlab import Task
    from lrlab.search import range_test
    from lrlab.search._result import loss_warning
    from lrlab.tasks import Split, get_task

    x, y = regression(320)

    def mse(outputs, targets):  # per sample, over a population's outputs (K, B, 1)
        return (outputs - targets).square().squeeze(-1)

    tensors = Task(name="reg", train=Split(x[:256], y[:256]), val=Split(x[256:], y[256:]),
                   model=lambda: nn.Linear(3, 1), loss=mse, num_classes=None, monitor="loss",
                   batch_size=16, epochs=2)
    loaders = Task.from_loaders(lambda: nn.Linear(3, 1),
                                DataLoader(TensorDataset(x[:256], y[:256]), batch_size=16,
                                           shuffle=True),
                                DataLoader(TensorDataset(x[256:], y[256:]), batch_size=64),
                                loss=nn.MSELoss(), epochs=2, name="reg-loader")
    for task in (tensors, loaders):
        r = range_test(task, steps=40, validate=False)
        s = r.suggestion.lr
        assert r.monitor == "loss" and math.isfinite(s)
        # (as written: where several lines advise, one next step says it)
        said = [w for w in r._lines() if w.startswith("ranked by a loss")]
        assert said == [loss_warning(s)]
        assert f"train {s:.3g}, {2 * s:.3g} and {4 * s:.3g} for the full epochs" in said[0]
        assert r.to_try == (s, 2 * s, 4 * s)  # the same rates, for a script
    blobs = range_test(get_task("blobs"), steps=40, validate=False)
    assert blobs.monitor == "auc"  # its own ranking metric
    assert not any(w.startswith("ranked by a loss") for w in blobs.warnings)
    own = find_lr(nn.Linear(3, 1), nn.MSELoss(), batches(x, y, 16), start=1e-4, end=10.0,
                  steps=40)
    assert own.monitor is None and not any(w.startswith("ranked by") for w in own.warnings)
    assert own.to_try == () and blobs.to_try == ()


def test_a_short_training_is_told_to_train_twice_and_four_times_the_suggestion():
    """A task trained for fewer than SHORT optimizer steps (the full training's: epochs x
    batches per epoch, a DataLoader's own length) names the suggestion, 2x and 4x it; the
    same task trained longer does not, and a short regression says it once (by_loss)."""
    from lrlab import Task
    from lrlab.search import range_test
    from lrlab.search._result import SHORT, loss_warning, short_warning
    from lrlab.tasks import get_task

    blobs = get_task("blobs")                        # 10 batches an epoch
    long = range_test(blobs, steps=40, validate=False)
    assert long.training_steps == 10 * blobs.epochs >= SHORT
    assert not any(w.startswith("a short training") for w in long.warnings)
    brief = range_test(blobs.replace(epochs=3), steps=40, validate=False)
    s = brief.suggestion.lr
    assert brief.training_steps == 30 and brief.suggestion == long.suggestion
    assert long.to_try == () and brief.to_try == (s, 2 * s, 4 * s)
    assert [w for w in brief.warnings if w.startswith("a short training")] == [short_warning(s, 30)]
    assert f"({30} optimizer steps): train {s:.3g}, {2 * s:.3g} and {4 * s:.3g}" in short_warning(s, 30)
    x, y = blobs.train.x, blobs.train.y
    loader = Task.from_loaders(lambda: nn.Linear(2, 3),
                               DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True),
                               DataLoader(TensorDataset(x, y), batch_size=250),
                               loss=nn.CrossEntropyLoss(), epochs=4, name="few")
    r = range_test(loader, steps=40, validate=False)
    assert r.training_steps == 4 * 5 and short_warning(r.suggestion.lr, 20) in r.warnings
    xr, yr = regression(64)
    reg = Task.from_loaders(lambda: nn.Linear(3, 1),
                            DataLoader(TensorDataset(xr, yr), batch_size=16, shuffle=True),
                            DataLoader(TensorDataset(xr, yr), batch_size=64),
                            loss=nn.MSELoss(), epochs=2, name="few-reg")
    r = range_test(reg, steps=40, validate=False)
    said = [w for w in r.warnings if w.startswith(("a short training", "ranked by a loss"))]
    assert r.training_steps == 8 and said == [loss_warning(r.suggestion.lr)]


def test_a_test_on_part_of_a_task_counts_the_full_tasks_training():
    """The test on a subset (full.subset(n), lrlab find --subset) warns of a short training
    by the full task's length, the one the user trains: before, the subset's own (blobs of
    20 epochs on 60 of its 500 examples: 40 steps, not 200) warned 'a short training'."""
    from lrlab.search import range_test
    from lrlab.search._result import SHORT
    from lrlab.tasks import get_task

    blobs = get_task("blobs").replace(epochs=20)     # 10 batches an epoch: 200 steps
    part = blobs.subset(60, seed=0)                  # 2 batches an epoch
    alone = range_test(part, steps=40, validate=False)
    told = range_test(part, steps=40, validate=False, full=blobs)
    assert alone.training_steps == 40 < SHORT and alone.to_try
    assert told.training_steps == 200 >= SHORT and told.to_try == ()
    assert not any(w.startswith("a short training") for w in told.warnings)
    np.testing.assert_array_equal(told.losses, alone.losses)  # the test itself: the part's
    brief = blobs.replace(epochs=2)
    assert range_test(part, steps=30, validate=False, full=brief).training_steps == 20


def test_a_short_training_under_heavy_ball_momentum_names_lower_rates():
    """Under heavy-ball momentum m (the rule's default 0.9 or the user's) a short training
    names the suggestion times 1 - m up to it, half a decade apart at most, and twice it
    (momentum's long-run step is lr / (1 - m), its range test's turn moves far less): at 0.9
    s/10, s/sqrt(10), s, 2s; at 0.5 s/2, s, 2s. Plain SGD and Adam keep s, 2s, 4s."""
    from lrlab.search import range_test
    from lrlab.search._result import short_warning
    from lrlab.tasks import get_task

    brief = get_task("blobs").replace(epochs=3)            # 30 optimizer steps
    plain = range_test(brief, steps=40, validate=False)
    assert plain.momentum == 0.0 and short_warning(plain.suggestion.lr, 30) in plain._lines()
    for rule, hp, m, factors in (("momentum", None, 0.9, (0.1, 0.1 ** 0.5, 1, 2)),
                                 ("nesterov", {"momentum": 0.5}, 0.5, (0.5, 1, 2))):
        r = range_test(brief, steps=40, validate=False, optimizer=rule, hparams=hp)
        s = r.suggestion.lr
        rates = [s * f for f in factors]
        # (as written: where several lines advise, one next step says it)
        said = [w for w in r._lines() if w.startswith("a short training")]
        assert r.momentum == m and said == [short_warning(s, 30, m)]
        named = ", ".join(f"{lr:.3g}" for lr in rates[:-1]) + f" and {rates[-1]:.3g}"
        assert f"train {named} for" in said[0]
        assert r.to_try == pytest.approx(rates, rel=1e-12)
    adam = range_test(brief, steps=40, validate=False, optimizer="adam")
    assert adam.momentum == 0.0 and short_warning(adam.suggestion.lr, 30) in adam._lines()


def test_find_advice_says_the_users_run_not_lrlabs_benchmarks():
    """find's advice lines (a task ranked by its loss, a short or slow training, heavy-ball
    momentum) and auto's line on a race ranked by a loss say the fact about the user's run
    and what to do; the measurements behind them (a ResNet under momentum, a GroupNorm CNN,
    a seq2seq, 20 regression runs) stay in the docstrings and docs/benchmarks.md: a user
    cannot place them; so does the flat curve's plateau line (it quoted a small LSTM's
    seeds)."""
    import re

    from lrlab.search._auto import short_on_loss
    from lrlab.search._result import (
        PLATEAU,
        loss_warning,
        momentum_warning,
        short_warning,
        slow_warning,
    )

    lines = [loss_warning(0.01), short_warning(0.1, 120), short_warning(0.1, 120, 0.9),
             slow_warning(0.1, 0.12, 200), slow_warning(0.1, 0.0, 200, 0.9),
             momentum_warning(0.1, 0.9), short_on_loss(6, 40, "loss", lr=0.1),
             PLATEAU.format("rates below 1")]
    for line in lines:
        assert not re.search(r"\blost\b|points|benchmark|ResNet|GroupNorm|seq2seq|\bleft\b"
                             r"|LSTM|seeds?\b.*\d+%", line), line
    assert "the best rate can sit up to 10x below the suggestion" in momentum_warning(0.1, 0.9)
    assert "the best rate can sit up to 2x below the suggestion" in short_warning(0.1, 120, 0.5)


@pytest.mark.parametrize(("m", "factors"), [
    (0.5, (0.5, 1.0, 2.0)),                                    # a factor 2 below: no gap
    (0.68, (0.32, 1.0, 2.0)),                                  # 3.1x, under half a decade
    (0.7, (0.3, 0.3 ** 0.5, 1.0, 2.0)),                        # 3.3x: one rate between
    (0.9, (0.1, 0.1 ** 0.5, 1.0, 2.0)),                        # a decade: s / sqrt(10)
    (0.99, (0.01, 0.01 ** 0.75, 0.1, 0.01 ** 0.25, 1.0, 2.0)),  # two decades: three between
])
def test_rates_to_try_under_momentum_step_half_a_decade_at_most(m, factors):
    """Under heavy-ball momentum the best rate can sit anywhere from s (1 - m) to s (the
    finder-quality deep-tanh seed 1 trained best at s / 4 with 0.9, where s / 10 and s each
    lost 3.7-5 points): the rates named below s step evenly, half a decade at most, then 2s
    (float64 by hand)."""
    from lrlab.search._result import rates_to_try

    s = 0.3
    assert rates_to_try(s, m) == pytest.approx([s * f for f in factors], rel=1e-12)
    assert rates_to_try(s) == (s, 2 * s, 4 * s)


def test_a_longer_training_under_heavy_ball_momentum_names_lower_rates_too():
    """Heavy ball's long-run step is lr / (1 - m) however long the training (a GroupNorm CNN
    trained 246 steps with momentum 0.9 lost 20.9 points at the suggestion): a task's
    training of any length under momentum names the suggestion x (1 - m) up to it (at 0.9
    also s/sqrt(10) between: no decade left unnamed below s) and twice it; plain SGD on the
    same task names nothing, find_lr (no task) neither."""
    from lrlab.search import range_test
    from lrlab.search._result import SHORT, momentum_warning
    from lrlab.tasks import get_task

    blobs = get_task("blobs")
    r = range_test(blobs, steps=40, validate=False, optimizer="momentum")
    s, m = r.suggestion.lr, 0.9
    assert r.training_steps >= SHORT and r.momentum == m
    assert [w for w in r.warnings if w.kind == "heavy_ball"] == [momentum_warning(s, m)]
    assert r.to_try == pytest.approx((s / 10, s / 10 ** 0.5, s, 2 * s), rel=1e-12)
    plain = range_test(blobs, steps=40, validate=False)
    assert "heavy_ball" not in plain.kinds and plain.to_try == ()


def test_a_clear_reading_on_a_training_that_ends_still_learning_names_rates_to_train():
    """At the pace its test's validation accuracy rose, a training covering under SLOW of
    the way from chance to perfect ends still learning (a seq2seq transformer trained 200
    steps: the suggestion lost up to 26 points): the warning names the suggestion, 2x and
    4x it (momentum 0.9: x 0.1, 1 / sqrt(10), 1, 2); a longer training, a flat curve, no chance known or
    a short training's own line do not add it."""
    import dataclasses

    from lrlab.search._result import SLOW, rates_to_try, slow_warning

    lrs = np.geomspace(1e-5, 10.0, 100)
    acc = np.full(100, np.nan)
    acc[:80:4] = np.linspace(0.10, 0.16, 20)   # rose 0.06 over chance 0.1 below the turn
    clear = RangeTestResult.build(lrs, np.abs(np.log10(lrs)), val_accuracy=acc)
    slow = dataclasses.replace(clear, chance=0.1, training_steps=300)
    s = slow.suggestion.lr
    assert slow.pace == pytest.approx((0.16 - 0.1) / 0.9 * 300 / 100, rel=1e-12)
    assert slow.pace < SLOW
    assert slow.kinds == ("slow_learner",)
    assert slow.warnings[0] == slow_warning(s, slow.pace, 300) and slow.to_try == (s, 2 * s, 4 * s)
    heavy = dataclasses.replace(slow, momentum=0.9)
    assert heavy.to_try == rates_to_try(s, 0.9) == pytest.approx((0.1 * s, 0.1 ** 0.5 * s,
                                                                    s, 2 * s))
    long = dataclasses.replace(slow, training_steps=3000)      # pace 2: it gets there
    unknown = dataclasses.replace(clear, training_steps=300)    # no chance: find_lr
    flat = dataclasses.replace(RangeTestResult.build(lrs, np.ones(100), val_accuracy=acc),
                               chance=0.1, training_steps=300)
    for r in (long, unknown, flat):
        assert "slow_learner" not in r.kinds and (r.to_try == () or r is flat)
    assert math.isnan(unknown.pace)
    short = dataclasses.replace(slow, training_steps=100)      # short: that line, once
    assert short.kinds == ("short_training",)


def test_the_pace_counts_the_accuracy_up_to_where_the_loss_turns_up():
    """A bag-of-embeddings text classifier (new_user's hftext, seed 1): its loss fell only to
    the loss of its classes' shares, its validation accuracy sat at chance (0.70) up to where
    the loss turned up and touched 0.75 once past it, so the pace read 0.53 and the reading
    (7.3 points lost) went unwarned. The rates past the turn are those the reading rules
    out: what the accuracy did there is no pace of a training below it."""
    import dataclasses

    from lrlab.search._result import SLOW

    lrs = np.geomspace(1e-5, 10.0, 100)
    loss = np.abs(np.log10(lrs))                   # the bottom at 1, turning up after it
    acc = np.full(100, 0.70)
    acc[95] = 0.80                                 # a blip at 5.7, past the turn
    past = dataclasses.replace(RangeTestResult.build(lrs, loss, val_accuracy=acc), chance=0.70,
                               training_steps=300)
    assert 1.0 < past.headroom.lr < lrs[95]
    assert past.pace == pytest.approx(0.0, abs=1e-12) and "slow_learner" in past.kinds
    acc[95], acc[70] = 0.70, 0.80                  # the same rise below the turn counts
    below = dataclasses.replace(past, val_accuracy=acc)
    assert below.pace == pytest.approx(0.1 / 0.3 * 300 / 100, rel=1e-12) and below.pace > SLOW
    assert "slow_learner" not in below.kinds


def test_a_validated_range_test_keeps_the_accuracy_of_a_model_that_learned_nothing(blobs):
    """range_test with validation keeps ``chance``: the untrained model's validation accuracy
    or the majority class's share of the labels, whichever is higher; none without."""
    from lrlab.search import range_test
    from lrlab.train import untrained

    r = range_test(blobs, steps=30)
    counts = torch.bincount(blobs.val.y)
    share = float(counts.max()) / len(blobs.val.y)
    own = untrained(blobs, 0).metrics["accuracy"]
    assert r.chance == pytest.approx(max(share, own), rel=1e-12) and r.chance >= share
    assert 0 < r.pace and math.isfinite(r.pace)
    assert math.isnan(range_test(blobs, steps=30, validate=False).chance)


def test_only_a_clear_descents_own_reading_is_called_a_slow_learner():
    """The slow-learner line reads a clear descent's own reading: a flat curve whose
    suggestion came from elsewhere (its stability check), or a zoom's dip read from where
    the loss broke (``broke``), has a rate but no pace to trust, so neither names the rates
    at a slow pace."""
    import dataclasses

    from lrlab.search._readings import Reading

    lrs = np.geomspace(1e-5, 10.0, 100)
    acc = np.full(100, np.nan)
    acc[::4] = np.linspace(0.10, 0.16, 25)
    clear = RangeTestResult.build(lrs, np.abs(np.log10(lrs)), val_accuracy=acc)
    slow = dataclasses.replace(clear, chance=0.1, training_steps=300)
    assert slow.kinds == ("slow_learner",)  # the line the two below must not get
    checked = Reading(1e-2, "the flat curve's reading, stable when trained")
    flat = dataclasses.replace(RangeTestResult.build(lrs, np.ones(100), val_accuracy=acc),
                               chance=0.1, training_steps=300, suggestion=checked)
    broke = dataclasses.replace(slow, broke=Reading(0.5, "where the loss broke"))
    for r in (flat, broke):
        assert r.pace < 0.5 and "slow_learner" not in r.kinds and r.to_try == ()


def test_the_chance_a_range_test_keeps_is_the_majority_share_when_higher():
    """On 9-to-1 labels a linear model that learned nothing scores about half right, while
    always answering the majority class scores 0.9: ``chance`` is the higher, the share."""
    from lrlab.search import range_test
    from lrlab.tasks import Split, Task
    from lrlab.train import untrained

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 4, generator=g), (torch.rand(400, generator=g) < 0.1).long()
    task = Task("skewed", Split(x[:200], y[:200]), Split(x[200:], y[200:]),
                lambda: nn.Linear(4, 2), num_classes=2, batch_size=20)
    share = float((y[200:] == 0).double().mean())
    assert untrained(task, 0).metrics["accuracy"] < share
    assert range_test(task, steps=20).chance == pytest.approx(share, rel=1e-12)


def test_a_test_without_a_rate_names_none_to_train():
    """No suggestion (a curve that never fell) on a task ranked by its loss or trained
    briefly: no rates to train, not 'train nan, nan and nan'; the reason and next step say
    what to do."""
    import dataclasses

    lrs = np.logspace(-4, 1, 60)
    flat = RangeTestResult.build(lrs, np.ones(60))
    assert math.isnan(flat.suggestion.lr)
    for told in ({"monitor": "loss"}, {"training_steps": 30}):
        r = dataclasses.replace(flat, **told)
        assert r.warnings and not any(w.startswith(("ranked by a loss", "a short training"))
                                      for w in r.warnings), told
        assert r.to_try == (), told




def test_a_learning_rate_free_rule_is_refused_with_what_to_do(blobs):
    """Prodigy, D-Adaptation and DoG set their own step size: their lr multiplies it (1 by
    their papers), so ramping it reads no rate (before: lrlab find suggested a 'rate' of 6.43
    for Prodigy on blobs). range_test, find_lr (an lrlab optimizer of such a rule, or the
    reference packages' classes by name) and auto refuse with one line, before any step;
    Schedule-Free, whose lr is a rate, is tested as any rule."""
    from helpers import one_line

    from lrlab._errors import LrlabError
    from lrlab.optim import RULES, Optimizer
    from lrlab.search import auto, range_test

    free = sorted(name for name, rule in RULES.items() if rule.multiplier)
    assert free == ["dadapt_adam", "dog", "prodigy"]
    for name in free:
        with pytest.raises(LrlabError) as err:
            range_test(blobs, optimizer=name, steps=20)
        one_line(err, f"{name} sets its own step size",  # was "train it at lr=1": find has no --lr
                 f"lrlab train TASK --optimizer {name} --lr 1")
    with pytest.raises(LrlabError) as err:
        auto(blobs, optimizer="prodigy")
    one_line(err, "prodigy sets its own step size")
    model = nn.Linear(2, 2)
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))

    class Prodigy(torch.optim.SGD):  # as prodigyopt names its optimizer
        pass

    for opt in (Optimizer(model.parameters(), "dog", lr=1.0), Prodigy(model.parameters(), lr=1.0)):
        before = [p.detach().clone() for p in model.parameters()]
        with pytest.raises(LrlabError, match="sets its own step size"):
            find_lr(model, nn.CrossEntropyLoss(), (x, y), optimizer=opt, steps=20)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert len(range_test(blobs, optimizer="sf_sgd", steps=20, validate=False).lrs) > 1


def test_range_test_trains_on_the_device_given(blobs):
    """range_test (and lrlab find, auto's test) take device= as sweep does: "cpu" gives the
    default's curve on a machine without CUDA; a device this machine lacks is one line
    before any step (before: no device=, the test always ran where init_model put it)."""
    from helpers import one_line

    from lrlab._errors import LrlabError
    from lrlab.search import range_test

    here = range_test(blobs, steps=20, validate=False, device="cpu")
    if not torch.cuda.is_available():
        default = range_test(blobs, steps=20, validate=False)
        assert np.array_equal(here.losses, default.losses)
    for wrong, said in (("cuda:99", "is not available here"), ("tpu9", "unknown device")):
        with pytest.raises(LrlabError) as err:
            range_test(blobs, steps=20, device=wrong)
        one_line(err, said)


def test_an_adaptive_rule_on_a_task_ranked_by_its_loss_is_read_at_its_bottom_over_two():
    """Adam on a regression (a task ranked by its loss) is read with LOSS_RULES: the bottom
    of the descent / 2, at most the turn-up / 4, not halfway down the descent (the
    classifiers' adaptive rule), which lies below it; the same network as a classifier, or
    the regression with SGD, keeps its rule."""
    from lrlab import Task
    from lrlab.search import ADAPTIVE_RULES, DEFAULT_RULES, LOSS_RULES, range_test, suggest
    from lrlab.search._readings import describe
    from lrlab.search._suggest import turn_up
    from lrlab.tasks import Split, get_task

    x, y = regression(320)

    def mse(outputs, targets):
        return (outputs - targets).square().squeeze(-1)

    task = Task(name="reg", train=Split(x[:256], y[:256]), val=Split(x[256:], y[256:]),
                model=lambda: nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)),
                loss=mse, num_classes=None, monitor="loss", batch_size=64, epochs=2)
    r = range_test(task, optimizer="adam", start=1e-5, end=10.0, steps=80, validate=False)
    assert r.rules is LOSS_RULES
    d = describe(r.lrs, r.losses, LOSS_RULES)
    assert d.clear
    bottom = float(r.lrs[d.crossing(0.99)])
    up = float(r.lrs[turn_up(d, LOSS_RULES)])
    assert r.suggestion.lr == pytest.approx(min(bottom / 2, up / 4))
    halfway = suggest(r.lrs, r.losses, rules=ADAPTIVE_RULES).lr
    assert halfway < r.suggestion.lr  # what the classifiers' rule reads on this curve
    assert range_test(task, steps=60, validate=False).rules is DEFAULT_RULES
    assert range_test(get_task("blobs"), optimizer="adam", steps=40,
                      validate=False).rules is ADAPTIVE_RULES


def test_a_flat_reading_under_sgd_warns_that_the_plateau_may_be_the_seeds_luck(monkeypatch):
    """A quiet zoom that stayed flat until it broke, its reading checked by training: under
    an SGD-like rule the warnings add that which rate leaves such a plateau may be the seed's
    luck and that an adaptive rule may train it (``plateau``, naming optimizer='adam'); under
    Adam, or without the check (no quiet zoom), they do not."""
    from lrlab.search import range_test
    from lrlab.search._result import PLATEAU, ROSE_ONLY

    rng = np.random.default_rng(3)

    def flat(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * rng.standard_normal(len(lrs)) + np.where(u > 0.6, 5 * (u - 0.6), 0), False

    for optimizer, told in (("sgd", True), ("momentum", True), ("adam", False)):
        task, _ = fake_range_tests(monkeypatch, [flat, flat])
        r = range_test(task, validate=False, extend=True, optimizer=optimizer)
        assert r.steady is not None, optimizer
        # (as written: where several lines advise, one next step says it)
        said = [w for w in r._lines() if w.kind == "plateau"]
        # (its loss rose to 3x its level and never diverged: the rates reach past the break)
        assert said == ([PLATEAU.format(ROSE_ONLY)] if told else []), optimizer
    assert "optimizer='adam'" in PLATEAU and "seed's luck" in PLATEAU
    task, _ = fake_range_tests(monkeypatch, [flat, flat])
    assert "plateau" not in range_test(task, validate=False, extend=True, steady=False).kinds


def test_a_seed_listed_twice_is_refused_before_anything_trains():
    model = nn.Linear(4, 2)
    before = [p.detach().clone() for p in model.parameters()]
    data = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))] * 4
    with pytest.raises(LrlabError, match=r"^seeds lists 0 twice; the tests of one seed run"):
        find_lr(model, nn.CrossEntropyLoss(), data, seeds=[0, 1, 0])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_fall_only_to_the_class_shares_loss_is_looked_at_again_zoomed(monkeypatch):
    """blobs' three classes' shares cost 1.098 (their entropy, by hand from the validation
    labels). A test whose loss starts near uniform predictions (1.2, under 1.25 ln 3) and
    falls only to there, then breaks at 1, is read as flat: the zoom (from the break / 1000,
    twice the steps) shows a fall to 0.3 and is read. The same first curve starting at 4.3
    (large first logits: its fall may be them shrinking) is read as it is, at once."""
    from lrlab.search import range_test
    from lrlab.search._task_range import prior_loss
    from lrlab.tasks import get_task

    y = get_task("blobs").val.y
    share = torch.bincount(y).double() / len(y)
    prior = float(-(share * share.log()).sum())
    assert prior_loss(get_task("blobs")) == pytest.approx(prior, rel=1e-12)
    rng = np.random.default_rng(4)

    def to_prior(start):
        def curve(lrs):
            u = np.log10(lrs)
            fall = start - (start - prior) * np.clip((u + 5) / 2, 0, 1)
            return fall + 0.01 * rng.standard_normal(len(lrs)) + 5 * u.clip(0), False
        return curve

    def learns(lrs):  # the zoom: falls on to 0.3 at 0.01 .. 0.1, turns up after 0.3
        u = np.log10(lrs)
        fall = 1.2 - 0.9 * np.clip((u + 2), 0, 1) + np.where(u > -0.5, 4 * (u + 0.5) ** 2, 0)
        return fall + 0.01 * rng.standard_normal(len(lrs)), False

    task, calls = fake_range_tests(monkeypatch, [to_prior(1.2), learns])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 2 and calls[1][2] == 200
    assert 0.5 < calls[1][0] * 1000 < 2 and r.lrs[0] == pytest.approx(calls[1][0])
    assert r.first is not None and "fell only to 1.1" in r.first.suggestion.why
    assert r.prior == pytest.approx(prior) and 0.003 < r.suggestion.lr < 0.1
    assert r.kinds[0] == "class_shares" and f"from {r.lrs[0]:.3g}" in r.warnings[0]
    task, calls = fake_range_tests(monkeypatch, [to_prior(4.3), learns])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 1 and math.isnan(r.prior) and r.suggestion.lr < 1e-3


def test_a_loss_that_never_blows_up_is_read_halfway_down_its_descent(monkeypatch):
    """A flat test to 10 (no suggestion) runs on to 1e4; a loss bounded as a sigmoid's
    outputs under MSE falls at 10 .. 100 from 0.23 to a floor of 0.1 and keeps it, its
    batches scattered, to the end without diverging: its trend's lowest point wanders in the
    floor, so the bottom / 2 reads far above the fall; the test is read halfway down (the
    line 0.23 -> 0.1 over 10 .. 100 is halfway at 10^1.5), and says why. The same curve
    blowing up at 1e3 (it stopped there) is read at its bottom as before; so is Adam's."""
    from lrlab.search import ADAPTIVE_RULES, range_test
    from lrlab.search._readings import BOUNDED_RULES, describe

    rng = np.random.default_rng(6)

    def flat(lrs):
        return 0.23 + 0.001 * rng.standard_normal(len(lrs)), False

    def floor(lrs, blow=math.inf):
        u = np.log10(lrs)
        fall = 0.23 - 0.13 * np.clip(u - 1, 0, 1)
        loss = fall + np.where(u > 2, 0.02, 0.001) * rng.standard_normal(len(lrs))
        keep = lrs < blow
        return (loss[keep], True) if not keep.all() else (loss, False)

    task, calls = fake_range_tests(monkeypatch, [flat, floor])
    r = range_test(task, validate=False, extend=True)
    assert len(calls) == 2 and calls[1][1] == pytest.approx(1e4) and r.rules is BOUNDED_RULES
    assert within_factor(r.suggestion.lr, 10 ** 1.5, 10 ** 0.2)
    assert "50% down its descent" in r.suggestion.why and "bounded_loss" in r.kinds
    d = describe(r.lrs, r.losses)
    assert r.lrs[d.crossing(0.99)] / 2 > 100                 # what the bottom / 2 read
    task, calls = fake_range_tests(monkeypatch, [flat, lambda x: floor(x, blow=1e3)])
    r = range_test(task, validate=False, extend=True)
    assert r.rules is not BOUNDED_RULES and "bounded_loss" not in r.kinds
    task, calls = fake_range_tests(monkeypatch, [flat, floor])
    r = range_test(task, validate=False, extend=True, optimizer="adam")
    assert r.rules is ADAPTIVE_RULES and "bounded_loss" not in r.kinds


def within_factor(value: float, target: float, factor: float) -> bool:
    return target / factor <= value <= target * factor


def test_a_task_whose_classes_a_sweep_does_not_score_gets_no_validation_accuracy() -> None:
    """An ordinal model gives one logit per threshold, ``(B, grades - 1)``, for grades
    ``0..grades - 1`` under its own loss (a causal LM's logits, likewise, answer the next
    token, not the labels as given): a sweep scores no classes there, but the range test's
    loop scored any outputs shaped like class scores, so ``lrlab find`` printed Smith's
    readings "from the validation accuracy" of a meaningless argmax (on ``user_shapes9``'s
    causal LM: 'recommended' 0.000521 where its training loss's is 0.0313). Such a task's test
    now keeps no validation accuracy (its readings come from the loss); a classifier keeps
    its own."""
    from lrlab.search import range_test
    from lrlab.tasks import Task

    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    grades = torch.bucketize(x[:, 0].contiguous(), torch.tensor([-0.7, 0.0, 0.7]))  # 0..3
    data = DataLoader(TensorDataset(x, grades), batch_size=16)

    def above(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        target = (y[:, None] > torch.arange(logits.shape[-1])).float()
        return nn.functional.binary_cross_entropy_with_logits(logits, target)

    ordinal = Task.from_loaders(lambda: nn.Linear(4, 3), data, data, loss=above, epochs=1)
    r = range_test(ordinal, steps=30)
    assert r.val_accuracy is None and math.isnan(r.chance)
    assert r.val_loss is not None and np.isfinite(r.val_loss).any()
    four = Task.from_loaders(lambda: nn.Linear(4, 4), data, data, loss=nn.CrossEntropyLoss(),
                             epochs=1)
    assert range_test(four, steps=30).val_accuracy is not None
