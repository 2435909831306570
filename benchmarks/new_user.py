"""`lrlab auto` tried as a new user would: small models of the kinds users bring, fed by
DataLoaders, each pick trained for the full epochs beside a short grid on two seeds.

Run: ``cd benchmarks && OMP_NUM_THREADS=1 python new_user.py [--only NAME,...] [--grid 8]``.
Prints one row per scenario: auto's pick and ``find``'s suggestion (the range test as
``lrlab find`` runs it), each one's regret against the grid's best rate (by the mean over
the seeds of the best validation score: accuracy points, or percent excess validation loss
on a regression) and whether it warned (``find``: a warning or no rate). Each task function is
also a ``--task`` for the CLI (``lrlab auto --task new_user:bn_cnn``). The larger shapes (U-Net,
seq2seq, graph net, ResNet-18, ...) live in ``user_shapes.py``, session 10's (ViT, character
LM, dict batches, distillation, ...) in ``user_shapes2.py``, session 11's (raw audio, a
warmed-up encoder, experts, SIREN, counts, triplets, ...) in ``user_shapes3.py``, session
12's (a ResNet under weight decay and cosine, a GPT-like LM, a row-by-row GRU with clipping,
a class-weighted loss, a denoising autoencoder, Deep Sets, dict outputs) in
``user_shapes4.py``, session 13's (a pre-LN transformer, a dilated 1-D conv net, EmbeddingBag
click logs under AdamW and Adagrad, RMSprop, an auxiliary head, a Gaussian NLL, LoRA) in
``user_shapes5.py``, session 14's (ConvNeXt blocks, a zero-gamma SE-ResNet under one cycle, a
weight-tied autoencoder, torch's own TransformerEncoder, spectral norm, an STFT in the
forward, bfloat16 autocast, a hashed linear model at batch 4) in ``user_shapes6.py``, and
(a masked LM returning an output object, a CTC tagger, a packed GRU tagger, a diffusion
denoiser, pairwise ranking, an own-loss GRU LM) in ``user_shapes7.py``, and session 15's
(mixup's probability targets, an MLP-Mixer, a float64 model, a sparse embedding, a graph
attention net trained full-batch, stochastic depth in channels_last, batch 512 on small data,
flipped labels, a mixture density network) in ``user_shapes8.py``, and session 16's (an
image beside a table, CLIP's learnable temperature, CORAL ordinal regression, ArcFace, a 1-D
depthwise-separable net, BCE plus Dice on rare foreground, running statistics updated in the
forward, a hand-unrolled GRU cell, a padded causal LM with its own mask and loss, PyTorch's MNIST example)
in ``user_shapes9.py``, and session 17's (a streaming IterableDataset without ``__len__``, a
linear probe on a frozen pretrained CNN, a branch that gets no gradient, a convolutional VAE
under its ELBO, multi-label tags with ``pos_weight``, one quantile under a pinball loss,
``parametrizations.weight_norm``, ``(x, y, sample_weight)`` triples, DLinear forecasting 24
steps of 3 channels, attention multiple-instance learning one bag a batch) in
``user_shapes10.py``.
``--seeds 0,1,2`` gives a row per seed: auto's pick and find's, each beside that seed's grid.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import user_shapes
import user_shapes2
import user_shapes3
import user_shapes4
import user_shapes5
import user_shapes6
import user_shapes7
import user_shapes8
import user_shapes9
import user_shapes10
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab

MNIST = os.environ.get("LRLAB_DATA", "/work/shared/data/mnist")


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from lrlab.tasks import read_idx

    x = torch.from_numpy(read_idx(f"{MNIST}/train-images-idx3-ubyte.gz")[: n_train + n_val])
    y = torch.from_numpy(read_idx(f"{MNIST}/train-labels-idx1-ubyte.gz")[: n_train + n_val])
    x = (x.float() / 255 - 0.13) / 0.31
    x = x.unsqueeze(1)
    return (TensorDataset(x[:n_train], y[:n_train].long()),
            TensorDataset(x[n_train:], y[n_train:].long()))


def bn_cnn() -> lrlab.Task:
    """A CNN with BatchNorm on 3,000 MNIST images, 3 epochs."""
    train, val = _mnist(3000, 1000)

    def model() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 49, 10))
    return lrlab.Task.from_loaders(model, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="bn-cnn")


def _tabular(n: int, seed: int, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=torch.Generator().manual_seed(99))
    return x, x @ w + torch.sin(2 * x[:, 0]) * 2 + 0.5 * x[:, 1] * x[:, 2]


def regression() -> lrlab.Task:
    """A tabular MLP regression with MSE, outputs (B, 1) against targets (B, 1), 1,000 rows,
    8 epochs."""
    x, y = _tabular(1000, 0)
    xv, yv = _tabular(400, 1)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 1))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, y[:, None]), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(xv, yv[:, None]), batch_size=400), loss=nn.MSELoss(),
        epochs=8, name="regression")


def binary() -> lrlab.Task:
    """A binary classifier, one logit (B, 1) under BCEWithLogitsLoss, 70% negatives,
    800 rows, 5 epochs."""
    x, s = _tabular(800, 2)
    xv, sv = _tabular(400, 3)
    cut = float(torch.quantile(s, 0.7))

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 1))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, (s > cut).float()[:, None]), batch_size=32,
                          shuffle=True),
        DataLoader(TensorDataset(xv, (sv > cut).float()[:, None]), batch_size=400),
        loss=nn.BCEWithLogitsLoss(), epochs=5, name="binary")


class _Docs(Dataset):
    """Bags of integer tokens; the class is which of four topic word groups dominates."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 4, (n,), generator=g)
        noise = torch.randint(40, 400, (n, 20), generator=g)
        topic = self.y[:, None] * 10 + torch.randint(0, 10, (n, 20), generator=g)
        keep = torch.rand(n, 20, generator=g) < 0.25
        self.ids = torch.where(keep, topic, noise)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i], self.y[i]


