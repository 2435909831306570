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
