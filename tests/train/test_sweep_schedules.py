"""Schedules in a sweep: each member follows its schedule exactly as a plain torch loop does.

A member with schedule ``S`` at rate ``lr0`` must train like ``torch.optim.SGD`` driven by the
matching ``torch.optim.lr_scheduler`` over the same example order and initial weights; its
recorded rates are the schedule's values; several schedules side by side train like one
schedule alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import no_time_sorted
from torch import nn

from lrlab import sweep
from lrlab.schedules import parse_schedule
from lrlab.tasks import Task
from lrlab.train import SweepResult

EPOCHS = 3
LR = 0.1
SPECS = ["step:factor=0.5,every=2", "exp:k=0.3", "cosine", "onecycle"]


@pytest.fixture(scope="module")
def together() -> SweepResult:
    """Every schedule of SPECS side by side at one rate, with per-step records."""
    return sweep("blobs", lrs=[LR], schedules=SPECS, epochs=EPOCHS, dtype="float64",
                 record_steps=True)


# --- a plain torch loop ----------------------------------------------------------------------


def steps_per_epoch(task: Task) -> int:
    return math.ceil(len(task.train) / task.batch_size)


def initial_model(task: Task, seed: int) -> nn.Module:
    """The initial weights lrlab gives a member of ``seed``: task.model() under the seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.model()
    return model.double()


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """lrlab's example order of ``epoch`` (1-based) for ``seed``."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


SchedulerFactory = Callable[[torch.optim.Optimizer, int], object]


def torch_loop(task: Task, *, lr: float, epochs: int, seed: int = 0,
               scheduler: SchedulerFactory | None = None, per_epoch: bool = False,
               make_optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
               ) -> tuple[nn.Module, list[list[float]]]:
    """Train like lrlab with torch.optim; returns the model and the rates used per step.

    ``scheduler(optimizer, steps_per_epoch)`` is stepped after every batch, or after every
    epoch when ``per_epoch``.
    """
    model = initial_model(task, seed)
    opt = (make_optimizer(model) if make_optimizer is not None
           else torch.optim.SGD(model.parameters(), lr=lr))
    sched = scheduler(opt, steps_per_epoch(task)) if scheduler is not None else None
    x_all, y_all = task.train.x.double(), task.train.y
    used: list[list[float]] = []
    for epoch in range(1, epochs + 1):
        order = epoch_order(len(task.train), seed, epoch)
        xs, ys = x_all[order], y_all[order]
        for x, y in zip(xs.split(task.batch_size), ys.split(task.batch_size)):
            used.append([g["lr"] for g in opt.param_groups])
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            if sched is not None and not per_epoch:
                sched.step()
        if sched is not None and per_epoch:
            sched.step()
    return model, used


def assert_same_weights(a: nn.Module, b: nn.Module, atol: float = 1e-10) -> None:
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert pa.keys() == pb.keys()
    for name, param in pa.items():
        assert param.dtype == pb[name].dtype == torch.float64
        torch.testing.assert_close(param, pb[name], rtol=0, atol=atol, msg=name)


def member_records(records: pd.DataFrame, member: int) -> pd.DataFrame:
    out = no_time_sorted(records)
    out = out[out["member"] == member].copy()
    out["member"] = 0
    return out.reset_index(drop=True)


def step_rates(result: SweepResult, member: int) -> np.ndarray:
    """The per-step recorded rate of ``member``, in step order."""
    s = result.steps
    rows = s[(s["member"] == member) & (s["metric"] == "lr")].sort_values("step")
    assert rows["step"].tolist() == list(range(1, len(rows) + 1))  # 1-based, no gaps
    return rows["value"].to_numpy()


def schedule_values(spec: str, lr0: float, epochs: int, per: int) -> np.ndarray:
    """The spec's rate at global steps 0 .. epochs * per - 1."""
    sched = parse_schedule(spec).build(lr0, epochs=epochs, steps_per_epoch=per)
    return sched(torch.arange(epochs * per))[:, 0].numpy()


# --- the torch twins of each spec --------------------------------------------------------------


TWINS: dict[str, SchedulerFactory] = {
    "step:factor=0.5,every=2": lambda opt, p: torch.optim.lr_scheduler.StepLR(
        opt, step_size=2 * p, gamma=0.5),
    "exp:k=0.3": lambda opt, p: torch.optim.lr_scheduler.ExponentialLR(
        opt, gamma=math.exp(-0.3 / p)),
    "cosine": lambda opt, p: torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=EPOCHS * p),
    "onecycle": lambda opt, p: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=LR, total_steps=EPOCHS * p, cycle_momentum=False),
}


