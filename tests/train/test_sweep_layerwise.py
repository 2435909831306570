"""Layer-wise rates in a sweep: ``lr_mults`` variants train like torch param groups.

On blobs the model is ``Sequential(Linear, ReLU, Linear)`` (parameters ``0.weight``,
``0.bias``, ``2.weight``, ``2.bias``). A member with multipliers ``{"0.*": 0.1, "2.*": 10}``
must train like a torch optimizer given ``lrlab.optim.param_groups(model, lr, mult)``; the
uniform member (``{}``) like the plain optimizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from helpers import one_line
from torch import nn

import lrlab
from lrlab import sweep
from lrlab.optim import param_groups
from lrlab.tasks import Task
from lrlab.train import SweepResult

EPOCHS = 2
MULT = {"0.*": 0.1, "2.*": 10}
LABEL = "0.*=0.1,2.*=10"

OptimizerFactory = Callable[[object], torch.optim.Optimizer]

# each rule's torch twin, from the params (a list of tensors or of param groups)
TWINS: dict[str, Callable[[object, float], torch.optim.Optimizer]] = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}
RATES = {"sgd": [0.05, 0.01], "momentum": [0.01, 0.002], "adam": [0.003, 0.0005]}


@pytest.fixture(scope="module")
def results() -> dict[str, SweepResult]:
    """One sweep per rule: two rates x (uniform, layer-wise)."""
    return {rule: sweep("blobs", lrs=RATES[rule], optimizer=rule, lr_mults=[{}, MULT],
                        epochs=EPOCHS, dtype="float64")
            for rule in TWINS}


def torch_loop(task: Task, make: Callable[[nn.Module], torch.optim.Optimizer], *,
               epochs: int = EPOCHS, seed: int = 0,
               scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
               ) -> nn.Module:
    """Train like lrlab (same initial weights and example order) with a torch optimizer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.model().double()
    opt = make(model)
    sched = scheduler(opt) if scheduler is not None else None
    x_all, y_all = task.train.x.double(), task.train.y
    for epoch in range(1, epochs + 1):
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(len(task.train), generator=g)
        for x, y in zip(x_all[order].split(task.batch_size), y_all[order].split(task.batch_size)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            if sched is not None:
                sched.step()
    return model


def assert_same_weights(a: nn.Module, b: nn.Module, atol: float = 1e-10) -> None:
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert list(pa) == list(pb) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, param in pa.items():
        assert param.dtype == pb[name].dtype == torch.float64
        torch.testing.assert_close(param, pb[name], rtol=0, atol=atol, msg=name)


def max_gap(a: nn.Module, b: nn.Module) -> float:
    pb = dict(b.named_parameters())
    return max(float((p - pb[n]).detach().abs().max()) for n, p in a.named_parameters())


def test_param_groups_of_the_blobs_model(blobs: Task) -> None:
    """The patterns split the model as the tests assume: two groups, no rest."""
    groups = param_groups(blobs.model(), 0.1, MULT)
    assert [g["name"] for g in groups] == ["0.*", "2.*"]
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 1.0])
    assert [len(g["params"]) for g in groups] == [2, 2]


@pytest.mark.parametrize("rule", list(TWINS))
def test_two_members_per_rate(results: dict[str, SweepResult], rule: str) -> None:
    """lr_mults=[{}, MULT]: uniform and layer-wise member per rate, rate-major, labelled."""
    m = results[rule].members
    lrs = RATES[rule]
    assert len(m) == 4
    assert m["lr"].tolist() == [lrs[0], lrs[0], lrs[1], lrs[1]]
    assert m["lr_mult"].tolist() == ["uniform", LABEL, "uniform", LABEL]
    assert m["label"].tolist() == [f"lr={lrs[0]:g} uniform", f"lr={lrs[0]:g} {LABEL}",
                                   f"lr={lrs[1]:g} uniform", f"lr={lrs[1]:g} {LABEL}"]
    assert (m["optimizer"] == rule).all()
    assert not m["diverged"].any()


@pytest.mark.parametrize("rule", list(TWINS))
def test_members_train_like_torch(blobs: Task, results: dict[str, SweepResult],
                                  rule: str) -> None:
    """Layer-wise member = torch optimizer over param_groups; uniform member = plain one."""
    pop = results[rule].population
    for i, lr in enumerate(RATES[rule]):
        uniform = torch_loop(blobs, lambda model, lr=lr: TWINS[rule](model.parameters(), lr))
        layered = torch_loop(blobs, lambda model, lr=lr: TWINS[rule](
            param_groups(model, lr, MULT), lr))
        assert_same_weights(pop.member_module(2 * i), uniform)
        assert_same_weights(pop.member_module(2 * i + 1), layered)
        assert max_gap(uniform, layered) > 1e-4  # the multipliers really matter


def test_layerwise_with_a_schedule(blobs: Task) -> None:
    """Multipliers and a schedule together: param groups each scaled by StepLR."""
    result = sweep("blobs", lrs=[0.05], lr_mults=[{}, MULT],
                   schedules=["step:factor=0.5,every=1"], epochs=EPOCHS, dtype="float64")
    per = math.ceil(len(blobs.train) / blobs.batch_size)

    def steplr(opt: torch.optim.Optimizer) -> object:
        return torch.optim.lr_scheduler.StepLR(opt, step_size=per, gamma=0.5)

    uniform = torch_loop(blobs, lambda m: torch.optim.SGD(m.parameters(), lr=0.05),
                         scheduler=steplr)
    layered = torch_loop(blobs, lambda m: torch.optim.SGD(param_groups(m, 0.05, MULT), lr=0.05),
                         scheduler=steplr)
    assert_same_weights(result.population.member_module(0), uniform)
    assert_same_weights(result.population.member_module(1), layered)


def test_one_layerwise_variant_alone(blobs: Task) -> None:
    """A single lr_mults variant: every member layer-wise, the label has no variant."""
    result = sweep("blobs", lrs=[0.05], lr_mults=[{"2.*": 10}], epochs=1, dtype="float64")
    m = result.members
    assert m["lr_mult"].tolist() == ["2.*=10"]
    assert m["label"].tolist() == ["lr=0.05"]
    ref = torch_loop(blobs, lambda model: torch.optim.SGD(
        param_groups(model, 0.05, {"2.*": 10}), lr=0.05), epochs=1)
    assert_same_weights(result.population.member_module(0), ref)


def test_no_lr_mult_column_without_variants() -> None:
    """Without lr_mults the members table has no lr_mult column."""
    result = sweep("blobs", lrs=[0.05], epochs=1, dtype="float64")
    assert "lr_mult" not in result.members.columns


@pytest.mark.parametrize("mults, words", [
    ([{"head.*": 10}], "'head.*' matches no trainable parameter"),
    ([{}, {"0.*": 0.1, "nothing.*": 10}], "'nothing.*' matches no trainable parameter"),
    ([{"2.*": 0}], "must be a finite number > 0"),
    ([{"2.*": -1.0}], "must be a finite number > 0"),
    ([{"2.*": float("nan")}], "must be a finite number > 0"),
    ([{"*": 1, "2.*": 10}], "gets no parameter"),
])
def test_bad_multipliers_raise_one_line(mults: list[dict[str, float]], words: str) -> None:
    """A pattern matching nothing (or nothing left), or a bad multiplier: one LrlabError line."""
    with pytest.raises(lrlab.LrlabError) as err:
        sweep("blobs", lrs=[0.05], lr_mults=mults, epochs=1, dtype="float64")
    assert isinstance(err.value, ValueError)
    one_line(err, words)
