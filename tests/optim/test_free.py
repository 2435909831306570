"""The learning-rate-free rules against their reference packages, and Schedule-Free's
evaluation weights in the population.

Member k of one call with K members' settings follows a lone run of the reference
optimizer with member k's settings, step by step, for 120 float64 steps on a small MLP. The
first steps agree to rounding (1e-16); D-Adaptation and Prodigy then amplify rounding (their
``d`` is a running maximum of ratios, and the rate-1 runs grow weights of size 10-30), so the
tolerance is relative to the weights' size: ``1e-7 (1 + max |w|)``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from optim_helpers import data, mlp, rule_trajectory, stacked_mlp_losses
from torch import Tensor

from lrlab.optim import RULES
from lrlab.population import Population

F64 = torch.float64
STEPS = 120
RTOL = 1e-7


def _prodigy(params, h):
    from prodigyopt import Prodigy
    return Prodigy(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                   weight_decay=h["weight_decay"], d0=h["d0"], d_coef=h["d_coef"])


def _dadapt(params, h):
    from dadaptation import DAdaptAdam
    return DAdaptAdam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                      weight_decay=h["weight_decay"], d0=h["d0"])


def _dog(params, h):
    from dog import DoG
    return DoG(params, lr=h["lr"], reps_rel=h["reps_rel"], eps=h["eps"],
               weight_decay=h["weight_decay"])


def _sf_sgd(params, h):
    from schedulefree import SGDScheduleFreeReference
    return SGDScheduleFreeReference(params, lr=h["lr"], momentum=h["momentum"],
                                    weight_decay=h["weight_decay"], r=h["r"],
                                    weight_lr_power=h["weight_lr_power"],
                                    warmup_steps=h.get("warmup", 0))


def _sf_adamw(params, h):
    from schedulefree import AdamWScheduleFreeReference
    return AdamWScheduleFreeReference(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                      eps=h["eps"], weight_decay=h["weight_decay"], r=h["r"],
                                      weight_lr_power=h["weight_lr_power"],
                                      warmup_steps=h.get("warmup", 0))


#: rule -> (reference package, its optimizer, members' settings beyond the defaults)
CASES: dict[str, tuple[str, Callable, list[dict[str, float]]]] = {
    "prodigy": ("prodigyopt", _prodigy,
                [{"lr": 1.0}, {"lr": 0.5, "weight_decay": 0.01, "d_coef": 0.7},
                 {"lr": 1.0, "beta1": 0.8, "beta2": 0.99, "d0": 1e-4}]),
    "dadapt_adam": ("dadaptation", _dadapt,
                    [{"lr": 1.0}, {"lr": 0.5, "weight_decay": 0.01},
                     {"lr": 1.0, "beta1": 0.8, "beta2": 0.99, "d0": 1e-4}]),
    "dog": ("dog", _dog, [{"lr": 1.0}, {"lr": 0.8, "weight_decay": 0.01},
                          {"lr": 1.0, "reps_rel": 1e-4}]),
    "sf_sgd": ("schedulefree", _sf_sgd,
               [{"lr": 0.1}, {"lr": 0.05, "weight_decay": 0.01, "momentum": 0.8},
                {"lr": 0.1, "r": 0.5, "weight_lr_power": 1.0, "warmup": 20}]),
    "sf_adamw": ("schedulefree", _sf_adamw,
                 [{"lr": 0.01}, {"lr": 0.005, "weight_decay": 0.01, "beta1": 0.8},
                  {"lr": 0.01, "r": 0.5, "beta2": 0.99, "warmup": 20}]),
}


def _settings(name: str) -> list[dict[str, float]]:
    return [{**RULES[name].defaults, **member} for member in CASES[name][2]]


def _rates(settings: list[dict[str, float]], step: int) -> Tensor:
    """The rate of each member at ``step`` (0-based): the reference's internal warm-up
    ``(step + 1) / warmup`` is a schedule here."""
    return torch.tensor([s["lr"] * min(1.0, (step + 1) / s["warmup"]) if s.get("warmup")
                         else s["lr"] for s in settings], dtype=F64)


def _ours(name: str, settings: list[dict[str, float]]) -> tuple[list[list[Tensor]], list]:
    """Weights (and eval weights) after each step, all members in one call per step."""
    rule, (x, y) = RULES[name], data()
    params = [p.detach().unsqueeze(0).repeat(len(settings), *[1] * p.dim())
              for p in mlp().parameters()]
    hp = {k: torch.tensor([s[k] for s in settings], dtype=F64) for k in rule.defaults}
    state, weights, evals = rule.init(params), [], []
    for step in range(STEPS):
        leaves = [p.detach().requires_grad_() for p in params]
        grads = torch.autograd.grad(stacked_mlp_losses(leaves, x, y).sum(), leaves)
        updates, state = rule.update(list(grads), state, params,
                                     hp | {"lr": _rates(settings, step)})
        params = [p + u for p, u in zip(params, updates)]
        weights.append(params)
        evals.append(rule.eval_params(state, params) if rule.eval_params else params)
    return weights, evals


def _theirs(name: str, setting: dict[str, float]) -> tuple[list[list[Tensor]], list]:
    model, (x, y) = mlp(), data()
    opt = CASES[name][1](list(model.parameters()), setting)
    if hasattr(opt, "train"):  # Schedule-Free's AdamW reference starts in eval mode
        opt.train()
    weights, evals = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        weights.append([p.detach().clone() for p in model.parameters()])
        if hasattr(opt, "eval"):  # Schedule-Free: the averaged weights
            opt.eval()
            evals.append([p.detach().clone() for p in model.parameters()])
            opt.train()
        else:
            evals.append(weights[-1])
    return weights, evals


@pytest.mark.parametrize("name", sorted(CASES))
def test_members_follow_the_reference_package(name: str, capsys):
    """Weights (and Schedule-Free's evaluation weights) of each of three members with their
    own settings equal the reference optimizer's lone run, at every one of 120 steps."""
    pytest.importorskip(CASES[name][0])
    settings = _settings(name)
    ours, our_evals = _ours(name, settings)
    for k, setting in enumerate(settings):
        theirs, their_evals = _theirs(name, setting)
        for step in range(STEPS):
            for which, a, b in (("weights", ours, theirs), ("eval", our_evals, their_evals)):
                diff = max((p[k] - q).abs().max().item() for p, q in zip(a[step], b[step]))
                size = max(q.abs().max().item() for q in b[step])
                assert diff <= RTOL * (1 + size), (
                    f"{name} member {k} {which} off by {diff:.3g} (size {size:.3g}) at "
                    f"step {step + 1}")
                if step < 5:  # the formula itself: exact but for rounding
                    assert diff <= 1e-14 * (1 + size), f"{name} member {k} step {step + 1}"
    capsys.readouterr()  # prodigyopt prints a line for decoupled decay


@pytest.mark.parametrize("name", ["prodigy", "dadapt_adam", "dog"])
def test_the_step_size_used_is_reported(name: str):
    """state["lr"] is the step size the rule settled on, one per member, and it moves."""
    rule, (x, y) = RULES[name], data()
    settings = _settings(name)
    params = [p.detach().unsqueeze(0).repeat(3, *[1] * p.dim()) for p in mlp().parameters()]
    hp = {k: torch.tensor([s[k] for s in settings], dtype=F64) for k in ("lr", *rule.defaults)}
    *_, last = rule_trajectory(rule, params, hp, lambda ps: stacked_mlp_losses(ps, x, y), 30)
    state = rule.init(params)
    for _ in range(30):
        leaves = [p.detach().requires_grad_() for p in params]
        grads = torch.autograd.grad(stacked_mlp_losses(leaves, x, y).sum(), leaves)
        updates, state = rule.update(list(grads), state, params, hp)
        params = [p + u for p, u in zip(params, updates)]
    assert state["lr"].shape == (3,) and bool((state["lr"] > 0).all())
    assert all(torch.equal(p, q) for p, q in zip(params, last))
    if name != "dog":
        torch.testing.assert_close(state["lr"], state["d"] * hp["lr"], rtol=0, atol=0)
        assert bool((state["d"] > hp["d0"]).all()), "d never left d0"


def test_schedule_free_population_evaluates_the_average():
    """predict() and member_module() use x (the average); the trained weights y come back."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    pop = Population(model.double(), "sf_adamw", {"lr": [0.05, 0.01]})
    x, y = data()
    loss = lambda out, t: ((out - t) ** 2).mean(-1)
    for _ in range(5):
        pop.step(x, y, loss)
    trained = pop.flat.clone()
    (average,) = RULES["sf_adamw"].eval_params(pop.state, [pop.flat])
    assert not torch.equal(average, trained)
    pop.flat.data.copy_(average)
    by_hand = pop.forward(x).detach()
    pop.flat.data.copy_(trained)
    assert torch.equal(pop.predict(x), by_hand)
    assert torch.equal(pop.flat, trained), "the trained weights were not put back"
    module = pop.member_module(1)
    torch.testing.assert_close(module(x).detach(), by_hand[1], rtol=1e-12, atol=1e-14)
    assert torch.equal(pop.flat, trained)
