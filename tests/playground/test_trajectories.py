"""Trajectories: the vectorised run against hand-written loops and torch.optim, divergence,
the summary, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from surface_derivatives import HAND

from lrlab import LrlabError
from lrlab.playground import ESCAPE, Surface, trajectories

F64 = torch.float64
TOL = 1e-10


def _hand_loop(rule: str, grad, start, lr: float, steps: int, **hp: float) -> np.ndarray:
    """One member, coordinate by coordinate in Python floats, from the textbook formulas."""
    p = list(start)
    m, v, s, b = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    mu = hp.get("momentum", 0.9)
    out = [tuple(p)]
    for t in range(1, steps + 1):
        g = grad(*p)
        for i in range(2):
            if rule == "sgd":
                p[i] -= lr * g[i]
            elif rule in ("momentum", "nesterov"):
                b[i] = mu * b[i] + g[i]
                p[i] -= lr * (g[i] + mu * b[i] if rule == "nesterov" else b[i])
            elif rule == "adagrad":
                s[i] += g[i] ** 2
                p[i] -= lr * g[i] / (math.sqrt(s[i]) + 1e-10)
            elif rule == "rmsprop":
                s[i] = 0.99 * s[i] + 0.01 * g[i] ** 2
                p[i] -= lr * g[i] / (math.sqrt(s[i]) + 1e-8)
            elif rule == "adam":
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
                m_hat, v_hat = m[i] / (1 - 0.9**t), v[i] / (1 - 0.999**t)
                p[i] -= lr * m_hat / (math.sqrt(v_hat) + 1e-8)
        out.append(tuple(p))
    return np.array(out)


RULES6 = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.mark.parametrize("surface,lrs,steps", [
    ("rosenbrock", [0.001, 0.0005], 300),
    ("beale", [0.003, 0.001], 200),
    ("saddle", [0.01, 0.05], 200),
])
def test_each_member_equals_its_hand_written_loop(surface: str, lrs, steps: int) -> None:
    """Six rules x two rates run as one (12, 2) state; each member matches a lone loop."""
    data = trajectories(surface, RULES6, lrs, steps=steps)
    assert data.path.shape == (12, steps + 1, 2)
    assert (data.diverged_at == -1).all()
    grad = HAND[surface][0]
    start = data.surface.start
    for k, (rule, lr) in enumerate(zip(data.rules, data.lrs)):
        ref = _hand_loop(rule, grad, start, float(lr), steps)
        np.testing.assert_allclose(data.path[k], ref, rtol=0, atol=TOL, err_msg=rule)


def _torch_optim(rule: str, params, lr: float) -> torch.optim.Optimizer:
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=lr),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr),
        "adam": lambda: torch.optim.Adam(params, lr=lr),
    }[rule]()


def test_matches_torch_optim_on_a_two_parameter_tensor() -> None:
    steps, lr, start = 80, 0.001, (-1.2, 1.0)
    data = trajectories("rosenbrock", RULES6, [lr], steps=steps, start=start)
    f = data.surface.f
    for k, rule in enumerate(data.rules):
        p = torch.tensor(start, dtype=F64, requires_grad=True)
        opt = _torch_optim(rule, [p], lr)
        ref = [p.detach().clone()]
        for _ in range(steps):
            opt.zero_grad()
            f(p[0], p[1]).backward()
            opt.step()
            ref.append(p.detach().clone())
        np.testing.assert_allclose(data.path[k], torch.stack(ref).numpy(), rtol=0, atol=TOL,
                                   err_msg=rule)


def test_losses_are_the_surface_at_each_point() -> None:
    data = trajectories("himmelblau", ["sgd", "adam"], [0.01], steps=50)
    p = torch.from_numpy(data.path)
    np.testing.assert_array_equal(data.loss, data.surface(p[..., 0], p[..., 1]).numpy())


def test_hyperparameters_reach_the_rules_that_take_them() -> None:
    data = trajectories("quadratic", ["sgd", "momentum"], [0.03], steps=100,
                        hparams={"momentum": 0.5})
    grad = HAND["quadratic"][0]
    start = data.surface.start
    np.testing.assert_allclose(data.path[1], _hand_loop("momentum", grad, start, 0.03, 100,
                                                         momentum=0.5), rtol=0, atol=TOL)
    np.testing.assert_allclose(data.path[0], _hand_loop("sgd", grad, start, 0.03, 100),
                               rtol=0, atol=TOL)
    assert data.hparams == {"momentum": 0.5}


def test_a_multiplier_rule_runs_at_its_papers_one_under_the_surfaces_rate() -> None:
    """Prodigy's lr multiplies the step it finds (1 by its paper): beside SGD at the
    surface's rate it runs at 1, as alone at --lr 1 (before: at the surface's 0.03, where in
    100 steps it barely left the start, 55 of 60 in loss, while at 1 it reaches 0.0008);
    given rates, every rule runs at each."""
    data = trajectories("quadratic", ["sgd", "prodigy"], steps=100)
    assert data.lrs.tolist() == [data.surface.lr, 1.0]
    assert data.labels == (f"sgd lr={data.surface.lr:g}", "prodigy lr=1")
    alone = trajectories("quadratic", ["prodigy"], [1.0], steps=100)
    np.testing.assert_array_equal(data.path[1], alone.path[0])
    assert data.loss[1, -1] < 0.01 * data.loss[1, 0]
    given = trajectories("quadratic", ["sgd", "prodigy"], [0.03], steps=10)
    assert given.lrs.tolist() == [0.03, 0.03] and given.labels == ("sgd", "prodigy")


def test_same_settings_same_numbers() -> None:
    a = trajectories("beale", RULES6, [0.01], steps=60)
    b = trajectories("beale", RULES6, [0.01], steps=60)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.loss, b.loss)


# -- divergence ---------------------------------------------------------------------------


def test_an_escaping_member_is_stopped_and_the_others_go_on() -> None:
    """SGD on 0.5 (x^2 + 25 y^2) multiplies y by (1 - 25 lr) per step: -1.5 at lr 0.1."""
    lrs = [0.01, 0.1, 0.05]
    data = trajectories("quadratic", ["sgd"], lrs, steps=40)
    y, t = 2.0, 0  # the start's y; the box's half-height is 2.5, centred on 0
    while abs(y) <= ESCAPE * 2.5:
        y, t = y * (1 - 25 * 0.1), t + 1
    assert t == 7
    assert data.diverged_at.tolist() == [-1, t, -1]
    assert np.isfinite(data.path[1, :t]).all() and np.isnan(data.path[1, t:]).all()
    assert np.isnan(data.loss[1, t:]).all() and data.last.tolist() == [40, t - 1, 40]
    for k in (0, 2):  # untouched by the member that blew up
        alone = trajectories("quadratic", ["sgd"], [lrs[k]], steps=40)
        np.testing.assert_array_equal(data.path[k], alone.path[0])


def test_a_non_finite_point_is_caught() -> None:
    """A box so wide that only overflow can stop SGD at lr 3 on x^2 (x <- -5 x)."""
    huge = 1e305
    bowl = Surface("bowl", lambda x, y: x * x + y * y, (-huge, huge, -huge, huge),
                   ((0.0, 0.0),), (1.0, 0.0), 1.0, False, "x^2 + y^2")
    data = trajectories(bowl, ["sgd", "adam"], [3.0], steps=300)
    x, t = 1.0, 0
    while math.isfinite(x) and math.isfinite(x * x):
        x, t = x - 3.0 * 2 * x, t + 1
    assert data.diverged_at.tolist() == [t, -1]
    assert np.isfinite(data.path[0, :t]).all() and np.isnan(data.path[0, t:]).all()


def test_everyone_diverged_ends_the_run_early() -> None:
    data = trajectories("beale", ["sgd", "momentum"], [1.0], steps=1000)
    assert (data.diverged_at > 0).all() and (data.diverged_at < 50).all()
    assert data.path.shape == (2, 1001, 2) and np.isnan(data.path[:, 50:]).all()


# -- summary ------------------------------------------------------------------------------


def test_summary_reports_where_and_when() -> None:
    data = trajectories("quadratic", ["sgd"], [0.05, 0.1, 0.001], steps=200)
    table = data.summary(tol=0.01)
    assert table["label"].tolist() == ["lr=0.05", "lr=0.1", "lr=0.001"]
    # lr 0.05: the first step from which it stays within 0.01 of (0, 0)
    dist = np.hypot(data.path[0, :, 0], data.path[0, :, 1])
    reached = next(t for t in range(201) if (dist[t:] < 0.01).all())
    assert table["reached"].tolist() == [reached, pd_na(), pd_na()]
    assert table["diverged"].tolist() == [pd_na(), 7, pd_na()]
    assert table.loc[1, "x"] == data.path[1, 6, 0]  # the last finite point
    assert table.loc[2, "distance"] == pytest.approx(np.hypot(*data.path[2, -1]), rel=1e-15)
    assert table["minimum"].tolist() == ["0, 0"] * 3


def test_summary_names_the_nearest_minimum() -> None:
    data = trajectories("saddle", ["sgd"], [0.01], steps=100, start=(1.0, -0.2))
    assert data.summary()["minimum"].tolist() == ["0, -1"]


def pd_na():
    import pandas as pd

    return pd.NA


def test_labels_name_what_varies() -> None:
    assert trajectories("saddle", ["sgd", "adam"], steps=2).labels == ("sgd", "adam")
    assert trajectories("saddle", ["adam"], [0.1, 0.2], steps=2).labels == ("lr=0.1", "lr=0.2")
    both = trajectories("saddle", ["sgd", "adam"], [0.1, 0.2], steps=2)
    assert both.labels == ("sgd lr=0.1", "sgd lr=0.2", "adam lr=0.1", "adam lr=0.2")
    assert both.rules == ("sgd", "sgd", "adam", "adam")
    assert trajectories("saddle", "sgd", steps=2).lrs.tolist() == [0.01]  # the surface's


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,message", [
    ({"optimizers": ["sgd", "nope"]}, "unknown update rule 'nope'; choose one of: adagrad"),
    ({"optimizers": []}, "give update rules as a comma list"),
    ({"optimizers": ["sgd", " "]}, "without empty names"),
    ({"optimizers": ["sgd", "sgd"]}, "named twice"),
    ({"lrs": [0.0]}, "positive and finite, got 0"),
    ({"lrs": [-0.1]}, "positive and finite, got -0.1"),
    ({"lrs": [math.nan]}, "positive and finite, got nan"),
    ({"lrs": []}, "at least one positive learning rate"),
    ({"steps": 0}, "steps must be a whole number from 1 to 100000, got 0"),
    ({"steps": 2.5}, "got 2.5"),
    ({"steps": True}, "got True"),
    ({"start": (9.0, 0.0)}, r"start \(9, 0\) lies outside quadratic's box x in \[-5, 5\]"),
    ({"start": (1.0,)}, "two numbers"),
    ({"hparams": {"momentum": 1.5}},
     r"^momentum=1.5 must be in \[0, 1\) for the update rule momentum$"),
    ({"hparams": {"alpha": 0.5}}, "no chosen update rule takes 'alpha'"),
])
def test_bad_input_is_one_line(kwargs: dict, message: str) -> None:
    args = {"optimizers": ["sgd", "momentum"], **kwargs}
    with pytest.raises(LrlabError, match=message) as err:
        trajectories("quadratic", args.pop("optimizers"), **args)
    assert "\n" not in str(err.value)
