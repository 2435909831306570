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

:data:`UNSEEN_TASKS` are kept out of the default run: lrlab's rules were never calibrated on
them, so they check the rules on shapes they did not see (``finder_quality.py --tasks
unseen``). Their SGD range tests are flat, then break upwards (or still fall at 10):

* ``lstm``: an LSTM cell written out (so a population vectorises it) that must remember
  which of three keys sat in the first 2 of 8 steps; learns in a narrow band of rates;
* ``rnn``: a tanh RNN on the same sequences; learns at rates far below where its test breaks;
* ``deep-sigmoid``: three sigmoid layers, default initialisation (vanishing gradients: it
  learns only near the largest stable rates);
* ``sigmoid-mse``: a tanh MLP whose sigmoid outputs are fitted to one-hot targets by MSE
  (a saturating output: the loss still falls at 10);
* ``wide-regression``: an MSE regression on a noisy linear target of 30 inputs (10 used)
  with one wide ReLU layer, ranked by validation loss: the loss falls faster the higher the
  rate until SGD diverges, so its best rate sits just below the edge of divergence.

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

__all__ = ["FINDER_TASKS", "RULE", "UNSEEN_TASKS"]


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


class LSTM(nn.Module):
    """An LSTM cell unrolled over the sequence (the four gates from one ``nn.Linear`` of the
    input and the state, PyTorch's default initialisation); its last state -> logits."""

    def __init__(self, inputs: int, hidden: int = 16, classes: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Linear(inputs + hidden, 4 * hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], self.hidden)
        c = h
        for t in range(x.shape[1]):
            i, f, g, o = self.gates(torch.cat([x[:, t], h], -1)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return self.head(h)


class TanhRNN(nn.Module):
    """An Elman RNN unrolled over the sequence, ``h = tanh(W [x_t, h])``; last state -> logits."""

    def __init__(self, inputs: int, hidden: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.cell = nn.Linear(inputs + hidden, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], self.hidden)
        for t in range(x.shape[1]):
            h = torch.tanh(self.cell(torch.cat([x[:, t], h], -1)))
        return self.head(h)


def _keys() -> tuple[Split, Split]:
    """Sequences of 8 one-hot tokens of 6: one of the first 2 steps holds a key (0, 1 or 2),
    every other step a distractor (3-5); the class is the key. 1200 train, 800 validation."""
    rng = np.random.default_rng(0)
    n, length, vocab = 2000, 8, 6
    tokens = rng.integers(3, vocab, size=(n, length))
    y = rng.integers(0, 3, size=n)
    tokens[np.arange(n), rng.integers(0, 2, size=n)] = y
    x = np.eye(vocab, dtype=np.float32)[tokens]
    return _split(x[:1200], y[:1200]), _split(x[1200:], y[1200:])


def lstm() -> Task:
    train, val = _keys()
    return Task(name="lstm", train=train, val=val, num_classes=3, batch_size=32, epochs=15,
                model=lambda: LSTM(6),
                description="LSTM(16) by hand: which key sat in the first 2 of 8 steps")


def rnn() -> Task:
    train, val = _keys()
    return Task(name="rnn", train=train, val=val, num_classes=3, batch_size=32, epochs=15,
                model=lambda: TanhRNN(6),
                description="tanh RNN(32): which key sat in the first 2 of 8 steps")


def deep_sigmoid() -> Task:
    train, val = _tabular()
    return Task(name="deep-sigmoid", train=train, val=val, num_classes=4, batch_size=64,
                epochs=30, model=lambda: _layers([20, 32, 32, 32, 4], nn.Sigmoid),
                description="tabular 4 classes, 3 sigmoid layers of 32, PyTorch default init")


def _sigmoid_mse(outputs: Tensor, targets: Tensor) -> Tensor:
    onehot = torch.nn.functional.one_hot(targets, outputs.shape[-1]).to(outputs)
    return (torch.sigmoid(outputs) - onehot).square().mean(-1)


def sigmoid_mse() -> Task:
    train, val = _tabular()
    return Task(name="sigmoid-mse", train=train, val=val, num_classes=4, batch_size=64,
                epochs=20, loss=_sigmoid_mse, model=lambda: _layers([20, 64, 64, 4], nn.Tanh),
                description="tabular 4 classes, tanh MLP, sigmoid outputs fitted to one-hot by MSE")


def wide_regression() -> Task:
    """A linear target of 30 inputs (10 informative), noise 20, inputs and targets
    standardised; 1000 train, 1000 validation."""
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=2000, n_features=30, n_informative=10, noise=20.0,
                           random_state=0)
    x = (x - x[:1000].mean(0)) / x[:1000].std(0)
    y = (y - y[:1000].mean()) / y[:1000].std()
    return Task(name="wide-regression", train=_split(x[:1000], y[:1000], regression=True),
                val=_split(x[1000:], y[1000:], regression=True), num_classes=None,
                loss=_mse, monitor="loss", batch_size=32, epochs=20,
                model=lambda: _layers([30, 128, 1], nn.ReLU),
                description="noisy linear target of 30 inputs, MLP 30-128-1, MSE")


FINDER_TASKS: dict[str, Callable[[], Task]] = {
    "torch-mlp": torch_mlp, "deep-tanh": deep_tanh, "bn-dropout": bn_dropout,
    "attention": attention, "gru": gru, "regression": regression, "adam-cnn": adam_cnn,
}

#: Tasks no rule was calibrated on (not in the default run; see the module docstring).
UNSEEN_TASKS: dict[str, Callable[[], Task]] = {
    "lstm": lstm, "rnn": rnn, "deep-sigmoid": deep_sigmoid, "sigmoid-mse": sigmoid_mse,
    "wide-regression": wide_regression,
}

#: The update rule a task is trained with (the rest: plain SGD).
RULE: dict[str, str] = {"adam-cnn": "adam"}