class _Bag(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(400, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids).mean(1))


def text() -> lrlab.Task:
    """An embedding-bag text classifier on integer tokens, 2,000 documents, 4 epochs."""
    return lrlab.Task.from_loaders(_Bag, DataLoader(_Docs(2000, 0), batch_size=32, shuffle=True),
                                   DataLoader(_Docs(500, 1), batch_size=250),
                                   loss=nn.CrossEntropyLoss(), epochs=4, name="text")


def dropout() -> lrlab.Task:
    """An MLP with Dropout(0.5), 4 classes, 600 rows, 2 epochs: a small task, few steps."""
    x, s = _tabular(600, 4)
    xv, sv = _tabular(400, 5)
    edges = torch.quantile(s, torch.tensor([0.25, 0.5, 0.75]))

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(12, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 4))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, torch.bucketize(s, edges)), batch_size=32,
                          shuffle=True),
        DataLoader(TensorDataset(xv, torch.bucketize(sv, edges)), batch_size=400),
        loss=nn.CrossEntropyLoss(), epochs=2, name="dropout")


def tiny_lm() -> lrlab.Task:
    """The lead's: attention over integer tokens, a model returning its own loss (dict
    batches, Hugging Face style), 1,200 sequences, 4 epochs, 64% majority class."""
    return lrlab.Task.from_loaders(_TinyLM, DataLoader(_Seqs(1200, 0), batch_size=32,
                                                       shuffle=True),
                                   DataLoader(_Seqs(400, 1), batch_size=100), loss=None,
                                   epochs=4, name="tiny-lm")


class _Seqs(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 50, (n, 12), generator=g)
        self.y = ((self.ids == 7).any(1) | (self.ids == 9).any(1)).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.y[i]}


class _Out:
    def __init__(self, loss: torch.Tensor | None, logits: torch.Tensor) -> None:
        self.loss, self.logits = loss, logits


class _TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.att = nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> _Out:
        h = self.emb(input_ids)
        h = self.norm(h + self.att(h, h, h, need_weights=False)[0])
        logits = self.head(h.mean(1))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return _Out(loss, logits)


