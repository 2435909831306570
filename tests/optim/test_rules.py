"""Contract tests for every update rule in ``lrlab.optim.RULES``.

Each test is parametrised over the registry, so a rule added to ``RULES`` is checked without
editing this file: parity with its ``torch.optim`` twin, convergence on two small problems,
per-member hyperparameters, and purity (no argument changed in place). The only per-rule
knowledge lives in the tables below; a rule missing from ``CONVERGENCE_LR`` fails loudly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch
from optim_helpers import data as _data
from optim_helpers import mlp as _mlp
from optim_helpers import rule_trajectory as _rule_trajectory
from optim_helpers import stacked_mlp_losses as _stacked_mlp_losses
from torch import Tensor

from lrlab import LrlabError
from lrlab.optim import RULES, UpdateRule, get_rule

F64 = torch.float64
RULE_NAMES = sorted(RULES)
PARITY_STEPS = 100
PARITY_TOL = 1e-10
PARITY_LRS = (0.03, 0.01, 0.003)

# torch.optim keyword arguments that no lrlab hyperparameter expresses.
TORCH_EXTRA_KWARGS: dict[str, dict] = {"nesterov": {"nesterov": True}}

# torch.optim tuple arguments that lrlab spells as two hyperparameters.
TORCH_PAIRS: dict[str, tuple[str, str]] = {
    "betas": ("beta1", "beta2"),
    "etas": ("eta_minus", "eta_plus"),
    "step_sizes": ("step_min", "step_max"),
}

# Parity variants beyond "defaults" and "weight decay switched on/off" (see _variants).
EXTRA_VARIANTS: dict[str, list[dict[str, float]]] = {
    "adagrad": [{"lr_decay": 0.01}],
    "rmsprop": [{"momentum": 0.9}, {"momentum": 0.9, "weight_decay": 0.01}],
    "rprop": [{"eta_minus": 0.3, "eta_plus": 1.5, "step_min": 1e-3, "step_max": 0.05}],
}

# Learning rate per rule for each convergence problem, chosen by a sweep over
# {0.3, 0.1, 0.03, 0.01, 0.003, 0.001} (float64, the rule's default hyperparameters):
#   quadratic:  f = 0.5 (x0^2 + 50 x1^2) from (1, 1), 500 steps, must reach f < 1e-10.
#     Plain SGD must stay below 2/50 = 0.04; heavy ball and Nesterov at 0.01 are well damped.
#   rosenbrock: f = (1 - x0)^2 + 100 (x1 - x0^2)^2 from (-1, 1) (f = 4), 2000 steps, must
#     reach f < 0.4. Gradient-scale rules (sgd, momentum, nesterov) blow up above ~0.003 in
#     the curved valley; the adaptive ones tolerate larger rates.
# delta_bar_delta's gains reach 10 along the valley, so Rosenbrock needs 0.0003 (swept on down
# to 0.0001); rprop takes sign steps and converges at every rate in the sweep.
CONVERGENCE_LR: dict[str, dict[str, float]] = {
    "sgd": {"quadratic": 0.03, "rosenbrock": 0.001},
    "momentum": {"quadratic": 0.01, "rosenbrock": 0.001},
    "nesterov": {"quadratic": 0.01, "rosenbrock": 0.001},
    "adagrad": {"quadratic": 0.1, "rosenbrock": 0.3},
    "rmsprop": {"quadratic": 0.01, "rosenbrock": 0.003},
    "adam": {"quadratic": 0.01, "rosenbrock": 0.01},
    "adamw": {"quadratic": 0.01, "rosenbrock": 0.01},
    "rprop": {"quadratic": 0.01, "rosenbrock": 0.01},
    "delta_bar_delta": {"quadratic": 0.01, "rosenbrock": 0.0003},
    "sgd_hd": {"quadratic": 0.03, "rosenbrock": 0.001},
    "adam_hd": {"quadratic": 0.01, "rosenbrock": 0.01},
    # learning-rate-free: lr is a multiplier (1 by their papers); swept over
    # {3, 1, 0.3, ..., 0.001}. Schedule-Free takes an ordinary rate. DoG's rate decays like
    # 1 / sqrt(t), too slow for 1e-10 in 500 steps from its default first distance
    # (reps_rel 1e-6): 0.1 (below) and c = 1.5 get there.
    "prodigy": {"quadratic": 1.0, "rosenbrock": 1.0},
    "dadapt_adam": {"quadratic": 1.0, "rosenbrock": 1.0},
    "dog": {"quadratic": 1.5, "rosenbrock": 1.0},
    "sf_sgd": {"quadratic": 0.3, "rosenbrock": 0.01},
    "sf_adamw": {"quadratic": 0.3, "rosenbrock": 0.01},
}

# Hyperparameters other than the rate that a rule needs on these problems. SGD-HD's hyper-rate
# moves the rate by beta * g_t . g_{t-1}; the paper's 0.001 suits gradients of order 0.1-1,
# while the quadratic starts at |g|^2 = 2501 (one step would add 2.5 to the rate). Any beta
# from 1e-4 up diverges on both problems; 1e-6 converges on both.
CONVERGENCE_HP: dict[str, dict[str, float]] = {"sgd_hd": {"beta": 1e-6}, "dog": {"reps_rel": 0.1}}


# -- helpers ------------------------------------------------------------------------------


def _variants(rule: UpdateRule) -> list[dict[str, float]]:
    """Hyperparameter overrides to check against torch: defaults, decay flipped, extras."""
    out: list[dict[str, float]] = [{}]
    if "weight_decay" in rule.defaults:
        out.append({"weight_decay": 0.0 if rule.defaults["weight_decay"] else 0.01})
    return out + EXTRA_VARIANTS.get(rule.name, [])


def _variant_id(variant: dict[str, float]) -> str:
    return "-".join(f"{k}={v:g}" for k, v in variant.items()) or "defaults"


PARITY_CASES = [
    pytest.param(name, variant, id=f"{name}[{_variant_id(variant)}]")
    for name in RULE_NAMES
    for variant in _variants(RULES[name])
]


def _scalar_hp(rule: UpdateRule, lr: float, variant: dict[str, float]) -> dict[str, float]:
    return {"lr": lr, **rule.defaults, **variant}


def _member_hp(scalars: list[dict[str, float]], *, drop_zero_decay: bool) -> dict[str, Tensor]:
    """Stack one scalar dict per member into ``(K,)`` tensors, as the population does."""
    hp = {k: torch.tensor([s[k] for s in scalars], dtype=F64) for k in scalars[0]}
    if drop_zero_decay and "weight_decay" in hp and bool((hp["weight_decay"] == 0).all()):
        del hp["weight_decay"]
    return hp


def _torch_kwargs(rule: UpdateRule, hp: dict[str, float]) -> dict:
    """lrlab hyperparameter names translated to the torch.optim constructor's."""
    kwargs = dict(hp)
    for torch_name, pair in TORCH_PAIRS.items():
        if pair[0] in kwargs:
            kwargs[torch_name] = tuple(kwargs.pop(name) for name in pair)
    return {**kwargs, **TORCH_EXTRA_KWARGS.get(rule.name, {})}


