"""``lrlab.optim.Optimizer``: any rule as a torch optimizer in an ordinary training loop.

Checks: parity with the torch.optim twin of every rule that has one (100 float64 steps,
1e-10); a state_dict saved mid-run resumes bit for bit, for every rule; param groups with
their own rates and hyperparameters; closures, missing gradients, and bad input.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import Tensor, nn

from lrlab import LrlabError
from lrlab.optim import RULES, SGDHD, AdamHD, DeltaBarDelta, Optimizer, Rprop, param_groups

F64 = torch.float64

# Every rule with a torch twin: lrlab hyperparameters -> (torch class, its keyword arguments).
TWINS: dict[str, tuple[dict, type, dict]] = {
    "sgd": ({"weight_decay": 0.01}, torch.optim.SGD, {"weight_decay": 0.01}),
    "momentum": ({}, torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": ({"momentum": 0.8}, torch.optim.SGD, {"momentum": 0.8, "nesterov": True}),
    "adagrad": ({"lr_decay": 0.01}, torch.optim.Adagrad, {"lr_decay": 0.01}),
    "rmsprop": ({"momentum": 0.5}, torch.optim.RMSprop, {"momentum": 0.5}),
    "adam": ({"beta1": 0.8, "weight_decay": 0.01}, torch.optim.Adam,
             {"betas": (0.8, 0.999), "weight_decay": 0.01}),
    "adamw": ({}, torch.optim.AdamW, {}),
    "rprop": ({"eta_plus": 1.1}, torch.optim.Rprop, {"etas": (0.5, 1.1)}),
}


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).to(F64)


def _data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(24, 3, generator=g, dtype=F64), torch.randn(24, 2, generator=g, dtype=F64)


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    x, y = _data()
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def test_twin_table_covers_every_rule_with_a_torch_name():
    assert set(TWINS) == {n for n, r in RULES.items() if r.torch_name is not None}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_matches_torch_optimizer(name: str):
    """100 float64 steps of lrlab's Optimizer land within 1e-10 of torch.optim's."""
    ours, theirs = _model(), _model()
    hparams, torch_cls, torch_kwargs = TWINS[name]
    x, y = _data()
    opt_ours = Optimizer(ours.parameters(), name, lr=0.01, **hparams)
    opt_theirs = torch_cls(theirs.parameters(), lr=0.01, **torch_kwargs)
    for step in range(1, 101):
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
        diff = _max_diff(ours, theirs)
        assert diff <= 1e-10, f"{name}: {diff:.3g} from torch.optim after step {step}"


@pytest.mark.parametrize("name", sorted(RULES))
def test_state_dict_resumes_exactly(name: str):
    """Save after 10 steps, load into a fresh optimizer: the next 10 steps are identical."""
    model = _model()
    opt = Optimizer(model.parameters(), name, lr=0.01)
    _train(model, opt, 10)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buffer)
    _train(model, opt, 10)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = _model()
    resumed.load_state_dict(saved["model"])
    opt2 = Optimizer(resumed.parameters(), name, lr=0.01)
    opt2.load_state_dict(saved["opt"])
    _train(resumed, opt2, 10)
    for p, q in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(p, q), f"{name}: the resumed run drifted"


def test_param_groups_with_their_own_rates_and_hyperparameters():
    """Each group steps with its own lr (and momentum), exactly as torch.optim.SGD does."""
    ours, theirs = _model(), _model()

    def groups(model: nn.Module) -> list[dict]:
        g = param_groups(model, 0.01, {"0": 0.1, "2": 10})
        g[0]["momentum"] = 0.5
        return g

    opt_ours = Optimizer(groups(ours), "momentum", lr=0.01)
    opt_theirs = torch.optim.SGD(groups(theirs), lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt_ours.param_groups] == pytest.approx([0.001, 0.1])
    _train(ours, opt_ours, 50)
    _train(theirs, opt_theirs, 50)
    assert _max_diff(ours, theirs) <= 1e-12


def test_hypergradient_rate_is_kept_per_group():
    """Each group of an SGD-HD optimizer adapts its own rate, kept in rule_state."""
    model = _model()
    opt = SGDHD(param_groups(model, 0.01, {"0": 1.0, "2": 1.0}), lr=0.01, beta=0.01)
    _train(model, opt, 20)
    rates = [g["rule_state"]["lr"].item() for g in opt.param_groups]
    assert rates[0] != rates[1]
    assert all(r != 0.01 for r in rates)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01]  # the base rates stay


def test_named_classes_run_their_rule():
    params = list(_model().parameters())
    for cls, name in ((Rprop, "rprop"), (DeltaBarDelta, "delta_bar_delta"),
                      (SGDHD, "sgd_hd"), (AdamHD, "adam_hd")):
        assert cls(params, lr=0.01).rule is RULES[name]


def test_closure_loss_is_returned_and_parameters_without_grad_are_left_alone():
    model = _model()
    x, y = _data()
    frozen_before = model[2].bias.detach().clone()
    opt = Optimizer(model.parameters(), "adam", lr=0.1)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = ((model(x) @ torch.tensor([1.0, 0.0], dtype=F64) - y[:, 0]) ** 2).mean()
        model[2].bias.grad = None
        loss.backward()
        model[2].bias.grad = None  # as if this parameter took no part
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, Tensor) and loss.item() > 0
    assert torch.equal(model[2].bias, frozen_before)
    assert model[2].bias not in opt.state or not opt.state[model[2].bias]
    opt.step(closure)  # a later step: the bias still has no state and no gradient
    assert torch.equal(model[2].bias, frozen_before)


def test_zeroing_grads_in_place_does_not_corrupt_state():
    """SGD-HD keeps the last gradient; zero_grad(set_to_none=False) must not erase it."""
    a, b = _model(), _model()
    x, y = _data()
    opts = [SGDHD(a.parameters(), lr=0.01, beta=0.01), SGDHD(b.parameters(), lr=0.01, beta=0.01)]
    for _ in range(10):
        for model, opt, none in ((a, opts[0], True), (b, opts[1], False)):
            opt.zero_grad(set_to_none=none)
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
    assert _max_diff(a, b) == 0.0


BAD = {
    "unknown-hparam": (lambda ps: Optimizer(ps, "adam", lr=0.1, momentum=0.9), "momentum"),
    "unknown-rule": (lambda ps: Optimizer(ps, "nope", lr=0.1), "nope"),
    "negative-lr": (lambda ps: Optimizer(ps, "sgd", lr=-0.1), "positive"),
    "nan-hparam": (lambda ps: Optimizer(ps, "adam", lr=0.1, eps=float("nan")), "eps"),
    "group-lr": (lambda ps: Optimizer([{"params": ps, "lr": 0.0}], "sgd", lr=0.1), "positive"),
    # out of range, as a sweep refuses it (it trained: momentum 1.5 grows every step)
    "momentum-range": (lambda ps: Optimizer(ps, "momentum", lr=0.1, momentum=1.5),
                       "momentum=1.5 must be in [0, 1) for the update rule momentum"),
    "group-beta1-range": (lambda ps: Optimizer([{"params": ps, "beta1": 1.0}], "adam", lr=0.1),
                          "beta1=1 must be in [0, 1) for the update rule adam"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_one_line_error(case: str):
    make, needle = BAD[case]
    with pytest.raises(LrlabError) as info:
        make(list(_model().parameters()))
    assert "\n" not in str(info.value) and needle in str(info.value)


def test_deepcopy_of_optimizer_and_model_trains_alike():
    """Plain torch machinery (deepcopy) works on the optimizer."""
    model = _model()
    opt = Optimizer(model.parameters(), "delta_bar_delta", lr=0.01, momentum=0.5)
    _train(model, opt, 5)
    model2, opt2 = copy.deepcopy((model, opt))
    _train(model, opt, 5)
    _train(model2, opt2, 5)
    assert _max_diff(model, model2) == 0.0