def few_steps() -> lrlab.Task:
    """An MLP on 1,000 flattened MNIST images, batch 100, 3 epochs: 30 steps in all."""
    train, val = _mnist(1000, 1000)

    def model() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return lrlab.Task.from_loaders(model, DataLoader(train, batch_size=100, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="few-steps")


def deep_cnn() -> lrlab.Task:
    """Four convolutions without normalisation, PyTorch default init, 2,000 MNIST images,
    2 epochs."""
    train, val = _mnist(2000, 1000)

    def model() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 49, 10))
    return lrlab.Task.from_loaders(model, DataLoader(train, batch_size=32, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=2, name="deep-cnn")


def imbalanced() -> lrlab.Task:
    """Two classes, 90% negatives, two logits under cross-entropy, 1,500 rows, 4 epochs."""
    x, s = _tabular(1500, 6)
    xv, sv = _tabular(500, 7)
    cut = float(torch.quantile(s, 0.9))

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 2))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, (s > cut).long()), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(xv, (sv > cut).long()), batch_size=500),
        loss=nn.CrossEntropyLoss(), epochs=4, name="imbalanced")


def raw_targets() -> lrlab.Task:
    """A regression on unscaled targets (around 200, spread 40), outputs (B, 1), 1,000 rows,
    10 epochs."""
    x, y = _tabular(1000, 8)
    xv, yv = _tabular(400, 9)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, 200 + 10 * y[:, None]), batch_size=50, shuffle=True),
        DataLoader(TensorDataset(xv, 200 + 10 * yv[:, None]), batch_size=400),
        loss=nn.MSELoss(), epochs=10, name="raw-targets")


class _Rec(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.emb(ids))[0][:, -1])


def lstm() -> lrlab.Task:
    """nn.LSTM over 15 integer tokens: does token 3 occur more often than token 4? 1,000
    sequences, 4 epochs (trains member by member)."""
    def data(n: int, seed: int) -> TensorDataset:
        ids = torch.randint(0, 20, (n, 15), generator=torch.Generator().manual_seed(seed))
        return TensorDataset(ids, ((ids == 3).sum(1) > (ids == 4).sum(1)).long())
    return lrlab.Task.from_loaders(_Rec, DataLoader(data(1000, 10), batch_size=32, shuffle=True),
                                   DataLoader(data(400, 11), batch_size=400),
                                   loss=nn.CrossEntropyLoss(), epochs=4, name="lstm")


