"""K range tests at once: one population, each member with its own data order (and weights).

Users report that a single range test's suggestion jumps from run to run; running several
and reading their median settles it. When :func:`find_lr` owns the optimizer (plain SGD), the
data is an ``(x, y)`` pair of tensors and there is no accumulation, AMP or self-computing
loss, the K tests are members of one :class:`~lrlab.population.Population`: one forward and
one backward per step for all of them. Member k draws its example order from a generator
seeded with ``seeds[k]`` (and, with ``reinit``, its weights); every member follows the same
rate ramp and stops on its own when its loss diverges.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import vmap

from lrlab._rng import isolated_rng
from lrlab.data import IGNORE_INDEX, ModelLoss
from lrlab.population import Population
from lrlab.search._data import forward_loss
from lrlab.search._loop import Curve, Setup

__all__ = ["population_runs", "vectorisable"]


def vectorisable(s: Setup, own_optimizer: bool) -> bool:
    """Whether the K tests of ``s`` can run as one population (see the module docstring)."""
    tensors = getattr(s.train, "_tensors", None)
    val_ok = s.val is None or len(getattr(s.val, "_tensors", None) or ()) == 2
    return (own_optimizer and tensors is not None and len(tensors) == 2 and val_ok
            and s.accumulate == 1 and not s.amp and s.loss_fn is not None
            and not isinstance(s.loss_fn, ModelLoss))


def _initial_models(model: nn.Module, seeds: Sequence[int], reinit: bool) -> list[nn.Module]:
    if not reinit:
        return [model]
    models = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            m = copy.deepcopy(model)
            for module in m.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        models.append(m)
    return models


def _cast(x: Tensor, s: Setup) -> Tensor:
    """Floating inputs in the model's dtype, as the one-by-one test casts them
    (:attr:`Setup.dtype`: float32 data meets a float64 model)."""
    return x.to(s.dtype) if x.is_floating_point() and s.dtype is not None else x


def _check_first(s: Setup, x: Tensor, y: Tensor) -> None:
    """One batch through a copy of one model, checked as the one-by-one test checks its
    first (:func:`~lrlab.search._data.forward_loss`): a model that cannot take it, labels
    beyond its class scores or a loss that fails raise one line before the population
    trains. It leaves no trace (a copy, the random states restored)."""
    with isolated_rng(s.device), torch.no_grad():
        forward_loss(copy.deepcopy(s.model), s.loss_fn, (x, y), s.keys, first=True)


def population_runs(s: Setup, seeds: Sequence[int], reinit: bool) -> list[dict[str, Any]]:
    """The records of one range test per seed, all trained as one population (the caller's
    random state is left as it was; random layers draw from the first seed)."""
    with torch.random.fork_rng(devices=[s.device] if s.device.type == "cuda" else []):
        torch.manual_seed(seeds[0])
        return _population_runs(s, seeds, reinit)


def _population_runs(s: Setup, seeds: Sequence[int], reinit: bool) -> list[dict[str, Any]]:
    x, y = (t.to(s.device) for t in s.train._tensors)
    x = _cast(x, s)
    k, n, size = len(seeds), len(x), s.train._size
    _check_first(s, x[:size], y[:size])
    pop = Population(_initial_models(s.model, seeds, reinit), "sgd",
                     {"lr": [float(s.lrs[0])] * k}, device=s.device, divergence_factor=None,
                     clip_grad_norm=s.clip)
    per_member = vmap(s.loss_fn)

    def loss(outputs: Tensor, targets: Tensor) -> Tensor:
        return per_member(outputs, targets).unsqueeze(1)  # one "sample": the batch loss

    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    order, pos = None, n
    curves = [Curve(s, s.val is not None) for _ in seeds]
    last = len(s.lrs) - 1
    for t, lr in enumerate(s.lrs.tolist()):
        if pos + size > n:  # a new pass: each member reshuffles with its own generator
            order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(s.device)
            pos = 0
        idx = order[:, pos:pos + size]
        pos += size
        out = pop.step(x[idx], y[idx], loss, shared=False,
                       lr=torch.full((k,), lr, dtype=torch.float64))
        vals = _validate(pop, s, per_member) if s.val is not None and (
            t % s.eval_every == 0 or t == last) else None
        for i, (curve, value) in enumerate(zip(curves, out.loss.tolist())):
            if curve.active:
                curve.add(t, lr, value, None if vals is None else (vals[0][i], vals[1][i]))
        if not any(c.active for c in curves):
            break
    accuracy = s.val is not None and not s.val._tensors[1].is_floating_point()
    return [c.records(accuracy) for c in curves]


@torch.no_grad()
def _validate(pop: Population, s: Setup, per_member) -> tuple[list[float], list[float]]:
    """Each member's validation loss and accuracy (argmax against class targets, over the
    labels a loss scores: :data:`~lrlab.data.IGNORE_INDEX` left out, as the one-by-one
    path's :func:`~lrlab.data.correct` does)."""
    xv, yv = (t.to(s.device) for t in s.val._tensors)
    xv = _cast(xv, s)
    out = pop.predict(xv)
    losses = per_member(out, yv.expand(pop.members, *yv.shape)).tolist()
    if yv.is_floating_point() or out.dim() != 3:
        return losses, [math.nan] * pop.members
    scored = yv != IGNORE_INDEX
    hits = ((out.argmax(-1) == yv) & scored).sum(-1, dtype=torch.float64)
    return losses, (hits / scored.sum(dtype=torch.float64)).tolist()
