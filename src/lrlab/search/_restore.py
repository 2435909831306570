"""Leave the user's objects exactly as they were: save before a range test, restore after.

:func:`preserved` saves ``copy.deepcopy(model.state_dict())``, every buffer (persistent or
not), every parameter's ``.grad``, each submodule's ``training`` flag,
``copy.deepcopy(optimizer.state_dict())`` (its state and every param group's settings,
``lr`` included), and the random states (torch's CPU and the CUDA device's through
``torch.random.fork_rng``, Python's ``random``, NumPy's global); on exit, normal or by an
exception, it puts all of them back. Tensors are restored in place (``load_state_dict``
copies into the existing parameters), so the optimizer's references stay valid.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = ["preserved"]


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().clone()


@contextmanager
def preserved(model: nn.Module, optimizer: torch.optim.Optimizer | None,
              device: torch.device) -> Iterator[None]:
    """Restore ``model``, ``optimizer``, modes, grads and random states on exit.

    Args:
        model: the user's model.
        optimizer: the user's optimizer (None for one made internally).
        device: the model's device; a CUDA device's generator is forked too.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> with preserved(net, None, torch.device("cpu")):
        ...     _ = net.weight.data.zero_()
        >>> bool(net.weight.abs().sum() > 0)
        True
    """
    model_state = copy.deepcopy(model.state_dict())
    buffers = {name: _clone(b) for name, b in model.named_buffers()}
    grads = [(p, _clone(p.grad)) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    optimizer_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda, device_type="cuda"):
            yield
    finally:
        with torch.no_grad():
            model.load_state_dict(model_state)
            for name, b in model.named_buffers():
                saved = buffers.get(name)
                if saved is not None and b is not None and saved.shape == b.shape:
                    b.copy_(saved)
        for p, g in grads:
            p.grad = g
        for m, mode in modes:
            m.training = mode
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_state)
        random.setstate(py_state)
        np.random.set_state(np_state)