class _Bars(Dataset):
    """Noisy 12x12 images of three classes: a horizontal bar, a vertical bar or a 3x3 square,
    each at a random place, under Gaussian noise (dict items, as a Hugging Face dataset)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.x = torch.randn(n, 1, 12, 12, generator=g) * 0.8
        for i, c in enumerate(self.y.tolist()):
            r, q = torch.randint(2, 9, (2,), generator=g).tolist()
            shape = ((r, slice(1, 11)), (slice(1, 11), q), (slice(r, r + 3), slice(q, q + 3)))[c]
            self.x[i, 0][shape] += 1.5

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.x[i], "labels": self.y[i]}


class _BarsNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, 3)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixel_values))


def bars_cnn() -> lrlab.Task:
    """A new user's plainest CNN (one BatchNorm, average pooling) on dict batches of noisy
    bars and squares, 3 classes, 1,200 images, batch 32, 3 epochs of plain SGD."""
    return lrlab.Task.from_loaders(_BarsNet, DataLoader(_Bars(1200, 0), batch_size=32,
                                                        shuffle=True),
                                   DataLoader(_Bars(400, 1), batch_size=128),
                                   loss=nn.CrossEntropyLoss(), epochs=3, name="bars-cnn")


#: name -> (task function, optimizer, the grid's rates: low, high)
SCENARIOS = {
    "bn-cnn": (bn_cnn, "sgd", (1e-3, 3.0)),
    "regression": (regression, "sgd", (1e-4, 0.3)),
    "binary": (binary, "sgd", (1e-3, 10.0)),
    "text": (text, "sgd", (1e-2, 30.0)),
    "dropout": (dropout, "sgd", (1e-3, 3.0)),
    "tiny-lm": (tiny_lm, "sgd", (1e-2, 3.0)),
    "few-steps": (few_steps, "sgd", (1e-3, 3.0)),
    "deep-cnn": (deep_cnn, "sgd", (1e-3, 1.0)),
    "imbalanced": (imbalanced, "sgd", (1e-3, 10.0)),
    "raw-targets": (raw_targets, "sgd", (1e-6, 1e-2)),
    "lstm": (lstm, "sgd", (1e-2, 30.0)),
    "raw-targets adam": (raw_targets, "adam", (1e-4, 3.0)),
    "bn-cnn momentum": (bn_cnn, "momentum", (1e-4, 0.3)),
    "text momentum": (text, "momentum", (1e-3, 3.0)),
    "regression momentum": (regression, "momentum", (1e-5, 0.03)),
    "dropout momentum": (dropout, "momentum", (1e-4, 0.3)),
    "few-steps momentum": (few_steps, "momentum", (1e-4, 0.3)),
    "bn-cnn adam": (bn_cnn, "adam", (1e-4, 0.3)),
    "text adam": (text, "adam", (1e-4, 0.3)),
    "dropout adam": (dropout, "adam", (1e-4, 0.3)),
    "unet": (user_shapes.unet, "sgd", (1e-2, 10.0)),
    "vae": (user_shapes.vae, "sgd", (1e-3, 10.0)),
    "infonce": (user_shapes.infonce, "sgd", (1e-3, 10.0)),
    "seq2seq": (user_shapes.seq2seq, "sgd", (1e-2, 10.0)),
    "seq2seq adam": (user_shapes.seq2seq, "adam", (1e-5, 0.1)),
    "gnn": (user_shapes.gnn, "sgd", (1e-3, 10.0)),
    "multitask": (user_shapes.multitask, "sgd", (1e-3, 10.0)),
    "quantile": (user_shapes.quantile, "sgd", (1e-2, 30.0)),
    "frozen-bn": (user_shapes.frozen_bn, "sgd", (1e-2, 30.0)),
    "resnet18 momentum": (user_shapes.resnet18, "momentum", (1e-4, 1.0)),
    # session 10's (user_shapes2.py); a fourth element: the rule's hyperparameters
    "vit adamw": (user_shapes2.vit, "adamw", (1e-5, 0.1), {"weight_decay": 0.05}),
    "charlm adamw": (user_shapes2.charlm, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    "hftext": (user_shapes2.hftext, "sgd", (1e-3, 10.0)),
    "tabcat": (user_shapes2.tabcat, "sgd", (1e-3, 10.0)),
    "multilabel": (user_shapes2.multilabel, "sgd", (1e-3, 10.0)),
    "forecast": (user_shapes2.forecast, "sgd", (1e-3, 10.0)),
    "distill": (user_shapes2.distill, "sgd", (1e-3, 10.0)),
    "finetune": (user_shapes2.finetune, "sgd", (1e-3, 10.0)),
    "smooth": (user_shapes2.smooth, "sgd", (1e-3, 10.0)),
    "focal": (user_shapes2.focal, "sgd", (1e-3, 10.0)),
    "huber": (user_shapes2.huber, "sgd", (1e-3, 10.0)),
    "groupnorm momentum": (user_shapes2.groupnorm, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    # session 11's (user_shapes3.py); a fifth element: the user's schedule (auto races its
    # start, the grid trains under it; find's rising rate reads its peak) and the floor of a
    # loss that goes below zero (the table's percent excess loss is counted above it)
    "audio momentum": (user_shapes3.audio, "momentum", (1e-3, 10.0), {"momentum": 0.9}),
    "encoder adam": (user_shapes3.encoder, "adam", (1e-5, 0.1), {},
                     {"schedule": "cosine:warmup_frac=0.1"}),
    "moe adam": (user_shapes3.moe, "adam", (1e-4, 1.0)),
    "siren adam": (user_shapes3.siren, "adam", (1e-6, 0.01)),
    "poisson": (user_shapes3.poisson, "sgd", (1e-4, 1.0), {},
                {"floor": user_shapes3.poisson_floor()}),
    "triplet": (user_shapes3.triplet, "sgd", (1e-2, 100.0)),
    "mobilenet nesterov": (user_shapes3.mobilenet, "nesterov", (1e-3, 10.0), {"momentum": 0.9}),
    "resmlp adamw": (user_shapes3.resmlp, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    # session 12's (user_shapes4.py); the fifth element may also clip (``clip_grad_norm``:
    # auto, find and the grid all clip)
    "resnet-wd momentum": (user_shapes4.resnet_wd, "momentum", (1e-3, 10.0),
                           {"momentum": 0.9, "weight_decay": 5e-4}, {"schedule": "cosine"}),
    "gpt adamw": (user_shapes4.gpt, "adamw", (1e-5, 0.1), {"weight_decay": 0.1, "beta2": 0.95},
                  {"schedule": "cosine:warmup_frac=0.1"}),
    "rowgru adam": (user_shapes4.rowgru, "adam", (1e-5, 0.1), {}, {"clip_grad_norm": 1.0}),
    "weighted": (user_shapes4.weighted, "sgd", (1e-3, 10.0)),
    "denoise adam": (user_shapes4.denoise, "adam", (1e-5, 0.1)),
    "deepsets": (user_shapes4.deepsets, "sgd", (1e-3, 10.0)),
    "dictout momentum": (user_shapes4.dictout, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    # session 13's (user_shapes5.py)
    "prenorm adamw": (user_shapes5.prenorm, "adamw", (1e-5, 0.1), {"weight_decay": 0.05}),
    "tcn momentum": (user_shapes5.tcn, "momentum", (1e-4, 1.0),
                     {"momentum": 0.9, "weight_decay": 1e-3}),
    "clicks adamw": (user_shapes5.clicks, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    "rmsnet rmsprop": (user_shapes5.rmsnet, "rmsprop", (1e-5, 0.1)),
    "auxnet momentum": (user_shapes5.auxnet, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "gaussnll adam": (user_shapes5.gaussnll, "adam", (1e-5, 0.1), {},
                      {"floor": user_shapes5.gaussnll_floor()}),
    "clicks adagrad": (user_shapes5.clicks, "adagrad", (1e-4, 1.0)),
    "lora adamw": (user_shapes5.lora, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    # session 14's (user_shapes6.py)
    "convnext adamw": (user_shapes6.convnext, "adamw", (1e-5, 0.1), {"weight_decay": 0.05}),
    "seresnet nesterov": (user_shapes6.seresnet, "nesterov", (1e-3, 10.0),
                          {"momentum": 0.9, "weight_decay": 5e-4}, {"schedule": "onecycle"}),
    "tiedae": (user_shapes6.tiedae, "sgd", (1e-2, 100.0)),
    "patchenc adam": (user_shapes6.patchenc, "adam", (1e-5, 0.1)),
    "specnorm adam": (user_shapes6.specnorm, "adam", (1e-5, 0.1)),
    "melcnn momentum": (user_shapes6.melcnn, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "bf16 adamw": (user_shapes6.bf16, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    "hashed": (user_shapes6.hashed, "sgd", (1e-3, 10.0)),
    # session 14's (user_shapes7.py)
    "mlm adamw": (user_shapes7.mlm, "adamw", (1e-5, 0.1), {"weight_decay": 0.01}),
    "ctc adam": (user_shapes7.ctc, "adam", (1e-5, 0.1)),
    "tagger momentum": (user_shapes7.tagger, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "diffusion adam": (user_shapes7.diffusion, "adam", (1e-5, 0.1)),
    "ranking": (user_shapes7.ranking, "sgd", (1e-3, 10.0)),
    "grulm adam": (user_shapes7.grulm, "adam", (1e-5, 0.1)),
    # session 15's (user_shapes8.py)
    "mixup momentum": (user_shapes8.mixup, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "mixer adamw": (user_shapes8.mixer, "adamw", (1e-4, 1.0), {"weight_decay": 0.05},
                    {"schedule": "cosine:warmup_frac=0.1"}),
    "double": (user_shapes8.double, "sgd", (1e-3, 10.0)),
    "sparse": (user_shapes8.sparse, "sgd", (1e-2, 100.0)),
    "sparse adam": (user_shapes8.sparse, "adam", (1e-5, 0.1)),
    "gat adam": (user_shapes8.gat, "adam", (1e-4, 1.0), {"weight_decay": 5e-4}),
    "droppath momentum": (user_shapes8.droppath, "momentum", (1e-4, 1.0),
                          {"momentum": 0.9, "weight_decay": 5e-4}),
    "bigbatch adam": (user_shapes8.bigbatch, "adam", (1e-5, 0.1)),
    "noisy": (user_shapes8.noisy, "sgd", (1e-3, 10.0)),
    "mdn adam": (user_shapes8.mdn, "adam", (1e-5, 0.1), {}, {"floor": user_shapes8.mdn_floor()}),
    # session 15's: a new user's plainest BatchNorm CNN, 3 epochs of SGD (above)
    "bars-cnn": (bars_cnn, "sgd", (1e-2, 10.0)),
    # session 16's (user_shapes9.py)
    "fusion momentum": (user_shapes9.fusion, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "clip adamw": (user_shapes9.clip, "adamw", (1e-4, 1.0), {"weight_decay": 0.1}),
    "ordinal": (user_shapes9.ordinal, "sgd", (1e-3, 10.0)),
    "arcface momentum": (user_shapes9.arcface, "momentum", (1e-6, 1e-2),
                         {"momentum": 0.9, "weight_decay": 5e-4}),
    "dwsep adam": (user_shapes9.dwsep, "adam", (1e-5, 0.1)),
    "dice adam": (user_shapes9.dice, "adam", (1e-5, 0.1)),
    "runnorm": (user_shapes9.runnorm, "sgd", (1e-3, 10.0)),
    "loopgru adam": (user_shapes9.loopgru, "adam", (1e-5, 0.1)),
    "padlm adamw": (user_shapes9.padlm, "adamw", (1e-5, 0.1),
                    {"weight_decay": 0.1, "beta2": 0.95}, {"clip_grad_norm": 1.0}),
    "example momentum": (user_shapes9.example, "momentum", (1e-4, 1.0), {"momentum": 0.5},
                         {"schedule": "step:every=1,factor=0.7"}),
    # session 17's (user_shapes10.py)
    "stream": (user_shapes10.stream, "sgd", (1e-3, 10.0)),
    "probe momentum": (user_shapes10.probe, "momentum", (1e-3, 10.0), {"momentum": 0.9}),
    "unused adam": (user_shapes10.unused, "adam", (1e-5, 0.1)),
    "cvae adam": (user_shapes10.cvae, "adam", (1e-5, 0.1)),
    "tags adamw": (user_shapes10.tags, "adamw", (1e-4, 1.0), {"weight_decay": 0.01}),
    "pinball adam": (user_shapes10.pinball, "adam", (1e-4, 1.0)),
    "wnorm momentum": (user_shapes10.wnorm, "momentum", (1e-4, 1.0), {"momentum": 0.9}),
    "sampleweight": (user_shapes10.sampleweight, "sgd", (1e-3, 10.0)),
    "horizon adam": (user_shapes10.horizon, "adam", (1e-5, 0.1)),
    "mil adam": (user_shapes10.mil, "adam", (1e-5, 0.1)),
}


def _regret(score, lr: float, best: float, higher: bool, floor: float = 0.0) -> float:
    """Accuracy points below the grid's best, or percent excess loss above ``floor`` (the
    loss of a perfect model, where the loss goes below zero; the grid's worst score for a
    rate that is not finite or not given)."""
    mine = float(score[lr]) if math.isfinite(lr) else math.nan
    if not math.isfinite(mine):
        mine = float(score.min() if higher else score.max())
    return 100 * (best - mine) if higher else 100 * ((mine - floor) / (best - floor) - 1)


def _scenario(name: str) -> tuple:
    """``(task function, rule settings, (low, high), schedule settings, floor)`` of a
    scenario: the schedule goes to auto (``schedule``) and to the grid (``schedules``); a
    ``clip_grad_norm`` joins the rule's settings (auto, find and the grid clip alike)."""
    make, optimizer, span, *more = SCENARIOS[name]
    rule = {"optimizer": optimizer} | ({"hparams": more[0]} if more and more[0] else {})
    own = more[1] if len(more) > 1 else {}
    rule |= {k: own[k] for k in ("clip_grad_norm",) if k in own}
    schedule = own.get("schedule")
    return make, rule, span, ({"schedule": schedule} if schedule else {}), own.get("floor", 0.0)


