"""Value by value against ``torch.optim.lr_scheduler``, driven step by step.

A dummy SGD with one parameter group per member (each its own starting rate) is stepped
with torch's scheduler; ``get_last_lr()`` after ``n`` steps must equal lrlab's closed form
at ``t = n`` for every member, to ~1e-12 relative (torch multiplies recursively, lrlab
evaluates the closed form: the difference is rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch.optim import SGD, lr_scheduler

import lrlab.schedules as S

LRS = [0.1, 0.03, 1.0]
STEPS = 250


def optimizer(lrs: list[float] = LRS) -> SGD:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def torch_rates(make: Callable[[SGD], object], steps: int = STEPS,
                lrs: list[float] = LRS) -> torch.Tensor:
    """``get_last_lr()`` after 0, 1, ..., ``steps`` scheduler steps: ``(steps + 1, K)``."""
    opt = optimizer(lrs)
    sched = make(opt)
    rates = [sched.get_last_lr()]  # type: ignore[attr-defined]
    for _ in range(steps):
        opt.step()
        sched.step()  # type: ignore[attr-defined]
        rates.append(sched.get_last_lr())  # type: ignore[attr-defined]
    return torch.tensor(rates, dtype=torch.float64)


def ours(sched: S.Schedule, steps: int = STEPS) -> torch.Tensor:
    return sched(torch.arange(steps + 1))


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-12) -> None:
    torch.testing.assert_close(a, b, rtol=rtol, atol=1e-15)


def test_step_lr() -> None:
    ref = torch_rates(lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5))
    close(ours(S.step_decay(LRS, factor=0.5, every=7)), ref)


def test_multistep_lr() -> None:
    ref = torch_rates(lambda o: lr_scheduler.MultiStepLR(o, milestones=[30, 80, 150], gamma=0.3))
    close(ours(S.multistep(LRS, milestones=[30, 80, 150], factor=0.3)), ref)


def test_exponential_lr() -> None:
    ref = torch_rates(lambda o: lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.02)))
    close(ours(S.exponential(LRS, k=0.02)), ref)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_lr(power: float) -> None:
    ref = torch_rates(lambda o: lr_scheduler.PolynomialLR(o, total_iters=150, power=power))
    close(ours(S.polynomial(LRS, total=150, power=power)), ref)


@pytest.mark.parametrize("eta_min", [0.0, 1e-3])
def test_cosine_annealing_lr(eta_min: float) -> None:
    ref = torch_rates(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=eta_min))
    close(ours(S.cosine(LRS, total=STEPS, min_lr=eta_min)), ref, rtol=1e-9)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_cosine_annealing_warm_restarts(t_mult: int) -> None:
    ref = torch_rates(lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=10, T_mult=t_mult, eta_min=1e-3))
    close(ours(S.cosine_restarts(LRS, first=10, mult=t_mult, min_lr=1e-3)), ref)


@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0),
                                         ("exp_range", 0.995)])
def test_cyclic_lr(mode: str, gamma: float) -> None:
    lo, hi = [lr / 10 for lr in LRS], LRS
    ref = torch_rates(lambda o: lr_scheduler.CyclicLR(
        o, base_lr=lo, max_lr=hi, step_size_up=12, mode=mode, gamma=gamma,
        cycle_momentum=False))
    close(ours(S.cyclical(lo, hi, half_period=12, mode=mode, gamma=gamma,  # type: ignore[arg-type]
                          unit="step")), ref)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase, pct_start", [(False, 0.3), (False, 0.25), (True, 0.3)])
def test_one_cycle_lr(anneal: str, three_phase: bool, pct_start: float) -> None:
    ref = torch_rates(lambda o: lr_scheduler.OneCycleLR(
        o, max_lr=LRS, total_steps=STEPS, pct_start=pct_start, anneal_strategy=anneal,
        div_factor=20.0, final_div_factor=300.0, three_phase=three_phase,
        cycle_momentum=False), steps=STEPS - 1)
    sched = S.one_cycle(LRS, total=STEPS, pct_start=pct_start, anneal=anneal,  # type: ignore
                        div_factor=20.0, final_div_factor=300.0, three_phase=three_phase,
                        unit="step")
    close(ours(sched, STEPS - 1), ref)


@pytest.mark.parametrize("start", [0.1, 1 / 3, 1.0])
def test_linear_warmup_then_cosine(start: float) -> None:
    def make(o: SGD) -> lr_scheduler.SequentialLR:
        ramp = lr_scheduler.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=20)
        main = lr_scheduler.CosineAnnealingLR(o, T_max=STEPS - 20, eta_min=1e-4)
        return lr_scheduler.SequentialLR(o, [ramp, main], milestones=[20])

    sched = S.warmup(S.cosine(LRS, total=STEPS - 20, min_lr=1e-4), length=20, start=start)
    close(ours(sched), torch_rates(make), rtol=1e-9)


def test_linear_warmup_then_exponential() -> None:
    def make(o: SGD) -> lr_scheduler.SequentialLR:
        ramp = lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=15)
        main = lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.01))
        return lr_scheduler.SequentialLR(o, [ramp, main], milestones=[15])

    close(ours(S.warmup(S.exponential(LRS, k=0.01), length=15, start=0.25)), torch_rates(make))


def test_warmup_continue_is_chained_linear_lr() -> None:
    def make(o: SGD) -> lr_scheduler.ChainedScheduler:
        ramp = lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=25)
        main = lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.01))
        return lr_scheduler.ChainedScheduler([ramp, main])

    sched = S.warmup(S.exponential(LRS, k=0.01), length=25, start=0.2, clock="continue")
    close(ours(sched), torch_rates(make))


def test_join_is_sequential_lr() -> None:
    def make(o: SGD) -> lr_scheduler.SequentialLR:
        parts = [lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.03)),
                 lr_scheduler.StepLR(o, step_size=9, gamma=0.7),
                 lr_scheduler.PolynomialLR(o, total_iters=60, power=2.0)]
        return lr_scheduler.SequentialLR(o, parts, milestones=[50, 120])

    sched = S.join([S.exponential(LRS, k=0.03), S.step_decay(LRS, factor=0.7, every=9),
                    S.polynomial(LRS, total=60, power=2.0)], [50, 120])
    close(ours(sched), torch_rates(make))


# -- ReduceLROnPlateau: per member, each against its own torch scheduler ---------------------


def metric_runs(k: int, epochs: int, mode: str) -> torch.Tensor:
    """Metric sequences with improvements, exact plateaus, tiny gains and a NaN."""
    g = torch.Generator().manual_seed(0)
    runs = []
    for i in range(k):
        base = torch.linspace(2.0, 0.5, epochs, dtype=torch.float64)
        noise = 0.05 * torch.rand(epochs, generator=g, dtype=torch.float64)
        run = base + noise * (i + 1)
        run[40:70] = run[40]                       # an exact plateau
        run[90:110] = run[90] * (1 - 1e-6) ** torch.arange(20)   # gains below threshold
        run[150 + i] = math.nan
        runs.append(run if mode == "min" else -run)
    return torch.stack(runs, dim=1)


@pytest.mark.parametrize("mode, threshold_mode, threshold, patience, cooldown", [
    ("min", "rel", 1e-4, 10, 0), ("min", "abs", 1e-3, 3, 2), ("max", "rel", 1e-4, 5, 1),
    ("max", "abs", 0.0, 0, 0), ("min", "rel", 0.01, 2, 4),
])
def test_reduce_lr_on_plateau(mode: str, threshold_mode: str, threshold: float, patience: int,
                              cooldown: int) -> None:
    epochs, factors, floors = 220, [0.1, 0.5, 0.3], [0.0, 1e-3, 1e-2]
    metrics = metric_runs(3, epochs, mode)
    plateau = S.ReduceOnPlateau(LRS, factor=factors, patience=patience, mode=mode,  # type: ignore
                                threshold=threshold, threshold_mode=threshold_mode,  # type: ignore
                                cooldown=cooldown, min_lr=floors)
    refs = []
    for i in range(3):
        opt = optimizer([LRS[i]])
        ref = lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=factors[i],  # type: ignore
                                             patience=patience, threshold=threshold,
                                             threshold_mode=threshold_mode,  # type: ignore
                                             cooldown=cooldown, min_lr=floors[i])
        rates = []
        for e in range(epochs):
            ref.step(float(metrics[e, i]))
            rates.append(opt.param_groups[0]["lr"])
        refs.append(rates)
    ours_ = torch.stack([plateau.update(metrics[e]) for e in range(epochs)])
    expected = torch.tensor(refs, dtype=torch.float64).T
    assert torch.equal(ours_, expected)
    assert len(set(expected[:, 0].tolist())) > 2      # the run did cut the rate
