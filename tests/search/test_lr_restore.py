"""find_lr leaves the user's objects exactly as they were: checked bit for bit.

Parameters, buffers (persistent or not), grads, every submodule's train/eval flag, the
optimizer's state tensors and param groups (lrs included), and the random states, after a
normal run, a multi-seed run, and a run that raises.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from lrlab.search import find_lr

CE = nn.CrossEntropyLoss()


class Net(nn.Module):
    """BatchNorm (running buffers), Dropout (uses the RNG), a non-persistent buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                  nn.Dropout(0.2), nn.Linear(16, 2))
        self.register_buffer("calls", torch.zeros(()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.body(x)


def data(n: int = 128, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, 4, generator=g) + 2.0 * (2 * y[:, None] - 1), y


OPTIMIZERS: dict[str, Callable] = {
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-4),
    "adamw-tensor-lr": lambda p: torch.optim.AdamW(p, lr=torch.tensor(1e-3), foreach=False),
}


def warmed(name: str) -> tuple[Net, torch.optim.Optimizer]:
    """A model and optimizer after three steps (momentum/Adam state exists), with grads,
    in mixed modes: training on top, the Dropout in eval."""
    torch.manual_seed(0)
    net = Net()
    opt = OPTIMIZERS[name](net.parameters())
    x, y = data()
    for i in range(3):
        opt.zero_grad()
        CE(net(x[32 * i: 32 * (i + 1)]), y[32 * i: 32 * (i + 1)]).backward()
        opt.step()
    CE(net(x[:32]), y[:32]).backward()                            # leave grads behind
    net.body[3].eval()
    return net, opt


def snapshot(net: nn.Module, opt: torch.optim.Optimizer) -> dict:
    return {
        "params": [p.detach().clone() for p in net.parameters()],
        "buffers": {n: b.clone() for n, b in net.named_buffers()},
        "grads": [None if p.grad is None else p.grad.clone() for p in net.parameters()],
        "modes": [m.training for m in net.modules()],
        "opt": copy.deepcopy(opt.state_dict()),
        "torch_rng": torch.get_rng_state(), "py_rng": random.getstate(),
        "np_rng": np.random.get_state()[1].copy(),
    }


def same_value(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(u, v) for u, v in zip(a, b))
    return a == b


def assert_unchanged(before: dict, net: nn.Module, opt: torch.optim.Optimizer) -> None:
    after = snapshot(net, opt)
    for key, value in before.items():
        assert same_value(value, after[key]), f"{key} changed"
    params = {id(p) for p in net.parameters()}
    assert all(id(p) in params for g in opt.param_groups for p in g["params"])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_everything_is_restored_bit_for_bit(name):
    net, opt = warmed(name)
    before = snapshot(net, opt)
    x, y = data(seed=1)
    r = find_lr(net, CE, (x, y), optimizer=opt, start=1e-5, end=10.0, steps=30,
                val_data=data(64, seed=2), batch_size=16)
    assert len(r.lrs) > 5
    assert_unchanged(before, net, opt)


def test_the_optimizer_goes_on_as_if_nothing_happened():
    (net, opt), (twin, twin_opt) = warmed("sgd-momentum"), warmed("sgd-momentum")
    find_lr(net, CE, data(seed=1), optimizer=opt, start=1e-4, end=1.0, steps=12, batch_size=16)
    x, y = data(32, seed=3)
    for model, optimizer in ((net, opt), (twin, twin_opt)):
        torch.manual_seed(9)
        optimizer.zero_grad()
        CE(model(x), y).backward()
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), twin.parameters()))


def test_restored_with_the_default_optimizer_and_several_seeds():
    net, opt = warmed("adam")
    before = snapshot(net, opt)
    find_lr(net, CE, data(seed=1), start=1e-5, end=1.0, steps=12, batch_size=16)
    find_lr(net, CE, data(seed=1), optimizer=opt, start=1e-5, end=1.0, steps=12,
            batch_size=16, seeds=2, reinit=True)
    assert_unchanged(before, net, opt)


def test_restored_when_the_loss_raises():
    net, opt = warmed("sgd-momentum")
    before = snapshot(net, opt)
    calls = []

    def failing(out, target):
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("boom")
        return CE(out, target)

    with pytest.raises(RuntimeError, match="boom"):
        find_lr(net, failing, data(seed=1), optimizer=opt, start=1e-5, end=1.0, steps=20,
                batch_size=16)
    assert_unchanged(before, net, opt)


def test_a_model_left_in_eval_mode_stays_there():
    net, opt = warmed("adam")
    net.eval()
    find_lr(net, CE, data(seed=1), optimizer=opt, start=1e-5, end=1.0, steps=12, batch_size=16)
    assert not any(m.training for m in net.modules())