@pytest.mark.parametrize("spec", SPECS)
def test_member_trains_like_torch_scheduler(blobs: Task, together: SweepResult,
                                            spec: str) -> None:
    """Final weights of the member equal SGD + the torch scheduler stepped per batch."""
    k = SPECS.index(spec)
    assert together.members.loc[k, "schedule"] == spec
    ref, used = torch_loop(blobs, lr=LR, epochs=EPOCHS, scheduler=TWINS[spec])
    assert_same_weights(together.population.member_module(k), ref)
    # the torch scheduler's rates are the spec's closed form, step by step
    np.testing.assert_allclose(np.array(used)[:, 0],
                               schedule_values(spec, LR, EPOCHS, steps_per_epoch(blobs)),
                               rtol=1e-12, atol=1e-15)


def test_step_schedule_is_steplr_stepped_per_epoch(blobs: Task, together: SweepResult) -> None:
    """step:every=2 drops at epoch boundaries: StepLR(step_size=2) stepped once per epoch."""
    ref, _ = torch_loop(blobs, lr=LR, epochs=EPOCHS, per_epoch=True,
                        scheduler=lambda opt, p: torch.optim.lr_scheduler.StepLR(
                            opt, step_size=2, gamma=0.5))
    assert_same_weights(together.population.member_module(0), ref)


def test_other_seed_and_rate_follow_the_schedule(blobs: Task) -> None:
    """Another seed (own weights and order) and two rates sharing one schedule."""
    result = sweep("blobs", lrs=[0.2, 0.05], schedules=["exp:k=0.3"], seed=3, epochs=2,
                   dtype="float64")
    for k, lr in enumerate([0.2, 0.05]):
        ref, _ = torch_loop(blobs, lr=lr, epochs=2, seed=3,
                            scheduler=lambda opt, p: torch.optim.lr_scheduler.ExponentialLR(
                                opt, gamma=math.exp(-0.3 / p)))
        assert_same_weights(result.population.member_module(k), ref)


def test_constant_member_is_plain_sgd(blobs: Task) -> None:
    """A constant member next to a scheduled one is plain SGD at its rate."""
    result = sweep("blobs", lrs=[LR], schedules=["constant", "cosine"], epochs=2,
                   dtype="float64")
    ref, _ = torch_loop(blobs, lr=LR, epochs=2)
    assert_same_weights(result.population.member_module(0), ref)


# --- records -------------------------------------------------------------------------------------


def test_epoch_lr_is_the_schedule_at_the_last_step(blobs: Task, together: SweepResult) -> None:
    """The train ``lr`` of epoch e is the schedule's value at step e * P - 1 (0-based)."""
    per = steps_per_epoch(blobs)
    rec = together.records
    for k, spec in enumerate(SPECS):
        rows = rec[(rec["member"] == k) & (rec["split"] == "train") & (rec["metric"] == "lr")]
        rows = rows.sort_values("epoch")
        assert rows["epoch"].tolist() == list(range(1, EPOCHS + 1))
        expected = schedule_values(spec, LR, EPOCHS, per)[per - 1::per]
        np.testing.assert_allclose(rows["value"].to_numpy(), expected, rtol=1e-12, atol=0)