def _finders(make, rule: dict, schedule: dict, span: tuple[float, float], grid: int,
             **seed: int) -> tuple:
    """``auto`` (and its wall seconds) and the range test as ``lrlab find`` runs it on a
    fresh task from ``make`` (from ``seed``, where given), the ``grid`` log-spaced rates over
    ``span`` and the two picks: ``(result, seconds, test, found, rates, picks)``."""
    start = time.perf_counter()
    result = lrlab.search.auto(make(), **seed, **rule, **schedule)
    seconds = time.perf_counter() - start
    test = lrlab.search.range_test(make(), **rule, **seed, steps=100, validate=False,
                                   extend=True)
    found = test.suggestion.lr
    rates = {float(f"{v:.3g}") for v in np.geomspace(*span, grid)}
    picks = {result.lr} | ({found} if math.isfinite(found) else set())
    return result, seconds, test, found, rates, picks


def _grid_best(score: pd.Series, rates: set[float], higher: bool) -> tuple[float, float]:
    """The grid's best rate among ``rates`` by ``score`` (per rate), and its score."""
    on_grid = score[[r for r in score.index if r in rates]]
    best_lr = float(on_grid.idxmax() if higher else on_grid.idxmin())
    return best_lr, float(score[best_lr])


def run(name: str, grid: int, seeds: tuple[int, ...] = (0, 1)) -> dict:
    """auto and find's suggestion on one scenario, then both picks beside a ``grid``-rate
    grid, each rate trained for the full epochs from every one of ``seeds``."""
    make, rule, span, schedule, floor = _scenario(name)
    result, seconds, test, found, rates, picks = _finders(make, rule, schedule, span, grid)
    swept = lrlab.sweep(make(), lrs=sorted(rates | picks), seeds=list(seeds), **rule,
                        schedules=list(schedule.values()) or ["constant"])
    score = swept.summary().groupby("lr")[f"best_val_{swept.monitor}"].mean()
    higher = swept.higher_is_better
    best_lr, best = _grid_best(score, rates, higher)
    return {"scenario": name, "pick": result.lr,
            "regret": _regret(score, result.lr, best, higher, floor),
            "warned": bool(result.confidence.warnings), "found": found,
            "find regret": _regret(score, found, best, higher, floor),
            "find warned": bool(test.warnings) or not math.isfinite(found),
            "grid best": best_lr, "best score": best, "unit": "pt" if higher else "%",
            "auto s": seconds, "warnings": result.confidence.warnings,
            "explanation": result.explanation}


