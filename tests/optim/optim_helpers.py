"""Helpers the update-rule tests share."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def stacked(flat: Sequence[float], shapes: Sequence[tuple[int, ...]], members: int) -> list[Tensor]:
    """One member's flat float64 weights cut into ``shapes``, each repeated to ``(K, *shape)``."""
    out, i = [], 0
    for shape in shapes:
        size = math.prod(shape)
        t = torch.tensor(list(flat[i:i + size]), dtype=torch.float64).view(shape)
        out.append(t.expand(members, *shape).clone())
        i += size
    return out
