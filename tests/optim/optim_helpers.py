"""Helpers the update-rule tests share."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from lrlab.optim import UpdateRule

F64 = torch.float64


def stacked(flat: Sequence[float], shapes: Sequence[tuple[int, ...]], members: int) -> list[Tensor]:
    """One member's flat float64 weights cut into ``shapes``, each repeated to ``(K, *shape)``."""
    out, i = [], 0
    for shape in shapes:
        size = math.prod(shape)
        t = torch.tensor(list(flat[i:i + size]), dtype=torch.float64).view(shape)
        out.append(t.expand(members, *shape).clone())
        i += size
    return out


def data() -> tuple[Tensor, Tensor]:
    """24 float64 examples: inputs (24, 3) and targets (24, 2), seeded."""
    g = torch.Generator().manual_seed(1)
    return torch.randn(24, 3, generator=g, dtype=F64), torch.randn(24, 2, generator=g, dtype=F64)


def mlp(seed: int = 0) -> nn.Module:
    """A float64 3-8-2 tanh network initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).to(F64)


def stacked_mlp_losses(params: list[Tensor], x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of K stacked copies of ``mlp`` on a shared batch: ``(K,)``."""
    w1, b1, w2, b2 = params
    h = torch.tanh(torch.einsum("bi,khi->kbh", x, w1) + b1[:, None])
    out = torch.einsum("kbh,koh->kbo", h, w2) + b2[:, None]
    return ((out - y) ** 2).mean(dim=(1, 2))


def rule_trajectory(rule: UpdateRule, params: list[Tensor], hp: dict[str, Tensor],
                    losses: Callable[[list[Tensor]], Tensor], steps: int
                    ) -> Iterator[list[Tensor]]:
    """Parameters after each step of ``rule`` (updates added, as the population does)."""
    params = [p.detach().clone() for p in params]
    state = rule.init(params)
    for _ in range(steps):
        leaves = [p.detach().requires_grad_() for p in params]
        grads = torch.autograd.grad(losses(leaves).sum(), leaves)
        updates, state = rule.update(list(grads), state, params, hp)
        params = [p + u for p, u in zip(params, updates)]
        yield params
