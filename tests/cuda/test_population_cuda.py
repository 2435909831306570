"""The population on CUDA: every forward path equals the CPU's float64 result, a step never
waits for the device, and the epoch loop and the compiled step give the CPU's records."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import no_time
from torch import Tensor, nn

from lrlab import sweep
from lrlab.metrics import cross_entropy
from lrlab.population import Population
from lrlab.tasks import Split, Task
from lrlab.train import SweepConfig
from lrlab.train._fit import _TensorFeed

F64 = torch.float64
RATES = [0.05, 0.01, 0.002]
# float32 on CUDA: convolutions may use TF32 (cuDNN's default), ~1e-3 relative
TOLERANCE = {torch.float32: {"rtol": 5e-3, "atol": 5e-4}, F64: {"rtol": 1e-9, "atol": 1e-11}}


class Residual(nn.Module):
    """Not a Sequential: the batched path cannot run it; vmap (and the loop) can."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.norm(self.conv(x)))
        return self.head((h + self.conv(x)).flatten(1))


def _model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    return Residual()


def _batch(members: int | None = None) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    lead = (16,) if members is None else (members, 16)
    return (torch.randn(*lead, 1, 8, 8, generator=g, dtype=F64),
            torch.randint(0, 3, lead, generator=g))


def _run(kind: str, path: str, device: torch.device, dtype: torch.dtype, shared: bool):
    # momentum, not Adam: its first steps are about sign(g), which float32 rounding can flip
    # for a gradient near 0, so weights could differ by 2 * lr where the outputs agree
    pop = Population(_model(kind), "momentum", {"lr": RATES}, device=device, dtype=dtype,
                     path=path)
    x, y = _batch(None if shared else len(RATES))
    x, y = x.to(device, dtype), y.to(device)
    first = pop.predict(x, shared=shared)
    for _ in range(3):
        pop.step(x, y, cross_entropy, shared=shared)
    return first, pop


CASES = [("mlp", "batched"), ("cnn", "batched"), ("mlp", "vmap"), ("cnn", "vmap"),
         ("residual", "vmap"), ("mlp", "loop"), ("cnn", "loop"), ("residual", "loop")]


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own-batches"])
@pytest.mark.parametrize(("kind", "path"), CASES)
def test_every_path_matches_the_cpu_in_float64(device, kind, path, shared, dtype):
    cpu_out, cpu = _run(kind, path, torch.device("cpu"), F64, shared)
    out, pop = _run(kind, path, device, dtype, shared)
    assert pop.path == path and pop.flat.device.type == device.type
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out.double().cpu().numpy(), cpu_out.numpy(), **tol)
    np.testing.assert_allclose(pop.flat.double().cpu().numpy(), cpu.flat.numpy(), **tol)
    for name, b in cpu.buffers.items():  # BatchNorm's running statistics
        np.testing.assert_allclose(pop.buffers[name].double().cpu().numpy(),
                                   b.double().numpy(), **tol)


def _task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 8, 8, generator=g)
    y = (x.flatten(1)[:, :3].argmax(1))
    return Task(name="t", train=Split(x[:64], y[:64]), val=Split(x[64:], y[64:]), num_classes=3,
                model=lambda: _model("cnn"), batch_size=16, epochs=2)


@pytest.mark.parametrize("kind", ["cnn", "residual"])
def test_a_step_and_the_epoch_loop_never_wait_for_the_device(device, cuda_only, kind):
    task = _task().replace(model=lambda: _model(kind))
    pop = Population(task.model(), "adam", {"lr": [*RATES, 1e6]}, device=device)
    x, y = task.train.x.to(device), task.train.y.to(device)
    pop.step(x[:16], y[:16], cross_entropy)  # the first step settles the path (vmap)
    rates = torch.tensor([*RATES, 1e6], device=device).expand(8, -1)
    feed = _TensorFeed(task, SweepConfig(lrs=[*RATES, 1e6]).members(), 16, device,
                       torch.float32)  # fit's: the epoch's order copied from pinned memory
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            pop.step(x[:16], y[:16], cross_entropy)
        buffered, _ = feed.train_epoch(pop, 1, rates, [])
        buffered.compute()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert not bool(pop.alive[-1])  # the last member diverged and was masked on the device


def test_a_sweep_on_the_device_records_what_the_cpu_does(device):
    settings = {"lrs": [0.1, 0.01, 1e6], "optimizer": "momentum", "dtype": "float64",
                "record_steps": True}
    cpu = sweep(_task(), device="cpu", **settings)
    here = sweep(_task(), device=str(device), **settings)
    a, b = no_time(cpu.records), no_time(here.records)
    assert a[["member", "epoch", "metric"]].equals(b[["member", "epoch", "metric"]])
    np.testing.assert_allclose(b["value"], a["value"], rtol=1e-9, atol=1e-11)
    assert cpu.members["diverged_epoch"].tolist() == here.members["diverged_epoch"].tolist()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's, importing inductor
def test_the_compiled_step_on_the_device_records_what_eager_does(device):
    # float64: fused kernels round differently; in float32 an accuracy could flip
    settings = {"lrs": RATES, "optimizer": "momentum", "device": str(device), "dtype": "float64"}
    eager = sweep(_task(), **settings)
    compiled = sweep(_task(), **settings, compile=True)
    assert compiled.population._compiler.failed is None  # it did compile (inductor)
    a, b = no_time(eager.records), no_time(compiled.records)
    np.testing.assert_allclose(b["value"], a["value"], rtol=1e-7, atol=1e-9)
