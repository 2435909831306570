"""Evaluation that draws nothing from the training's random numbers.

An evaluation only observes, so turning it on must not change what trains. Yet a pass over
a validation ``DataLoader`` draws from torch's global generator (each iterator draws its
base seed, ``torch.empty((), dtype=torch.int64).random_()``, even sequential and without
workers), a loader with a sampler of its own is re-seeded through it, and a dataset's
transforms may draw from it, from Python's ``random`` or from NumPy's: the training steps
after it would then see other shuffles and dropout masks. :func:`isolated_rng` runs such a
pass on copies of those states and puts them back after it.

What a run draws is the run's seed's, never whatever state the caller's earlier calls left:
:func:`seeded_rng` seeds all three (a dataset's augmentations draw from any of them) for the
block, and also puts them back after it. A checkpoint keeps Python's and NumPy's states as
tensors (:func:`host_states`), so a resumed run draws on as the unbroken one did.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["host_states", "isolated_rng", "seeded_rng", "set_host_states"]


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


@contextmanager
def seeded_rng(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """:func:`isolated_rng` with torch's CPU generator (and ``device``'s, on CUDA), Python's
    ``random`` and NumPy's global state seeded from ``seed`` for the block: what it draws
    (dropout, a model's own noise, a dataset's random transforms, a sampler's order) is the
    same from one call to the next, whatever the caller drew before.

    Example:
        >>> with seeded_rng(3):
        ...     a = torch.rand(1), random.random(), np.random.rand()
        >>> _ = torch.rand(5), random.random(), np.random.rand()
        >>> with seeded_rng(3):
        ...     b = torch.rand(1), random.random(), np.random.rand()
        >>> bool(a[0] == b[0]) and a[1:] == b[1:]
        True
    """
    with isolated_rng(device):
        torch.random.default_generator.manual_seed(seed)
        if device is not None and device.type == "cuda":  # (no other device's is touched)
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        yield


def host_states() -> dict[str, torch.Tensor]:
    """Python's ``random`` and NumPy's global states as plain tensors (what a checkpoint can
    hold: ``torch.load(..., weights_only=True)`` reads them back), for
    :func:`set_host_states`.

    Example:
        >>> saved = host_states()
        >>> a = random.random(), np.random.rand()
        >>> set_host_states(saved)
        >>> (random.random(), np.random.rand()) == a
        True
    """
    version, words, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {"python": torch.tensor([version, *words], dtype=torch.int64),
            "python_gauss": torch.tensor([math.nan if gauss is None else gauss],
                                         dtype=torch.float64),
            "numpy": torch.from_numpy(np.concatenate([keys.astype(np.int64), [pos, has_gauss]])),
            "numpy_gauss": torch.tensor([cached], dtype=torch.float64)}


def set_host_states(states: dict[str, torch.Tensor]) -> None:
    """Python's and NumPy's global states set to :func:`host_states`' ``states``; either one
    missing (a checkpoint written before lrlab kept them) is left as it is."""
    if "python" in states:
        version, *words = states["python"].tolist()
        gauss = float(states["python_gauss"][0])
        random.setstate((version, tuple(words), None if math.isnan(gauss) else gauss))
    if "numpy" in states:
        *keys, pos, has_gauss = states["numpy"].tolist()
        np.random.set_state(("MT19937", np.array(keys, dtype=np.uint32), pos, has_gauss,
                             float(states["numpy_gauss"][0])))