@functools.lru_cache(maxsize=64)
def _torch_trajectory(name: str, hp_items: tuple[tuple[str, float], ...]
                      ) -> tuple[list[Tensor], ...]:
    """Parameters of ``_mlp()`` after each of PARITY_STEPS steps of the torch.optim twin of
    rule ``name`` on ``_data()`` (cached: both parity tests and both hp forms share it)."""
    rule, model, (x, y) = RULES[name], _mlp(), _data()
    optimizer_cls = getattr(torch.optim, rule.torch_name)
    opt = optimizer_cls(model.parameters(), **_torch_kwargs(rule, dict(hp_items)))
    out = []
    for _ in range(PARITY_STEPS):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        out.append([p.detach().clone() for p in model.parameters()])
    return tuple(out)


def _max_diff(a: list[Tensor], b: list[Tensor]) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a, b))


def _hp_forms(scalars: list[dict[str, float]]) -> list[dict[str, Tensor]]:
    """The hp dict as given, and without a zero ``weight_decay`` (what the population passes)."""
    forms = [_member_hp(scalars, drop_zero_decay=False)]
    dropped = _member_hp(scalars, drop_zero_decay=True)
    if dropped.keys() != forms[0].keys():
        forms.append(dropped)
    return forms


def _assert_parity(rule: UpdateRule, variant: dict[str, float], lrs: tuple[float, ...]) -> None:
    x, y = _data()
    model = _mlp()
    start = [p.detach().unsqueeze(0).repeat(len(lrs), *[1] * p.dim())
             for p in model.parameters()]
    scalars = [_scalar_hp(rule, lr, variant) for lr in lrs]
    for hp in _hp_forms(scalars):
        ours = _rule_trajectory(rule, start, hp, lambda ps: _stacked_mlp_losses(ps, x, y),
                                PARITY_STEPS)
        theirs = [_torch_trajectory(rule.name, tuple(s.items())) for s in scalars]
        for step, (stacked, *lone) in enumerate(zip(ours, *theirs), start=1):
            for k, expected in enumerate(lone):
                diff = _max_diff([p[k] for p in stacked], expected)
                assert diff <= PARITY_TOL, (
                    f"{rule.name} {_variant_id(variant)} hp keys {sorted(hp)}: member {k} "
                    f"(lr={lrs[k]}) is {diff:.3g} away from torch.optim.{rule.torch_name} "
                    f"after step {step}")


