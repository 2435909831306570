"""Against Keras' learning-rate schedules (torch backend), to float32 tolerance.

Keras computes in float32, so the comparison allows float32 rounding: 2e-6 relative, plus
3e-6 of the peak rate absolute for values near zero (Keras forms ``t / T`` in float32, which
for t up to 300 moves the phase of a cosine by ~1e-6).
"""

from __future__ import annotations

import math
import os

import pytest
import torch

import lrlab.schedules as S

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
schedules = keras.optimizers.schedules

STEPS = 300


def keras_rates(sched: object, steps: int = STEPS) -> torch.Tensor:
    return torch.tensor([float(sched(step)) for step in range(steps + 1)],  # type: ignore
                        dtype=torch.float64)


def close(ours: torch.Tensor, ref: torch.Tensor, scale: float) -> None:
    torch.testing.assert_close(ours.reshape(-1), ref, rtol=2e-6, atol=3e-6 * scale)


def steps(steps: int = STEPS) -> torch.Tensor:
    return torch.arange(steps + 1)


def test_exponential_decay() -> None:
    ref = keras_rates(schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
    close(S.exponential(0.1, k=math.log(2) / 10, unit="step")(steps()), ref, 0.1)


def test_exponential_decay_staircase() -> None:
    ref = keras_rates(schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5,
                                                 staircase=True))
    close(S.step_decay(0.1, factor=0.5, every=10, unit="step")(steps()), ref, 0.1)
    # the same staircase as an epoch schedule of 10 steps per epoch, held per epoch
    held = S.exponential(0.1, k=math.log(2)).at_step(steps(), 10, stepwise=False)
    close(held, ref, 0.1)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase: bool) -> None:
    ref = keras_rates(schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5,
                                                 staircase=staircase))
    ours = S.inverse_time(0.1, k=0.5).at_step(steps(), 10, stepwise=not staircase)
    close(ours, ref, 0.1)


@pytest.mark.parametrize("power, end", [(1.0, 0.0), (2.0, 0.001), (0.5, 0.01)])
def test_polynomial_decay(power: float, end: float) -> None:
    ref = keras_rates(schedules.PolynomialDecay(0.1, decay_steps=200, end_learning_rate=end,
                                                power=power))
    close(S.polynomial(0.1, total=200, end=end, power=power, unit="step")(steps()), ref, 0.1)


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_cosine_decay(alpha: float) -> None:
    ref = keras_rates(schedules.CosineDecay(0.1, decay_steps=200, alpha=alpha))
    close(S.cosine(0.1, total=200, min_lr=alpha * 0.1, unit="step")(steps()), ref, 0.1)


@pytest.mark.parametrize("initial", [0.0, 0.02])
def test_cosine_decay_with_warmup_target(initial: float) -> None:
    ref = keras_rates(schedules.CosineDecay(initial, decay_steps=200, alpha=0.1,
                                            warmup_target=0.2, warmup_steps=30))
    main = S.cosine(0.2, total=200, min_lr=0.02, unit="step")
    close(S.warmup(main, length=30, start=initial / 0.2)(steps()), ref, 0.2)


@pytest.mark.parametrize("t_mul, m_mul, alpha", [(1.0, 1.0, 0.0), (2.0, 0.8, 0.01),
                                                 (1.5, 0.9, 0.1)])
def test_cosine_decay_restarts(t_mul: float, m_mul: float, alpha: float) -> None:
    ref = keras_rates(schedules.CosineDecayRestarts(0.1, first_decay_steps=12, t_mul=t_mul,
                                                    m_mul=m_mul, alpha=alpha))
    ours = S.cosine_restarts(0.1, first=12, mult=t_mul, min_lr=alpha * 0.1, peak_factor=m_mul,
                             unit="step")(steps())[:, 0]
    # Keras finds the cycle with a float32 logarithm, which can land a step that starts a
    # cycle at the end of the one before (t = 30 for t_mul = 1.5): compare the other steps,
    # and check the restarts by hand (the peak, as torch's warm restarts also give).
    n = torch.arange(12, dtype=torch.float64)
    starts = 12 * n if t_mul == 1 else 12 * (t_mul**n - 1) / (t_mul - 1)
    starts = starts[(starts == starts.round()) & (starts <= STEPS)].long()
    keep = torch.ones(STEPS + 1, dtype=torch.bool)
    keep[starts] = False
    close(ours[keep], ref[keep], 0.1)
    peaks = 0.1 * alpha + (0.1 - 0.1 * alpha) * m_mul ** n[:len(starts)]
    torch.testing.assert_close(ours[starts], peaks, rtol=1e-14, atol=0)


def test_piecewise_constant_decay() -> None:
    values = [0.1, 0.05, 0.01, 0.001]
    ref = keras_rates(schedules.PiecewiseConstantDecay(boundaries=[20, 50, 120], values=values))
    # Keras keeps a value *at* its boundary: boundary b is time b + 1 on integer steps
    joined = S.join([S.constant(v, unit="step") for v in values], [21, 51, 121])
    close(joined(steps()), ref, 0.1)
    geometric = schedules.PiecewiseConstantDecay(boundaries=[20, 50], values=[0.1, 0.05, 0.025])
    close(S.multistep(0.1, milestones=[21, 51], factor=0.5, unit="step")(steps()),
          keras_rates(geometric), 0.1)