def _seed_scores(name: str, seed: int, lrs: set[float], cache: str | None = None
                 ) -> tuple[dict[float, float], bool]:
    """Each rate's best validation score on scenario ``name``, trained for the full epochs
    from ``seed`` under the scenario's schedule (every rate of ``lrs``, and any more the
    ``cache`` JSON file holds for that seed), and whether higher is better. The rates
    ``cache`` lacks are trained and added to it (a member's training does not depend on the
    others in its population)."""
    import json

    make, rule, _, schedule, _ = _scenario(name)
    known = json.loads(Path(cache).read_text()) if cache and os.path.exists(cache) else {}
    mine = known.setdefault(f"{name} s{seed}", {})
    todo = sorted(r for r in lrs if repr(r) not in mine)
    if todo:
        swept = lrlab.sweep(make(), lrs=todo, seeds=[seed], **rule,
                            schedules=list(schedule.values()) or ["constant"])
        best_val = swept.summary().groupby("lr")[f"best_val_{swept.monitor}"].mean()
        mine.update({repr(float(r)): float(v) for r, v in best_val.items()})
        mine["higher"] = swept.higher_is_better
        if cache:
            Path(cache).write_text(json.dumps(known, indent=1))
    return ({float(k): v for k, v in mine.items() if k != "higher"}, bool(mine["higher"]))