# -- parity with torch.optim --------------------------------------------------------------


def test_every_rule_with_a_torch_twin_names_a_real_optimizer():
    """Each ``torch_name`` in the registry is a torch.optim optimizer class."""
    for rule in RULES.values():
        if rule.torch_name is not None:
            assert issubclass(getattr(torch.optim, rule.torch_name), torch.optim.Optimizer)


@pytest.mark.parametrize(("name", "variant"), PARITY_CASES)
def test_one_member_matches_torch_optim(name: str, variant: dict[str, float]):
    """A single member follows torch.optim to 1e-10 at every one of 100 float64 steps."""
    rule = RULES[name]
    if rule.torch_name is None:
        pytest.skip(f"rule {name!r} has no torch.optim equivalent")
    _assert_parity(rule, variant, PARITY_LRS[:1])


@pytest.mark.parametrize(("name", "variant"), PARITY_CASES)
def test_members_with_different_rates_match_torch_optim(name: str, variant: dict[str, float]):
    """Member k of a 3-member call follows torch.optim at rate lr_k, step by step."""
    rule = RULES[name]
    if rule.torch_name is None:
        pytest.skip(f"rule {name!r} has no torch.optim equivalent")
    _assert_parity(rule, variant, PARITY_LRS)


# -- convergence --------------------------------------------------------------------------


def _rosenbrock_grad(x: Tensor) -> Tensor:
    a, r = x[:, 0], x[:, 1] - x[:, 0] ** 2
    return torch.stack([-2.0 * (1.0 - a) - 400.0 * a * r, 200.0 * r], dim=1)


# Each problem's f and closed-form gradient (checked against autograd below): thousands of
# steps without autograd's overhead keep the convergence tests fast.
PROBLEMS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "quadratic": (lambda x: 0.5 * (x[:, 0] ** 2 + 50.0 * x[:, 1] ** 2),
                  lambda x: x * torch.tensor([1.0, 50.0], dtype=x.dtype)),
    "rosenbrock": (lambda x: (1.0 - x[:, 0]) ** 2 + 100.0 * (x[:, 1] - x[:, 0] ** 2) ** 2,
                   _rosenbrock_grad),
}


def test_closed_form_gradients_match_autograd():
    """The convergence problems' hand-written gradients equal autograd's."""
    x = torch.tensor([[-1.0, 1.0], [0.3, -2.0], [1.5, 2.5]], dtype=F64, requires_grad=True)
    for f, grad in PROBLEMS.values():
        (auto,) = torch.autograd.grad(f(x).sum(), x)
        assert torch.allclose(grad(x.detach()), auto, rtol=1e-14, atol=0)


def _minimise(rule: UpdateRule, problem: str, start: list[float], lr: float,
              steps: int) -> float:
    f, grad = PROBLEMS[problem]
    hp = _member_hp([_scalar_hp(rule, lr, CONVERGENCE_HP.get(rule.name, {}))],
                    drop_zero_decay=True)
    x = torch.tensor([start], dtype=F64)
    state = rule.init([x])
    for _ in range(steps):
        (u,), state = rule.update([grad(x)], state, [x], hp)
        x = x + u
    return f(x).item()


def _convergence_lr(name: str, problem: str) -> float:
    if name not in CONVERGENCE_LR:
        pytest.fail(f"rule {name!r} has no entry in CONVERGENCE_LR; add a tuned learning "
                    "rate per problem to tests/optim/test_rules.py", pytrace=False)
    return CONVERGENCE_LR[name][problem]


def test_convergence_table_covers_every_rule():
    """CONVERGENCE_LR has a rate for every registered rule (and no stale names)."""
    assert set(CONVERGENCE_LR) == set(RULES), (
        f"missing: {sorted(set(RULES) - set(CONVERGENCE_LR))}; "
        f"stale: {sorted(set(CONVERGENCE_LR) - set(RULES))}")


