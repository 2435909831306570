"""Evaluation that draws nothing from the training's random numbers.

An evaluation only observes, so turning it on must not change what trains. Yet a pass over
a validation ``DataLoader`` draws from torch's global generator (each iterator draws its
base seed, ``torch.empty((), dtype=torch.int64).random_()``, even sequential and without
workers), a loader with a sampler of its own is re-seeded through it, and a dataset's
transforms may draw from it, from Python's ``random`` or from NumPy's: the training steps
after it would then see other shuffles and dropout masks. :func:`isolated_rng` runs such a
pass on copies of those states and puts them back after it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["isolated_rng"]


@contextmanager
def isolated_rng(device: torch.device | None = None) -> Iterator[None]:
    """Run the block with torch's CPU generator (and ``device``'s, on CUDA), Python's
    ``random`` and NumPy's global state restored afterwards, whatever the block drew.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> with isolated_rng():
        ...     _ = torch.rand(3)
        >>> after = torch.rand(1)
        >>> _ = torch.manual_seed(0)
        >>> bool(torch.rand(1) == after)
        True
    """
    cuda = []
    if device is not None and device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda, device_type="cuda"):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
