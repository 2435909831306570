"""The accelerator's step path, run on the CPU: no host reads, the same bits as the CPU's.

On a GPU the population masks diverged members with ``torch.where`` every step instead of
reading the mask back (:meth:`Population._flag_divergence`). These tests force that path on
the CPU: it must give bit-identical parameters and records to the CPU's host-check path, and
neither a population step nor the epoch loop's training pass may read a tensor back to the
host (caught with a ``TorchFunctionMode``; ``tests/cuda`` checks the same on a real device
with ``torch.cuda.set_sync_debug_mode``).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

import lrlab.metrics._classification
from lrlab.metrics import cross_entropy
from lrlab.population import Population
from lrlab.tasks import Split, Task
from lrlab.train import SweepConfig
from lrlab.train._fit import _TensorFeed

K_RATES = [0.1, 0.05, 0.01, 1e6]  # the last member diverges within a few steps


class HostReads(TorchFunctionMode):
    """Records every call that would copy a device tensor's value to the host."""

    READS = frozenset({"__bool__", "__float__", "__int__", "__index__", "item", "tolist",
                       "numpy", "cpu", "nonzero", "masked_select", "unique", "argwhere"})

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        masked = name == "__getitem__" and any(
            isinstance(i, Tensor) and i.dtype == torch.bool
            for i in (args[1] if isinstance(args[1], tuple) else (args[1],)))
        if name in self.READS or masked:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def _models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"batched": nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)),
            "vmap": nn.Sequential(nn.Linear(4, 16), nn.LayerNorm(16), nn.Linear(16, 3))}


def _batch() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)


def _device_path(pop: Population) -> Population:
    pop._check_on_host = False  # what a CUDA population does,
    pop._in_place = False  # with the rule's update, not its fused step (host reads)
    return pop


def _unfused(pop: Population) -> Population:
    pop._in_place = False  # the same update code as the device path, to compare bits
    return pop


@pytest.mark.parametrize("rule", ["sgd", "adam"])
@pytest.mark.parametrize("path", ["batched", "vmap"])
def test_device_path_gives_the_same_bits_as_the_host_check(path: str, rule: str):
    model = _models()[path]
    x, y = _batch()
    host = _unfused(Population(model, rule, {"lr": K_RATES}))
    device = _device_path(Population(model, rule, {"lr": K_RATES}))
    for _ in range(6):
        a, b = host.step(x, y, cross_entropy), device.step(x, y, cross_entropy)
        for name in ("outputs", "losses", "loss", "grad_norm", "lr"):
            assert torch.equal(getattr(a, name).nan_to_num(), getattr(b, name).nan_to_num()), name
    assert torch.equal(host.flat, device.flat)
    assert torch.equal(host.alive, device.alive) and not bool(device.alive[-1])
    assert torch.equal(host.diverged_step, device.diverged_step)


@pytest.mark.parametrize("path", ["batched", "vmap"])
def test_a_device_path_step_reads_nothing_back(path: str):
    pop = _device_path(Population(_models()[path], "adam", {"lr": K_RATES}))
    x, y = _batch()
    pop.step(x, y, cross_entropy)  # the first step settles the path (vmap may fail)
    with HostReads() as reads:
        for _ in range(5):
            pop.step(x, y, cross_entropy)
    assert reads.seen == []
    assert not bool(pop.alive[-1])  # the masking did run
    host = _unfused(Population(_models()[path], "adam", {"lr": K_RATES[:3]}))
    with HostReads() as reads:  # the detector sees the CPU's one read per step
        host.step(x, y, cross_entropy)
    assert reads.seen == ["__bool__"]


def test_the_epoch_loops_training_pass_reads_nothing_back(monkeypatch):
    """``fit``'s inner loop as its tensor feed runs it: the epoch's order, steps, per-step
    records, buffered training metrics and their values."""
    # the metrics' check for targets that are no class, as on an accelerator: no read-back
    monkeypatch.setattr(lrlab.metrics._classification, "_READ_BACK", frozenset())
    x, y = _batch()
    task = Task(name="t", train=Split(x, y), val=Split(x, y), num_classes=3,
                model=lambda: _models()["batched"])
    pop = _device_path(Population(task.model(), "sgd", {"lr": K_RATES}))
    members = SweepConfig(lrs=K_RATES).members()
    feed = _TensorFeed(task, members, 4, pop.device, torch.float32)
    rates = torch.tensor(K_RATES).expand(4, -1)
    steps: list = []
    with HostReads() as reads:
        buffered, recorded = feed.train_epoch(pop, 1, rates, steps)
        values = buffered.compute() | recorded
    assert reads.seen == []
    assert len(steps) == 4 and set(values) >= {"loss", "accuracy", "grad_norm", "lr"}