@pytest.mark.parametrize("name", RULE_NAMES)
def test_reaches_minimum_of_ill_conditioned_quadratic(name: str):
    """From (1, 1), 500 steps bring 0.5 (x0^2 + 50 x1^2) below 1e-10."""
    final = _minimise(RULES[name], "quadratic", [1.0, 1.0],
                      _convergence_lr(name, "quadratic"), 500)
    assert final < 1e-10, f"{name}: f = {final:.3g} after 500 steps"


@pytest.mark.parametrize("name", RULE_NAMES)
def test_makes_progress_on_rosenbrock(name: str):
    """From (-1, 1) (f = 4), 2000 steps cut the Rosenbrock function at least tenfold."""
    final = _minimise(RULES[name], "rosenbrock", [-1.0, 1.0],
                      _convergence_lr(name, "rosenbrock"), 2000)
    assert final < 0.4, f"{name}: f = {final:.3g} after 2000 steps (start 4.0)"


# -- per-member hyperparameters -----------------------------------------------------------


def _spread(rule: UpdateRule, members: int) -> list[dict[str, float]]:
    """Distinct hyperparameters per member: every value scaled or offset by member index."""
    scalars = []
    for k in range(members):
        hp = {"lr": 0.02 / (k + 1)}
        for name, default in rule.defaults.items():
            hp[name] = default * (1.0 - 0.1 * k) if default else 0.01 * k
        scalars.append(hp)
    return scalars


@pytest.mark.parametrize("name", RULE_NAMES)
def test_members_equal_separate_single_member_calls(name: str):
    """K members with their own lr, momenta, decays in one call equal K one-member calls."""
    rule, members, steps = RULES[name], 4, 20
    x, y = _data()
    models = [_mlp(seed) for seed in range(members)]
    start = [torch.stack(ps).detach() for ps in zip(*(m.parameters() for m in models))]
    scalars = _spread(rule, members)

    def losses(ps: list[Tensor]) -> Tensor:
        return _stacked_mlp_losses(ps, x, y)

    *_, together = _rule_trajectory(rule, start, _member_hp(scalars, drop_zero_decay=False),
                                    losses, steps)
    for k in range(members):
        alone_hp = _member_hp(scalars[k:k + 1], drop_zero_decay=False)
        *_, alone = _rule_trajectory(rule, [p[k:k + 1] for p in start], alone_hp, losses, steps)
        diff = _max_diff([p[k:k + 1] for p in together], alone)
        assert diff <= 1e-12, f"{name}: member {k} differs by {diff:.3g} when run alone"


# -- purity and shapes --------------------------------------------------------------------


def _clone_state(state: dict) -> dict:
    def clone(v):
        return [t.clone() for t in v] if isinstance(v, list) else \
            v.clone() if isinstance(v, Tensor) else v
    return {k: clone(v) for k, v in state.items()}


def _same(a, b) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(torch.equal(p, q) for p, q in zip(a, b))
    return torch.equal(a, b) if isinstance(a, Tensor) else a == b


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())


@pytest.mark.parametrize("name", RULE_NAMES)
def test_update_changes_nothing_in_place(name: str):
    """``update`` leaves grads, params and the old state untouched and shapes its output."""
    rule, members = RULES[name], 3
    g = torch.Generator().manual_seed(2)
    params = [torch.randn(members, 5, 4, generator=g, dtype=F64),
              torch.randn(members, 4, generator=g, dtype=F64)]
    hp = _member_hp(_spread(rule, members), drop_zero_decay=False)
    state = rule.init(params)
    for _ in range(2):  # the second call sees a non-trivial state
        grads = [torch.randn(p.shape, generator=g, dtype=F64) for p in params]
        before = ([p.clone() for p in params], [q.clone() for q in grads], _clone_state(state))
        updates, new_state = rule.update(grads, state, params, hp)
        assert all(torch.equal(p, q) for p, q in zip(params, before[0]))
        assert all(torch.equal(p, q) for p, q in zip(grads, before[1]))
        assert _states_equal(state, before[2]), f"{name} changed its old state in place"
        assert [u.shape for u in updates] == [p.shape for p in params]
        assert all(u.dtype == F64 and torch.isfinite(u).all() for u in updates)
        state = new_state


# -- lookup -------------------------------------------------------------------------------


def test_get_rule_returns_registered_rules():
    """Every registered name resolves to its own rule."""
    for name, rule in RULES.items():
        assert get_rule(name) is rule
        assert rule.name == name


def test_unknown_rule_is_a_one_line_error_listing_the_rules():
    """``get_rule('nope')`` raises LrlabError (a ValueError) naming every known rule."""
    with pytest.raises(LrlabError) as info:
        get_rule("nope")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "\n" not in message
    assert "nope" in message
    for name in RULES:
        assert name in message
