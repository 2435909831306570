"""``TorchSchedule`` drives a torch optimizer's groups; ``ReduceOnPlateau`` keeps its state."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch.optim import SGD
from torch.optim.lr_scheduler import LRScheduler

import lrlab.schedules as S
from lrlab import LrlabError
from lrlab.optim import param_groups


def sgd(lrs: list[float]) -> SGD:
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def run(opt: SGD, sched: S.TorchSchedule, n: int) -> list[list[float]]:
    seen = [[g["lr"] for g in opt.param_groups]]
    for _ in range(n):
        opt.step()
        sched.step()
        seen.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == seen[-1]
    return seen


def test_one_rate_for_every_group() -> None:
    """One rate sets every group to it; where the groups had different rates (layer-wise
    ones) that loses their ratios, which torch's multiplicative schedulers keep: a warning says so and
    how to keep them (before: silently)."""
    opt = sgd([1.0, 2.0])
    schedule = S.cosine(0.1, total=30)
    with pytest.warns(UserWarning, match=r"^lrlab: .* 2 parameter groups of different rates "
                      r"\(1, 2\).*ratios are lost; give one rate per group"):
        sched = S.TorchSchedule(opt, schedule)
    seen = torch.tensor(run(opt, sched, 40), dtype=torch.float64)
    expected = schedule(torch.arange(41))
    assert torch.equal(seen, expected.expand(41, 2))
    assert isinstance(sched, LRScheduler)


def test_layerwise_groups_keep_their_rates_under_one_member_each() -> None:
    """param_groups' layer-wise rates under a schedule of one member per group: each group
    follows its own, in the ratio it was built with, and nothing warns; nor does one rate
    over groups that already share it."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = SGD(param_groups(model, 0.1, {"0.*": 0.1}), lr=0.1)
    schedule = S.cosine([0.01, 0.1], total=10)
    seen = torch.tensor(run(opt, S.TorchSchedule(opt, schedule), 12), dtype=torch.float64)
    assert torch.equal(seen, schedule(torch.arange(13)))
    assert torch.allclose(seen[:10, 1] / seen[:10, 0], torch.full((10,), 10.0, dtype=torch.float64))
    same = sgd([0.5, 0.5])
    S.TorchSchedule(same, S.cosine(0.1, total=10))  # warnings are errors in the tests
    assert [g["lr"] for g in same.param_groups] == [0.1, 0.1]


def test_one_member_per_group() -> None:
    opt = sgd([1.0, 2.0, 3.0])
    schedule = S.warmup(S.step_decay([0.1, 0.01, 0.3], factor=0.5, every=4), length=3)
    seen = torch.tensor(run(opt, S.TorchSchedule(opt, schedule), 20), dtype=torch.float64)
    assert torch.equal(seen, schedule(torch.arange(21)))


def test_the_optimizer_is_not_patched() -> None:
    opt = sgd([0.5])
    step = opt.step
    S.TorchSchedule(opt, S.constant(0.1))
    assert "step" not in vars(opt) or opt.step == step
    assert not hasattr(opt.step, "_wrapped_by_lr_sched")
    assert set(opt.param_groups[0]) == set(sgd([0.5]).param_groups[0])


def test_state_dict_round_trip() -> None:
    schedule = S.one_cycle(0.2, total=50, unit="step")
    opt_a = sgd([0.1])
    a = S.TorchSchedule(opt_a, schedule)
    run(opt_a, a, 17)
    state = a.state_dict()
    assert "optimizer" not in state and "schedule" not in state
    opt_b = sgd([0.1])
    b = S.TorchSchedule(opt_b, schedule)
    b.load_state_dict(state)
    assert b.last_epoch == 17 and b.get_last_lr() == a.get_last_lr()
    opt_a.step()
    opt_b.step()
    a.step()
    b.step()
    assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"] == schedule(18).item()


def test_step_to_an_epoch_and_tensor_rates() -> None:
    opt = SGD([torch.zeros(2, requires_grad=True)], lr=torch.tensor(0.5))
    lr_tensor = opt.param_groups[0]["lr"]
    sched = S.TorchSchedule(opt, S.exponential(1.0, k=0.1))
    sched.step(epoch=10)
    assert opt.param_groups[0]["lr"] is lr_tensor
    assert float(lr_tensor) == pytest.approx(math.exp(-1.0), rel=1e-6)


