"""Warmup-stable-decay against a float64 hand computation and transformers' scheduler."""

from __future__ import annotations

import math

import pytest
import torch

import lrlab.schedules as S
from lrlab import LrlabError

SHAPES = ("linear", "cosine", "1-sqrt")


def _by_hand(step: int, *, lr0: float, warm: int, total: int, cooldown: int, shape: str,
             floor: float, start: float) -> float:
    """One step's rate from the paper's description, with plain floats."""
    if step < warm:
        return lr0 * (start + (1 - start) * step / warm)
    begin = total - cooldown
    if step < begin:
        return lr0
    p = min((step - begin) / cooldown, 1.0)
    f = {"linear": 1 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p)),
         "1-sqrt": 1 - math.sqrt(p)}[shape]
    return floor + (lr0 - floor) * f


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("warm", [0, 6])
def test_spec_matches_hand_computation(shape: str, warm: int) -> None:
    """wsd with a warm-up in steps and a cooldown fraction, member by member, to 1e-14."""
    lrs = [0.3, 0.1]
    text = f"wsd:cooldown_frac=0.25,shape={shape},min_lr=0.01" + (
        f",warmup_steps={warm},warmup_start=0.1" if warm else "")
    sched = S.parse_schedule(text).build(lrs, epochs=8, steps_per_epoch=5)
    steps = torch.arange(45)
    got = sched(steps)
    for k, lr0 in enumerate(lrs):
        want = [_by_hand(int(s), lr0=lr0, warm=warm, total=40, cooldown=10, shape=shape,
                         floor=0.01, start=0.1) for s in steps]
        torch.testing.assert_close(got[:, k], torch.tensor(want, dtype=torch.float64),
                                   rtol=1e-14, atol=1e-16)


def test_lengths_in_epochs_steps_and_fractions_agree() -> None:
    """cooldown=2 epochs, cooldown_steps=10 and cooldown_frac=0.2 of 10x5 steps are one
    schedule; so are warmup=1, warmup_steps=5 and warmup_frac=0.1."""
    forms = [S.parse_schedule(t).build(0.1, epochs=10, steps_per_epoch=5)(torch.arange(50))
             for t in ("wsd:cooldown=2,warmup=1", "wsd:cooldown_steps=10,warmup_steps=5",
                       "wsd:cooldown_frac=0.2,warmup_frac=0.1")]
    assert torch.equal(forms[0], forms[1])
    torch.testing.assert_close(forms[0], forms[2], rtol=1e-15, atol=0)
    assert forms[0][39, 0] == 0.1 and forms[0][41, 0] < 0.1


def test_zero_cooldown_is_constant() -> None:
    sched = S.wsd([0.1, 0.2], total=10, cooldown=0)
    assert torch.equal(sched(torch.arange(12.0)), torch.tensor([[0.1, 0.2]] * 12,
                                                               dtype=torch.float64))


@pytest.mark.parametrize("text, words", [
    ("wsd", "needs cooldown=... or cooldown_steps=... or cooldown_frac=..."),
    # two given: said so (it read "wsd needs cooldown=... or ... (one of them)")
    ("wsd:cooldown=1,cooldown_frac=0.1",
     "wsd:cooldown=1,cooldown_frac=0.1: give one of cooldown, cooldown_frac, not 2"),
    ("wsd:cooldown=1,shape=exp", "must be one of linear, cosine, 1-sqrt"),
    ("wsd:cooldown=1,warmup=1,warmup_steps=4", "not both"),
])
def test_parse_errors(text: str, words: str) -> None:
    with pytest.raises(LrlabError, match=words.replace(".", r"\.").replace("(", r"\(")
                       .replace(")", r"\)")) as err:
        S.parse_schedule(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, words", [
    ("wsd:cooldown=11", "cooldown must be <= total"),
    ("wsd:cooldown_frac=0.5,warmup_frac=0.6", "cooldown must be <= total"),
    ("wsd:cooldown=1,warmup_frac=1", "warmup_frac=1 must be below 1"),  # for every run
    ("wsd:cooldown=1,warmup=10", "shorter than training"),
    ("wsd:cooldown=1,min_lr=1", "min_lr must be <= lr0"),
])
def test_build_errors(text: str, words: str) -> None:
    with pytest.raises(LrlabError, match=words) as err:
        S.parse_schedule(text).build(0.1, epochs=10, steps_per_epoch=3)
    assert "\n" not in str(err.value) and str(err.value).startswith(text)


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_transformers_get_wsd_schedule(shape: str) -> None:
    """The values of transformers' LambdaLR, stepped once per step, to 1e-12."""
    transformers = pytest.importorskip("transformers")
    warm, stable, decay, lr0, ratio = 7, 20, 13, 0.05, 0.1
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    hf = transformers.get_wsd_schedule(opt, num_warmup_steps=warm, num_decay_steps=decay,
                                       num_training_steps=warm + stable + decay,
                                       decay_type=shape, min_lr_ratio=ratio)
    theirs = []
    for _ in range(warm + stable + decay + 5):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        hf.step()
    ours = S.warmup(S.wsd(lr0, total=stable + decay, cooldown=decay, shape=shape,
                          min_lr=ratio * lr0, unit="step"), length=warm, start=ratio)
    torch.testing.assert_close(ours(torch.arange(len(theirs)))[:, 0],
                               torch.tensor(theirs, dtype=torch.float64), rtol=1e-12, atol=0)
