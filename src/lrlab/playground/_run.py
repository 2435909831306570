"""Run update rules on a surface: every trajectory in one ``(K, 2)`` state, no drawing.

A member is one (rule, rate) pair. All K members sit in one ``(K, 2)`` tensor of points:
each step evaluates the surface once for all of them, takes the gradient by autograd
(float64), and lets each rule update its own rows with lrlab's update-rule functions (the
ones the population trains networks with), its rates a ``(K_rule,)`` tensor.

A member diverges at the first point that is not finite, whose loss is not finite, or that
lies more than :data:`ESCAPE` half-widths of the box from the box's centre on either axis (a
float64 run that explodes geometrically can take thousands of steps to overflow). From then
on its path and losses are NaN and its updates are dropped; the others go on untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from lrlab._checks import positive_rates, whole
from lrlab._errors import LrlabError
from lrlab.optim import UpdateRule, check_ranges, get_rule
from lrlab.playground._surfaces import Point, Surface, get_surface

__all__ = ["ESCAPE", "MAX_STEPS", "Trajectories", "trajectories"]

#: A point farther than this many half-widths of the box from its centre has diverged.
ESCAPE = 10.0
#: The longest run :func:`trajectories` accepts.
MAX_STEPS = 100_000

F64 = torch.float64


@dataclass(frozen=True)
class Trajectories:
    """Where each member went: plain arrays, ready to assert on or to draw.

    Attributes:
        surface: the surface the members ran on.
        rules: the update rule of each member, ``(K,)`` names.
        lrs: the rate of each member, ``(K,)``.
        labels: a legend label per member (the rule, the rate, or both when both vary).
        path: the points, ``(K, steps + 1, 2)``; row 0 is the start. NaN from a member's
            divergence on.
        loss: the surface's value at each point, ``(K, steps + 1)``; NaN likewise.
        diverged_at: the index of each member's first diverged point, ``-1`` if none.
        hparams: the hyperparameters given on top of each rule's defaults.
    """

    surface: Surface
    rules: tuple[str, ...]
    lrs: np.ndarray
    labels: tuple[str, ...]
    path: np.ndarray
    loss: np.ndarray
    diverged_at: np.ndarray
    hparams: Mapping[str, float]

    @property
    def steps(self) -> int:
        """How many updates each member was given."""
        return self.path.shape[1] - 1

    @property
    def last(self) -> np.ndarray:
        """The index of each member's last finite point, ``(K,)``."""
        return np.where(self.diverged_at >= 0, self.diverged_at - 1, self.steps)

    def summary(self, tol: float = 1e-2) -> pd.DataFrame:
        """One row per member: where it ended and how fast it got there.

        Columns: ``label``, ``rule``, ``lr``; ``x``, ``y``, ``loss`` at the last finite
        point; ``minimum``, the nearest minimum (``"x, y"``) and ``distance`` to it; ``reached``,
        the first step from which the member stays within ``tol`` of that minimum (absent
        when it never settles there); ``diverged``, the step of its first diverged point.
        """
        k = np.arange(len(self.rules))
        end = self.path[k, self.last]                                  # (K, 2)
        minima = np.asarray(self.surface.minima, dtype=np.float64)     # (M, 2)
        dist = np.linalg.norm(self.path[:, :, None, :] - minima, axis=-1)  # (K, T+1, M)
        nearest = np.argmin(np.linalg.norm(end[:, None, :] - minima, axis=-1), axis=1)
        to_nearest = dist[k, :, nearest]                               # (K, T+1); NaN after
        inside = to_nearest < tol                                      # NaN compares False
        outside_last = np.where(inside, -1, np.arange(self.steps + 1)).max(axis=1)
        settled = inside[k, self.last] & (self.diverged_at < 0)
        return pd.DataFrame({
            "label": self.labels,
            "rule": self.rules,
            "lr": self.lrs,
            "x": end[:, 0],
            "y": end[:, 1],
            "loss": self.loss[k, self.last],
            "minimum": [f"{minima[m, 0]:.4g}, {minima[m, 1]:.4g}" for m in nearest],
            "distance": to_nearest[k, self.last],
            "reached": _steps(np.where(settled, outside_last + 1, -1)),
            "diverged": _steps(self.diverged_at),
        })


