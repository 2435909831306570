"""Small tasks unlike the built-ins, for the finder-quality benchmark.

The built-in tasks are Keras-initialised ReLU networks trained with SGD. A finder calibrated
on them can fail on shapes it never saw; each task here is one such shape, small enough to
train 16 rates as one population in seconds on one CPU thread:

* ``torch-mlp``: a ReLU MLP with PyTorch's default initialisation (Kaiming-uniform with
  ``a = sqrt(5)``, a narrower start than He's);
* ``deep-tanh``: eight tanh layers, default initialisation (a slow start, then a fast fall);
* ``bn-dropout``: BatchNorm + Dropout (a late collapse at high rates);
* ``attention``: integer tokens through an embedding, self-attention, mean pooling;
* ``gru``: a GRU that must remember the first steps of its sequence (a flat SGD curve);
* ``regression``: an MSE regression (Friedman's function), ranked by validation loss;
* ``adam-cnn``: a small CNN on 8x8 digits meant for Adam (:data:`RULE` says which tasks).

Every task's data is fixed (drawn from seed 0); a benchmark seed changes the initial weights,
the example order and the dropout masks. ``lrlab.train.fit`` casts inputs to float, so the
token task stores its indices as floats and its model turns them back into indices: the
embedding's indices are the model's own concern here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from lrlab.tasks import Split, Task

__all__ = ["FINDER_TASKS", "RULE"]


def _split(x: np.ndarray, y: np.ndarray, *, regression: bool = False) -> Split:
    yt = torch.as_tensor(y, dtype=torch.float32 if regression else torch.long)
    return Split(torch.as_tensor(x, dtype=torch.float32), yt)


def _tabular() -> tuple[Split, Split]:
    """4 classes in 20 features (10 informative), standardised; 2000 train, 1000 validation."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=3000, n_features=20, n_informative=10, n_redundant=4,
                               n_classes=4, n_clusters_per_class=2, class_sep=1.0,
                               flip_y=0.02, random_state=0)
    x = (x - x[:2000].mean(0)) / x[:2000].std(0)
    return _split(x[:2000], y[:2000]), _split(x[2000:], y[2000:])


def _layers(sizes: list[int], act: Callable[[], nn.Module]) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        mods.append(nn.Linear(sizes[i], sizes[i + 1]))  # PyTorch's default initialisation
        if i < len(sizes) - 2:
            mods.append(act())
    return nn.Sequential(*mods)


def torch_mlp() -> Task:
    train, val = _tabular()
    return Task(name="torch-mlp", train=train, val=val, num_classes=4, batch_size=64,
                epochs=20, model=lambda: _layers([20, 64, 64, 4], nn.ReLU),
                description="tabular 4 classes, ReLU MLP 20-64-64-4, PyTorch default init")


def deep_tanh() -> Task:
    train, val = _tabular()
    return Task(name="deep-tanh", train=train, val=val, num_classes=4, batch_size=64,
                epochs=20, model=lambda: _layers([20] + [32] * 7 + [4], nn.Tanh),
                description="tabular 4 classes, 8 tanh layers of 32, PyTorch default init")


def _bn_dropout() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(20, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 4))


def bn_dropout() -> Task:
    train, val = _tabular()
    return Task(name="bn-dropout", train=train, val=val, num_classes=4, batch_size=64,
                epochs=15, model=_bn_dropout,
                description="tabular 4 classes, MLP with BatchNorm + Dropout(0.3)")


class TokenAttention(nn.Module):
    """Token indices (given as floats) -> embedding + position -> one single-head
    self-attention block with a residual and LayerNorm -> mean over positions -> logits."""

    def __init__(self, vocab: int, length: int, width: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(length, width) * 0.02)
        self.qkv = nn.Linear(width, 3 * width)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x.long()) + self.position
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        return self.head(self.norm(h + weights @ v).mean(dim=1))


def attention() -> Task:
    """Which of tokens 1..4 occurs most often among 16 tokens of 10 (ties at random)."""
    rng = np.random.default_rng(0)
    n, length, vocab = 3000, 16, 10
    x = rng.integers(0, vocab, size=(n, length))
    counts = np.stack([(x == k + 1).sum(1) for k in range(4)], axis=1)
    y = np.argmax(counts + rng.random((n, 4)) * 0.5, axis=1)
    return Task(name="attention", train=_split(x[:1500], y[:1500]),
                val=_split(x[2000:], y[2000:]), num_classes=4, batch_size=64, epochs=10,
                model=lambda: TokenAttention(vocab, length),
                description="integer tokens, embedding + self-attention, 4 classes")


class LastState(nn.Module):
    """A GRU over the sequence; its last hidden state -> logits."""

    def __init__(self, hidden: int = 16, classes: int = 2) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.unsqueeze(-1))
        return self.head(out[:, -1])


def gru() -> Task:
    """Is the sum of the first 3 of 10 noisy steps positive (a memory of 7 steps)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1800, 10))
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    return Task(name="gru", train=_split(x[:1000], y[:1000]), val=_split(x[1000:], y[1000:]),
                num_classes=2, batch_size=32, epochs=10, model=LastState,
                description="sequences of 10 steps, GRU(16), remember the first 3")


def _mse(outputs: Tensor, targets: Tensor) -> Tensor:
    return (outputs.squeeze(-1) - targets).square()


def regression() -> Task:
    """Friedman's #1 function of 10 inputs (5 used), noise 1, targets standardised."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    y = (y - y[:1000].mean()) / y[:1000].std()
    return Task(name="regression", train=_split(x[:1000], y[:1000], regression=True),
                val=_split(x[1000:], y[1000:], regression=True), num_classes=None,
                loss=_mse, monitor="loss", batch_size=32, epochs=40,
                model=lambda: _layers([10, 64, 64, 1], nn.ReLU),
                description="Friedman #1 regression, MLP 10-64-64-1, MSE")


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 16, 10))


def adam_cnn() -> Task:
    """scikit-learn's 8x8 digits, a small CNN, meant to be trained with Adam."""
    from lrlab.tasks import get_task

    d = get_task("digits")
    return Task(name="adam-cnn", train=d.train, val=d.val, num_classes=10, batch_size=32,
                epochs=8, model=_cnn, description="8x8 digits, small CNN, Adam")


FINDER_TASKS: dict[str, Callable[[], Task]] = {
    "torch-mlp": torch_mlp, "deep-tanh": deep_tanh, "bn-dropout": bn_dropout,
    "attention": attention, "gru": gru, "regression": regression, "adam-cnn": adam_cnn,
}

#: The update rule a task is trained with (the rest: plain SGD).
RULE: dict[str, str] = {"adam-cnn": "adam"}