def test_step_lr_is_the_schedule_at_each_step(blobs: Task, together: SweepResult) -> None:
    """record_steps: step s (1-based) used the schedule's value at global index s - 1."""
    per = steps_per_epoch(blobs)
    s = together.steps
    assert set(s["metric"]) == {"loss", "lr", "grad_norm"}
    for k, spec in enumerate(SPECS):
        np.testing.assert_allclose(step_rates(together, k),
                                   schedule_values(spec, LR, EPOCHS, per), rtol=1e-12, atol=0)
    lr_rows = s[s["metric"] == "lr"]
    assert (lr_rows["epoch"] == (lr_rows["step"] - 1) // per + 1).all()


def test_a_run_trains_the_start_of_a_longer_trainings_schedule(blobs: Task) -> None:
    """``schedule_over=(E, P)``: step s of a shorter run takes the rate an E-epoch training
    of P steps per epoch takes at step s (what ``auto``'s race trains), by hand: the first
    epoch of cosine:warmup=2 over 10 epochs is the first half of its linear warm-up,
    lr0 * s / 2P; a run longer than that training keeps its last rate (poly to 0 over 5
    steps, the last 0.02)."""
    per = steps_per_epoch(blobs)
    start = sweep("blobs", lrs=[LR], schedules=["cosine:warmup=2"], epochs=1, dtype="float64",
                  record_steps=True, schedule_over=(10, per))
    np.testing.assert_allclose(step_rates(start, 0), LR * np.arange(per) / (2 * per),
                               rtol=1e-12, atol=0)
    past = sweep("blobs", lrs=[LR], schedules=["poly"], epochs=1, dtype="float64",
                 record_steps=True, schedule_over=(1, 5))
    np.testing.assert_allclose(step_rates(past, 0), [0.1, 0.08, 0.06, 0.04] + [0.02] * (per - 4),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", SPECS)
def test_side_by_side_equals_alone(together: SweepResult, spec: str) -> None:
    """Each member of a several-schedule sweep has the records of a one-member sweep."""
    alone = sweep("blobs", lrs=[LR], schedules=[spec], epochs=EPOCHS, dtype="float64")
    a, b = member_records(together.records, SPECS.index(spec)), member_records(alone.records, 0)
    assert not a.empty
    pd.testing.assert_frame_equal(a.drop(columns="value"), b.drop(columns="value"))
    np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), rtol=0,
                               atol=1e-12, equal_nan=True)
    assert alone.members.loc[0, "schedule"] == spec
    assert alone.members.loc[0, "label"] == f"lr={LR:g}"  # one schedule: not in the label


def test_labels_and_members_table(together: SweepResult) -> None:
    """Labels name the schedule; the members table has a schedule column."""
    m = together.members
    assert m["member"].tolist() == list(range(len(SPECS)))
    assert m["schedule"].tolist() == SPECS
    assert m["label"].tolist() == [f"lr=0.1 {spec}" for spec in SPECS]
    assert m["lr"].tolist() == [LR] * len(SPECS)
    assert not m["diverged"].any()
    assert list(together.curve("loss", "val").columns) == m["label"].tolist()


def test_rates_cross_schedules_in_order() -> None:
    """lrs x schedules: rate-major order, one label each, schedule per member."""
    result = sweep("blobs", lrs=[0.1, 0.01], schedules=["constant", "cosine"], epochs=1,
                   dtype="float64")
    m = result.members
    assert m["label"].tolist() == ["lr=0.1 constant", "lr=0.1 cosine",
                                   "lr=0.01 constant", "lr=0.01 cosine"]
    assert m["schedule"].tolist() == ["constant", "cosine"] * 2
    assert m["lr"].tolist() == [0.1, 0.1, 0.01, 0.01]


# --- rules that adapt their own rate -----------------------------------------------------------


@pytest.mark.parametrize("rule, lr, hparams", [
    ("sgd_hd", 0.05, {"beta": 0.001}),
    ("adam_hd", 0.01, {"beta": 1e-4}),
])
def test_hypergradient_rate_moves_every_step(rule: str, lr: float,
                                             hparams: dict[str, float]) -> None:
    """The recorded per-step rate is the rule's adapted rate: it changes from step to step."""
    result = sweep("blobs", lrs=[lr], optimizer=rule, hparams=hparams, epochs=2,
                   dtype="float64", record_steps=True)
    rates = step_rates(result, 0)
    assert len(rates) == 2 * 10
    assert np.isfinite(rates).all()
    assert rates[0] == pytest.approx(lr, rel=1e-12)  # alpha_1 = alpha_0 + beta * g . 0
    assert (np.diff(rates) != 0).all()
    assert len(np.unique(rates)) == len(rates)
    rec = result.records
    epoch_lr = rec[(rec["split"] == "train") & (rec["metric"] == "lr")].sort_values("epoch")
    np.testing.assert_allclose(epoch_lr["value"].to_numpy(), rates[[9, 19]], rtol=1e-12)


@pytest.mark.parametrize("rule", ["sgd_hd", "adam_hd"])
def test_hypergradient_rate_with_a_schedule_still_moves(rule: str) -> None:
    """Under a schedule the recorded rate is still the adapted one, not the schedule's."""
    result = sweep("blobs", lrs=[0.01], optimizer=rule, schedules=["cosine"], epochs=2,
                   dtype="float64", record_steps=True)
    rates = step_rates(result, 0)
    assert np.isfinite(rates).all()
    assert (np.diff(rates) != 0).all()
