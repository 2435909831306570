"""The optional compiled step: same records as uncompiled, and a fallback when it fails.

The CPU tests compile with ``aot_eager`` (dynamo's tracing and AOT autograd, without
inductor's C++ build, which takes a minute here); ``tests/cuda`` compiles with inductor on
the device and ``benchmarks/gpu_check.py`` measures what it buys.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import no_time
from torch import nn

from lrlab import LrlabError, sweep
from lrlab.metrics import cross_entropy
from lrlab.population import Population
from lrlab.tasks import Split, Task

RATES = [0.1, 0.01, 1e6]  # the last member diverges


def _task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return Task(name="t", train=Split(x[:48], y[:48]), val=Split(x[48:], y[48:]), num_classes=2,
                model=lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)),
                batch_size=16, epochs=2)


def test_a_compiled_sweep_records_what_an_uncompiled_one_does():
    settings = {"lrs": RATES, "optimizer": "adam", "dtype": "float64", "record_steps": True}
    plain = sweep(_task(), **settings)
    compiled = sweep(_task(), **settings, compile="aot_eager")
    a, b = no_time(plain.records), no_time(compiled.records)
    assert a[["member", "epoch", "split", "metric"]].equals(b[["member", "epoch", "split",
                                                               "metric"]])
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(plain.steps["value"], compiled.steps["value"], rtol=1e-9,
                               atol=1e-12)  # NaN (a diverged member's norm) equals NaN
    assert plain.members["diverged_epoch"].tolist() == compiled.members["diverged_epoch"].tolist()
    assert torch.equal(plain.population.diverged_step, compiled.population.diverged_step)
    assert int(compiled.population.diverged_step[-1]) > 0


def _broken_backend(gm, example_inputs):
    raise RuntimeError("no compiler here\nsecond line")


def test_a_failing_compiler_falls_back_with_one_warning_and_the_same_bits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))  # buffers: vmap
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)
    # a network below IN_PLACE_MIN: uncompiled, it runs the very update code the fallback
    # runs (the in-place step of a large one differs from its fallback in the last bits)
    rule = "delta_bar_delta"
    eager = Population(model, rule, {"lr": RATES})
    assert not eager._in_place
    broken = Population(model, rule, {"lr": RATES}, compile=_broken_backend)
    eager.step(x, y, cross_entropy)
    with pytest.warns(RuntimeWarning) as caught:
        broken.step(x, y, cross_entropy)
    assert [str(w.message) for w in caught] == [
        ("lrlab: compiling the population step failed (RuntimeError: no compiler here); "
         "running it uncompiled")]
    for _ in range(3):  # no second warning (warnings are errors in this suite)
        eager.step(x, y, cross_entropy)
        broken.step(x, y, cross_entropy)
    assert torch.equal(eager.flat, broken.flat)
    assert all(torch.equal(b, broken.buffers[n]) for n, b in eager.buffers.items())


def test_an_unknown_backend_is_a_one_line_error():
    with pytest.raises(LrlabError, match="unknown torch.compile backend 'fast'"):
        sweep(_task(), lrs=[0.1], compile="fast")


def test_adams_step_count_does_not_recompile_the_update_every_step():
    from torch._dynamo.utils import counters  # torch's own tally of compiled graphs

    torch.manual_seed(0)
    pop = Population(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)), "adam",
                     {"lr": [0.1, 0.01]}, compile="aot_eager")
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)
    counters.clear()
    for _ in range(12):
        pop.step(x, y, cross_entropy)
    assert pop._compiler.active
    assert counters["stats"]["unique_graphs"] <= 3  # forward, update, update with t symbolic