def run_seeds(name: str, grid: int, seeds: tuple[int, ...], cache: str | None = None
              ) -> list[dict]:
    """auto's pick and find's suggestion (the range test as ``lrlab find`` runs it) from each
    of ``seeds`` beside that seed's ``grid``-rate grid (each rate trained for the full epochs
    from that seed, under the scenario's schedule): one row per seed. With ``cache`` (a JSON
    file), each rate's best validation score is kept there by scenario, seed and rate, so a
    rerun trains only the rates it has not seen (a member's training does not depend on the
    others in its population)."""
    make, rule, span, schedule, floor = _scenario(name)
    rows = []
    for seed in seeds:
        result, seconds, test, found, rates, picks = _finders(make, rule, schedule, span, grid,
                                                              seed=seed)
        mine, higher = _seed_scores(name, seed, rates | picks, cache)
        score = pd.Series(mine)
        best_lr, best = _grid_best(score, rates, higher)
        rows.append({"scenario": name, "seed": seed, "pick": result.lr,
                     "regret": _regret(score, result.lr, best, higher, floor),
                     "warned": bool(result.confidence.warnings),
                     "kinds": result.confidence.kinds, "grid best": best_lr,
                     "best score": best, "unit": "pt" if higher else "%",
                     "compute": result.compute, "grid compute": 16 * make().epochs,
                     "auto s": seconds, "found": found,
                     "find regret": _regret(score, found, best, higher, floor),
                     "find kinds": test.kinds if math.isfinite(found) else ("no rate",),
                     "explanation": result.explanation,
                     "warnings": result.confidence.warnings, "find warnings": test.warnings,
                     "grid": {lr: float(score[lr]) for lr in sorted(score.index)}})
    return rows


