"""Mixed precision: the public path on CUDA (skipped without it), the scaler branch on CPU.

find_lr accepts ``amp=True`` for CUDA models only; the loop itself autocasts on the model's
device, so its GradScaler branch is exercised here on CPU (bfloat16) through the private
``run_once``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from lrlab.search import find_lr
from lrlab.search._data import Batches
from lrlab.search._loop import Setup, run_once
from lrlab.search._range_test import range_rates

CE = nn.CrossEntropyLoss()


def data(n: int = 256, device: str = "cpu"):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 8, generator=g) + 2.0 * (2 * y[:, None] - 1)
    return x.to(device), y.to(device)


def model(device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2)).to(device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="AMP needs CUDA")
def test_amp_range_test_on_cuda_and_restoration():
    net = model("cuda")
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    state = copy.deepcopy(net.state_dict())
    lrs_before = [g["lr"] for g in opt.param_groups]
    r = find_lr(net, CE, data(device="cuda"), optimizer=opt, start=1e-5, end=10.0, steps=40,
                amp=True, val_data=data(64, device="cuda"))
    assert len(r.lrs) >= 10 and np.isfinite(r.losses).all()
    assert r.val_accuracy is not None
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert [g["lr"] for g in opt.param_groups] == lrs_before and opt.state_dict()["state"] == {}


def test_scaler_branch_of_the_loop_on_cpu():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=1e-4)
    train = Batches(data(), 32, train=True, name="train_data")
    setup = Setup(net, CE, opt, [1e-4], range_rates(1e-4, 1.0, 12), train, None, 1, 2, 0.98,
                  4.0, True, torch.device("cpu"), None)
    records = run_once(setup)
    assert len(records["lrs"]) == 12 and np.isfinite(records["losses"]).all()
    assert records["losses"][-1] < records["losses"][0]


def _overflowing(net: nn.Module, calls: set[int] | None) -> dict[str, int]:
    """Make the first layer's gradient inf on these backward calls (all from the 3rd when
    None), as float16 gradients overflow; returns the call counter."""
    count = {"calls": 0}

    def hook(grad):
        count["calls"] += 1
        bad = count["calls"] >= 3 if calls is None else count["calls"] in calls
        return torch.full_like(grad, torch.inf) if bad else grad

    net[0].weight.register_hook(hook)
    return count


def _scaled_run(net: nn.Module, steps: int) -> dict:
    opt = torch.optim.SGD(net.parameters(), lr=1e-4)
    train = Batches(data(), 32, train=True, name="train_data")
    setup = Setup(net, CE, opt, [1e-4], range_rates(1e-4, 1.0, steps), train, None, 1, 1,
                  0.98, 4.0, True, torch.device("cpu"), None)
    return run_once(setup)


def test_a_step_the_scaler_skips_does_not_advance_the_ramp():
    """Backward calls 3 and 4 overflow: the scaler skips those steps, the ramp waits, and
    every one of the 12 rates is still recorded once, in order, each after a real step."""
    net = model()
    count = _overflowing(net, {3, 4})
    records = _scaled_run(net, 12)
    np.testing.assert_array_equal(records["lrs"], range_rates(1e-4, 1.0, 12))
    assert count["calls"] == 14 and np.isfinite(records["losses"]).all()
    assert not records["stopped_early"]


def test_gradients_that_always_overflow_stop_the_test_with_a_reason():
    net = model()
    _overflowing(net, None)
    records = _scaled_run(net, 40)
    assert len(records["lrs"]) == 2 and records["stopped_early"]
    assert records["reason"] == (f"the gradient scaler skipped 32 steps in a row at lr "
                                 f"{range_rates(1e-4, 1.0, 40)[2]:.3g}: the gradients overflow")
