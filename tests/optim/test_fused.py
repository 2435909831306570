"""Every rule's fused in-place step (``UpdateRule.apply``) against its pure ``update``.

Parametrised over the registry: each rule that has ``apply`` must move parameters and state
as ``update`` does (float64, 1e-12 over 30 steps on the small MLP, per-member
hyperparameters, weight decay on and off), leave a frozen member's parameters and state
alone, and hand back ``None`` (changing nothing) where it cannot run.
"""

from __future__ import annotations

import pytest
import torch
from optim_helpers import data, mlp, stacked_mlp_losses
from torch import Tensor

from lrlab.optim import RULES, UpdateRule

F64 = torch.float64
FUSED = sorted(name for name, rule in RULES.items() if rule.apply is not None)
STEPS = 30


def _start(k: int) -> list[Tensor]:
    return [p.detach().expand(k, *p.shape).clone() for p in mlp().parameters()]


# Defaults of 0 that a nudge leaves 0 but whose non-zero branch the in-place step has: set
# in the decay runs (the no-decay run keeps the default's branch).
NONZERO = {"delta_bar_delta": {"theta": 0.3, "momentum": 0.5}, "rmsprop": {"momentum": 0.5},
           "adagrad": {"lr_decay": 0.01}, "sf_sgd": {"r": 1.0}, "sf_adamw": {"r": 1.0}}


def test_every_zero_default_with_a_branch_is_set_somewhere() -> None:
    """A zero default (other than weight decay) that no run sets would leave its non-zero
    branch of the in-place step untested."""
    for name in FUSED:
        zero = {k for k, v in RULES[name].defaults.items() if v == 0 and k != "weight_decay"}
        assert zero <= set(NONZERO.get(name, {})), (name, zero)


def _hparams(rule: UpdateRule, k: int, decay: bool) -> dict[str, Tensor]:
    """Distinct values per member: rates 0.03 / 0.01 / 0.003..., the defaults nudged
    (with decay, ``NONZERO``'s values in place of zero defaults)."""
    hp = {"lr": torch.tensor([0.03, 0.01, 0.003, 0.001][:k], dtype=F64)}
    given = NONZERO.get(rule.name, {}) if decay else {}
    for name, value in {**rule.defaults, **given}.items():
        spread = 1 - 0.02 * torch.arange(k, dtype=F64) if name != "weight_decay" else 1.0
        hp[name] = torch.full((k,), float(value), dtype=F64) * spread
    if decay and "weight_decay" in rule.defaults:
        hp["weight_decay"] = torch.full((k,), 0.01, dtype=F64)
    else:
        hp.pop("weight_decay", None)  # as the population passes a zero decay
    return hp


def _grads(params: list[Tensor], x: Tensor, y: Tensor) -> list[Tensor]:
    leaves = [p.detach().requires_grad_() for p in params]
    return list(torch.autograd.grad(stacked_mlp_losses(leaves, x, y).sum(), leaves))


@pytest.mark.parametrize("decay", [False, True], ids=["no-decay", "decay"])
@pytest.mark.parametrize("name", FUSED)
def test_apply_moves_parameters_and_state_as_update_does(name: str, decay: bool) -> None:
    rule, (x, y), k = RULES[name], data(), 3
    hp = _hparams(rule, k, decay)
    pure, fused = _start(k), _start(k)
    pure_state, fused_state = rule.init(pure), rule.init(fused)
    for _ in range(STEPS):
        updates, pure_state = rule.update(_grads(pure, x, y), pure_state, pure, hp)
        pure = [p + u for p, u in zip(pure, updates)]
        fused_state = rule.apply(_grads(fused, x, y), fused_state, fused, hp, None)
    for a, b in zip(pure, fused):
        assert (a - b).abs().max().item() <= 1e-12
    for key, value in pure_state.items():
        got = fused_state[key]
        if isinstance(value, list):
            assert all((p - q).abs().max().item() <= 1e-12 for p, q in zip(value, got)), key
        elif isinstance(value, Tensor):  # a rate the rule adapts
            assert (value - got).abs().max().item() <= 1e-12, key
        else:
            assert value == got, key


@pytest.mark.parametrize("name", FUSED)
def test_apply_leaves_a_frozen_member_alone(name: str) -> None:
    rule, (x, y), k = RULES[name], data(), 3
    hp = _hparams(rule, k, decay=True)
    params = _start(k)
    state = rule.init(params)
    state = rule.apply(_grads(params, x, y), state, params, hp, None)  # state away from 0
    before = [p[1].clone() for p in params], {key: [t[1].clone() for t in v]
                                              for key, v in state.items() if isinstance(v, list)}
    alive = torch.tensor([True, False, True])
    state = rule.apply(_grads(params, x, y), state, params, hp, alive)
    assert all(torch.equal(p[1], q) for p, q in zip(params, before[0]))
    for key, rows in before[1].items():
        assert all(torch.equal(t[1], r) for t, r in zip(state[key], rows)), key
    assert not torch.equal(params[0][0], _start(k)[0][0])  # the live members did move


@pytest.mark.parametrize("name", FUSED)
def test_apply_declines_per_element_rates_and_other_devices(name: str) -> None:
    rule, k = RULES[name], 2
    params = _start(k)
    grads, state = [torch.ones_like(p) for p in params], rule.init(params)
    hp = _hparams(rule, k, decay=False)
    layerwise = {**hp, "lr_mult": tuple(torch.ones(p.shape[1:], dtype=F64) for p in params)}
    assert rule.apply(grads, state, params, layerwise, None) is None
    assert all(torch.equal(p, q) for p, q in zip(params, _start(k)))
    meta = [torch.empty(p.shape, dtype=F64, device="meta") for p in params]
    assert rule.apply(meta, rule.init(meta), meta, hp, None) is None


@pytest.mark.parametrize("name", FUSED)
def test_gradients_made_member_by_member_give_the_same_step(name: str) -> None:
    """``grads`` as a function of the member (the population makes each member's gradient
    just before its step): the same parameters and state as the tensors give, bit for bit,
    the function called once per live member, in order; or ``None`` back and nothing
    changed, for a rule that needs every member's gradient first (the hypergradient
    rules)."""
    rule, (x, y), k = RULES[name], data(), 3
    hp = _hparams(rule, k, decay=True)
    alive = torch.tensor([True, False, True])
    given, made = _start(k), _start(k)
    given_state, made_state = rule.init(given), rule.init(made)
    for step in range(3):
        grads = _grads(given, x, y)
        called: list[int] = []

        def member(i: int, grads=grads, called=called) -> list[Tensor]:
            called.append(i)
            return [g[i].clone() for g in grads]

        got = rule.apply(member, made_state, made, hp, alive)
        if got is None:
            assert name.endswith("_hd") and not called
            assert all(torch.equal(p, q) for p, q in zip(made, _start(k)))
            return
        given_state = rule.apply(grads, given_state, given, hp, alive)
        made_state = got
        assert called == [0, 2], step
    assert all(torch.equal(p, q) for p, q in zip(given, made))
    for key, value in given_state.items():
        if isinstance(value, list):
            assert all(torch.equal(p, q) for p, q in zip(value, made_state[key])), key
        elif isinstance(value, Tensor):  # a per-member number the rule adapts
            assert torch.equal(value, made_state[key]), key
        else:
            assert value == made_state[key], key