def scenario_names(parser: argparse.ArgumentParser, only: str) -> list[str]:
    """The scenarios a script's ``--only`` lists (a comma list; empty: every one), or the
    parser's one-line error naming the first it does not know."""
    names = [n.strip() for n in only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"no scenario {unknown[0]!r}; new_user.py's SCENARIOS lists them")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma list of scenarios")
    parser.add_argument("--grid", type=int, default=8, help="grid rates (log-spaced)")
    parser.add_argument("--verbose", action="store_true", help="print auto's explanation")
    parser.add_argument("--seeds", default="", help="comma list: auto from each seed beside "
                        "that seed's grid, one row per seed (run_seeds)")
    parser.add_argument("--cache", default=None, help="with --seeds: a JSON file keeping the "
                        "grids' scores between runs")
    args = parser.parse_args()
    names = scenario_names(parser, args.only)
    if args.seeds:
        print("| scenario | seed | auto | regret | warned (kinds) | compute (% of a 16-rate grid) "
              "| find | regret | warned (kinds) | grid best (score) |")
        print("| :-- | --: | --: | --: | :-- | --: | --: | --: | :-- | --: |")
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows = run_seeds(name, args.grid, tuple(int(v) for v in args.seeds.split(",")),
                                 args.cache)
            for r in rows:
                print(f"| {name} | {r['seed']} | {r['pick']:.3g} | {r['regret']:.1f} {r['unit']} "
                      f"| {', '.join(r['kinds']) or 'no'} | "
                      f"{100 * r['compute'] / r['grid compute']:.1f} | {r['found']:.3g} | "
                      f"{r['find regret']:.1f} {r['unit']} | "
                      f"{', '.join(r['find kinds']) or 'no'} | "
                      f"{r['grid best']:.3g} ({r['best score']:.4g}) |", flush=True)
                if args.verbose:
                    print("   ", r["explanation"])
                    for w in r["warnings"]:
                        print("    warning:", w)
                    for w in r["find warnings"]:
                        print("    find warning:", w)
                    print("    grid:", ", ".join(f"{lr:.3g} {v:.4g}"
                                                 for lr, v in r["grid"].items()))
        return
    print("| scenario | auto | regret | warned | find | regret | warned | grid best (score) |")
    print("| :-- | --: | --: | :-- | --: | --: | :-- | --: |")
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = run(name, args.grid)
        yes = {True: "yes", False: "no"}
        print(f"| {name} | {r['pick']:.3g} | {r['regret']:.1f} {r['unit']} | {yes[r['warned']]} "
              f"| {r['found']:.3g} | {r['find regret']:.1f} {r['unit']} | "
              f"{yes[r['find warned']]} | {r['grid best']:.3g} ({r['best score']:.4g}) |",
              flush=True)
        if args.verbose:
            print("   ", r["explanation"])
            for w in r["warnings"]:
                print("    warning:", w)


if __name__ == "__main__":
    main()