@pytest.mark.parametrize("make", [
    lambda: S.TorchSchedule(sgd([0.1, 0.2]), S.constant([0.1, 0.2, 0.3])),
    lambda: S.TorchSchedule(object(), S.constant(0.1)),  # type: ignore[arg-type]
    lambda: S.TorchSchedule(sgd([0.1]), 0.1),  # type: ignore[arg-type]
    lambda: S.TorchSchedule(sgd([0.1]), S.constant(0.1)).step(epoch=-1),
])
def test_adapter_bad_input(make: Callable[[], object]) -> None:
    with pytest.raises(LrlabError):
        make()


@pytest.mark.parametrize("spec", ["wsd:cooldown_frac=0.2", S.parse_schedule("cosine")])
def test_a_spec_says_how_to_build_it(spec) -> None:
    """The command line's spec (was "must be an lrlab schedule ..., got str"): built for the
    training as the message says, it drives the optimizer per step."""
    with pytest.raises(LrlabError, match=(rf"^schedule '{spec}' is a spec, not built for your "
                                          r"training: give parse_schedule\('")):
        S.TorchSchedule(sgd([0.1]), spec)
    opt = sgd([0.1])
    S.TorchSchedule(opt, S.parse_schedule(str(spec)).build(0.1, epochs=2, steps_per_epoch=5))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


# -- ReduceOnPlateau state and input ---------------------------------------------------------


def test_plateau_state_round_trip() -> None:
    metrics = torch.tensor([[1.0, 2.0], [1.0, 1.5], [1.0, 1.5], [1.0, 1.0], [0.9, 1.0],
                            [0.9, 1.0], [0.9, 1.0], [0.8, 1.0]], dtype=torch.float64)
    a = S.ReduceOnPlateau([0.1, 0.2], patience=1, cooldown=1, factor=0.5)
    for m in metrics[:4]:
        a.update(m)
    b = S.ReduceOnPlateau([0.1, 0.2], patience=1, cooldown=1, factor=0.5)
    b.load_state_dict(a.state_dict())
    rest_a = torch.stack([a.update(m) for m in metrics[4:]])
    rest_b = torch.stack([b.update(m) for m in metrics[4:]])
    assert torch.equal(rest_a, rest_b) and a.last_epoch == b.last_epoch == 8
    assert torch.equal(a.lr, b.lr) and a.lr.tolist() != [0.1, 0.2]


def test_plateau_members_do_not_mix() -> None:
    both = S.ReduceOnPlateau([0.1, 0.1], patience=0)
    alone = S.ReduceOnPlateau(0.1, patience=0)
    for m in ([1.0, 1.0], [1.0, 0.5], [math.nan, 0.4], [0.9, 0.3]):
        lr = both.update(torch.tensor(m))
        assert lr[0] == alone.update(m[0])[0]
    assert lr[1] == 0.1


@pytest.mark.parametrize("call", [
    lambda: S.ReduceOnPlateau(0.1, factor=1.0),
    lambda: S.ReduceOnPlateau(0.1, patience=-1),
    lambda: S.ReduceOnPlateau(0.1, patience=2.5),  # type: ignore[arg-type]
    lambda: S.ReduceOnPlateau(0.1, mode="lowest"),  # type: ignore[arg-type]
    lambda: S.ReduceOnPlateau(0.1, threshold_mode="pct"),  # type: ignore[arg-type]
    lambda: S.ReduceOnPlateau(-0.1),
    lambda: S.ReduceOnPlateau([0.1, 0.2]).update(torch.tensor([1.0, 2.0, 3.0])),
    lambda: S.ReduceOnPlateau([0.1, 0.2]).update(1.0),
    lambda: S.ReduceOnPlateau([0.1, 0.2]).load_state_dict({"lr": torch.zeros(2)}),
    lambda: S.ReduceOnPlateau([0.1, 0.2]).load_state_dict(S.ReduceOnPlateau(0.1).state_dict()),
])
def test_plateau_bad_input(call: Callable[[], object]) -> None:
    with pytest.raises(LrlabError) as err:
        call()
    assert "\n" not in str(err.value)