def _steps(values: np.ndarray) -> pd.array:
    """Step indices as a nullable integer column: ``-1`` (never) becomes missing."""
    return pd.array([int(v) if v >= 0 else None for v in values], dtype="Int64")


def trajectories(surface: str | Surface, optimizers: Sequence[str] = ("sgd",),
                 lrs: Sequence[float] | None = None, *, steps: int = 300,
                 start: Point | None = None,
                 hparams: Mapping[str, float] | None = None) -> Trajectories:
    """Run every rule in ``optimizers`` at every rate in ``lrs`` from one start, together.

    Member ``(r, lr)`` follows ``p_{t+1} = p_t + u_t`` where ``u_t`` is rule ``r``'s update
    from ``g_t = grad f(p_t)``: the same functions, defaults and order of operations as
    ``torch.optim`` (checked to 1e-10 by the tests).

    Args:
        surface: a :class:`Surface` or its name in :data:`SURFACES`.
        optimizers: names of update rules (:data:`lrlab.optim.RULES`).
        lrs: rates; every rule runs at each (default: the surface's ``lr``, and 1 for a
            rule whose ``lr`` is a multiplier, Prodigy, D-Adaptation and DoG, as their
            papers run them).
        steps: updates per member.
        start: the common starting point (default: the surface's); inside its box.
        hparams: hyperparameters on top of the rules' defaults (``{"momentum": 0.5}``),
            given to every chosen rule that takes them.

    Returns:
        :class:`Trajectories`, members ordered rule by rule, rates in the order given.

    Example:
        >>> t = trajectories("quadratic", ["sgd", "adam"], [0.03], steps=200)
        >>> t.path.shape, t.labels
        ((2, 201, 2), ('sgd', 'adam'))
    """
    surf = get_surface(surface)
    rules = _check_rules(optimizers)
    rates = _check_lrs([surf.lr] if lrs is None else lrs)
    whole("steps", steps, low=1, high=MAX_STEPS)
    origin = _check_start(surf, surf.start if start is None else start)
    extra = dict(hparams or {})
    # the surface's rate is a step size; a rule whose lr multiplies the step size it finds
    # itself (Prodigy, D-Adaptation, DoG) runs at its papers' 1 unless rates are given
    mine = {r.name: [1.0] if lrs is None and r.multiplier else rates for r in rules}
    groups = [(rule, _hyper(rule, mine[rule.name], extra)) for rule in rules]
    _check_hparams_used(rules, extra)

    pairs = [(r.name, lr) for r in rules for lr in mine[r.name]]
    path, loss, diverged_at = _run(surf, groups, len(pairs), steps, origin)
    return Trajectories(
        surface=surf, rules=tuple(r for r, _ in pairs),
        lrs=np.array([lr for _, lr in pairs], dtype=np.float64),
        labels=_labels(pairs, several_rules=len(rules) > 1,
                       several_lrs=len({lr for _, lr in pairs}) > 1),
        path=path, loss=loss, diverged_at=diverged_at, hparams=extra,
    )


