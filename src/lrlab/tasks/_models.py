"""Model factories for the built-in tasks.

Initialisations follow Keras' names and formulas, because the brief's experiments were run
in Keras: ``he_uniform`` draws from U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)) and
``glorot_uniform`` from U(-sqrt(6 / (fan_in + fan_out)), +...), biases start at zero.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
from torch import nn

__all__ = ["dense", "mlp", "small_cnn", "softmax_regression"]

Init = Literal["he_uniform", "glorot_uniform", "torch"]


def dense(fan_in: int, fan_out: int, *, init: Init = "glorot_uniform") -> nn.Linear:
    """A ``Linear`` layer initialised as Keras' ``Dense(kernel_initializer=init)``.

    Example:
        >>> dense(2, 50, init="he_uniform").weight.shape
        torch.Size([50, 2])
    """
    layer = nn.Linear(fan_in, fan_out)
    if init == "torch":
        return layer
    limit = math.sqrt(6.0 / (fan_in if init == "he_uniform" else fan_in + fan_out))
    with torch.no_grad():
        layer.weight.uniform_(-limit, limit)
        layer.bias.zero_()
    return layer


def mlp(sizes: list[int], *, hidden_init: Init = "he_uniform") -> nn.Sequential:
    """Dense layers with ReLU between them; the last layer outputs logits.

    Args:
        sizes: layer widths, input first: ``[2, 50, 3]`` is Dense(50, ReLU) -> Dense(3).
        hidden_init: initialiser of the hidden layers (the output layer is Glorot, as in
            Keras' default).
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        layers.append(dense(a, b, init="glorot_uniform" if last else hidden_init))
        if not last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def softmax_regression(inputs: int, classes: int) -> nn.Sequential:
    """The brief's one-layer network: a single Dense layer, softmax in the loss."""
    return nn.Sequential(dense(inputs, classes))


def small_cnn(classes: int = 10) -> nn.Sequential:
    """A small CNN for 1x28x28 images: two 3x3 conv + max-pool blocks, then a Dense layer."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), dense(16 * 7 * 7, classes),
    )