def _run(surf: Surface, groups: list[tuple[UpdateRule, dict[str, Tensor]]], k: int,
         steps: int, origin: Point) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loop: one evaluation and one gradient of all K points per step."""
    x = torch.tensor(origin, dtype=F64).expand(k, 2).clone()
    path = torch.full((k, steps + 1, 2), math.nan, dtype=F64)
    loss = torch.full((k, steps + 1), math.nan, dtype=F64)
    diverged_at = torch.full((k,), -1, dtype=torch.long)
    alive = torch.ones(k, dtype=torch.bool)
    rows = _slices(groups)
    states = [rule.init([x[sl]]) for (rule, _), sl in zip(groups, rows)]
    centre, half = _frame(surf)
    for t in range(steps + 1):
        xg = x.detach().requires_grad_(True)
        value = surf(xg[:, 0], xg[:, 1])
        bad = alive & ~(torch.isfinite(x).all(dim=1) & torch.isfinite(value.detach())
                        & ((x - centre).abs() <= ESCAPE * half).all(dim=1))
        diverged_at[bad] = t
        alive &= ~bad
        path[alive, t] = x[alive]
        loss[alive, t] = value.detach()[alive]
        if t == steps or not alive.any():
            break
        (grad,) = torch.autograd.grad(value.sum(), xg)  # row k depends on point k only
        updates = []
        for i, ((rule, hp), sl) in enumerate(zip(groups, rows)):
            (u,), states[i] = rule.update([grad[sl]], states[i], [x[sl]], hp)
            updates.append(u)
        x = torch.where(alive[:, None], x + torch.cat(updates), x)
    return path.numpy(), loss.numpy(), diverged_at.numpy()


def _slices(groups: list[tuple[UpdateRule, dict[str, Tensor]]]) -> list[slice]:
    """The rows of each rule's members in the ``(K, 2)`` state (rule by rule)."""
    out, at = [], 0
    for _, hp in groups:
        n = hp["lr"].numel()
        out.append(slice(at, at + n))
        at += n
    return out


def _frame(surf: Surface) -> tuple[Tensor, Tensor]:
    """The box's centre and half-widths, ``(2,)`` each."""
    x0, x1, y0, y1 = surf.box
    return (torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=F64),
            torch.tensor([(x1 - x0) / 2, (y1 - y0) / 2], dtype=F64))


def _check_rules(names: Sequence[str]) -> list[UpdateRule]:
    if isinstance(names, str):
        names = [names]
    names = [n.strip() for n in names]
    if not names or not all(names):
        raise LrlabError("give update rules as a comma list without empty names, e.g. "
                         "sgd,momentum,adam")
    if len(set(names)) != len(names):
        raise LrlabError(f"an update rule is named twice in {','.join(names)}; name each once")
    return [get_rule(n) for n in names]


def _check_lrs(lrs: Sequence[float]) -> list[float]:
    rates = positive_rates("lrs", lrs)
    if len(set(rates)) != len(rates):
        raise LrlabError(f"a learning rate is given twice in {rates}; give each once")
    return rates


def _check_start(surf: Surface, start: Point) -> Point:
    try:
        point = (float(start[0]), float(start[1]))
        if len(start) != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise LrlabError(f"a start is two numbers X,Y, got {start!r}") from None
    if not surf.contains(point):
        x0, x1, y0, y1 = surf.box
        raise LrlabError(f"start ({point[0]:g}, {point[1]:g}) lies outside {surf.name}'s box "
                         f"x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}]; start inside it")
    return point


def _hyper(rule: UpdateRule, rates: list[float], extra: Mapping[str, float]) -> dict:
    """The rule's hyperparameters as ``(K_rule,)`` float64 tensors: rates, given, defaults."""
    values = {**rule.defaults, **{k: v for k, v in extra.items() if k in rule.defaults}}
    check_ranges(rule.name, values)
    hp = {name: torch.full((len(rates),), float(v), dtype=F64) for name, v in values.items()}
    hp["lr"] = torch.tensor(rates, dtype=F64)
    return hp


def _check_hparams_used(rules: list[UpdateRule], extra: Mapping[str, float]) -> None:
    for name in extra:
        if not any(name in r.defaults for r in rules):
            takes = sorted({k for r in rules for k in r.defaults})
            raise LrlabError(f"no chosen update rule takes {name!r}; they take: "
                             f"{', '.join(takes) or 'nothing but lr'}")


def _labels(pairs: list[tuple[str, float]], *, several_rules: bool,
            several_lrs: bool) -> tuple[str, ...]:
    if several_rules and not several_lrs:
        return tuple(r for r, _ in pairs)
    if several_lrs and not several_rules:
        return tuple(f"lr={lr:g}" for _, lr in pairs)
    return tuple(f"{r} lr={lr:g}" for r, lr in pairs)
