"""Nine more shapes and set-ups users train (session 15), each a ``Task`` over DataLoaders as
its user would write it: a CNN on mixup batches, whose training targets are float class
probabilities (the mixing in the loader's ``collate_fn``) under ``nn.CrossEntropyLoss``, scored
on hard validation labels (momentum 0.9), an MLP-Mixer over 7x7 patches (AdamW, a warm-up
cosine), a model kept in float64 (``model.double()``, float64 data: a physicist's fit;
SGD), a bag-of-words classifier whose ``nn.Embedding(sparse=True)`` yields sparse gradients
(SGD), a graph attention network trained full-batch on one graph (one step an epoch, the
labels of unlabelled nodes -100; Adam), a residual CNN with stochastic depth in
``channels_last`` memory format (momentum 0.9, weight decay 5e-4), a tabular classifier at
batch 512 on 5,000 rows (Adam), an MLP on MNIST with 30% of its training labels flipped at
random (SGD; validated on clean labels) and a mixture density network on a two-branched
target, trained by its own negative log-likelihood (``model_loss``; Adam).

``new_user.py`` registers each as a scenario (``python new_user.py --only "mixup momentum"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes8:mixup --optimizer momentum --momentum 0.9``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. The images are the first MNIST
images (``/work/shared/data/mnist``, or ``$LRLAB_DATA``); the rest is drawn from fixed seeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


def _small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 49, 10))


# --- mixup: float probability targets for a classifier ------------------------------------

class Mixup:
    """A ``collate_fn`` mixing each batch with its reversal by a Beta(alpha, alpha) weight
    drawn per batch: images ``lam * x + (1 - lam) * x.flip(0)``, targets the same mix of the
    one-hot labels ``(B, 10)`` (what ``nn.CrossEntropyLoss`` takes as class probabilities)."""

    def __init__(self, alpha: float = 0.4, classes: int = 10) -> None:
        self.beta = torch.distributions.Beta(alpha, alpha)
        self.classes = classes

    def __call__(self, items: list) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([x for x, _ in items])
        y = F.one_hot(torch.stack([y for _, y in items]), self.classes).float()
        lam = float(self.beta.sample())
        return lam * x + (1 - lam) * x.flip(0), lam * y + (1 - lam) * y.flip(0)


def mixup() -> lrlab.Task:
    """3,000 MNIST images, batch 64, 4 epochs; mixup in training, hard labels in validation
    (momentum 0.9)."""
    train, val = _mnist(3000, 1000)
    return lrlab.Task.from_loaders(
        _small_cnn, DataLoader(train, batch_size=64, shuffle=True, collate_fn=Mixup()),
        DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(), epochs=4, name="mixup")


# --- an MLP-Mixer: token-mixing and channel-mixing MLPs over patches ------------------------

class _MixerBlock(nn.Module):
    def __init__(self, tokens: int, width: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.tokens = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(),
                                    nn.Linear(2 * tokens, tokens))
        self.channels = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                      nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, tokens, width)
        x = x + self.tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channels(self.norm2(x))


class Mixer(nn.Module):
    """A 7x7 patch stem (a strided convolution) to 16 tokens of width 32, two mixer blocks,
    a LayerNorm, mean over tokens, a linear head."""

    def __init__(self, width: int = 32, depth: int = 2) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, width, 7, stride=7)
        self.blocks = nn.Sequential(*[_MixerBlock(16, width) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(h)).mean(1))


def mixer() -> lrlab.Task:
    """1,500 MNIST images, batch 32, 3 epochs (AdamW, weight decay 0.05, cosine with a 10%
    warm-up)."""
    train, val = _mnist(1500, 1000)
    return lrlab.Task.from_loaders(Mixer, DataLoader(train, batch_size=32, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="mixer")


# --- a model kept in float64 --------------------------------------------------------------

def _field(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of the square [-1, 1]^2 and a smooth field on them (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 1
    u = torch.sin(math.pi * x[:, :1]) * torch.cos(2 * x[:, 1:]) + 0.3 * x[:, :1] * x[:, 1:]
    return x, u


def _double_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                         nn.Linear(64, 1)).double()


def double() -> lrlab.Task:
    """A tanh MLP fitting a field, ``model.double()`` and float64 data as a physicist keeps
    them: 2,000 points, batch 32, 8 epochs, MSE (SGD)."""
    x, u = _field(2000, 0)
    xv, uv = _field(500, 1)
    return lrlab.Task.from_loaders(
        _double_mlp, DataLoader(TensorDataset(x, u), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(xv, uv), batch_size=500), loss=nn.MSELoss(), epochs=8,
        name="double")


# --- a sparse embedding: nn.Embedding(sparse=True) -----------------------------------------

class _Reviews(Dataset):
    """Reviews of 30 word ids out of 5,000; sentiment is the balance of 100 positive (ids
    0-99) against 100 negative (100-199) words, the rest neutral."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        words = torch.randint(200, 5000, (n, 30), generator=g)
        polar = torch.randint(0, 100, (n, 30), generator=g) + 100 * (1 - self.y[:, None])
        flip = torch.rand(n, 30, generator=g) < 0.3  # a share of the polar words disagree
        polar = torch.where(flip, (polar + 100) % 200, polar)
        self.ids = torch.where(torch.rand(n, 30, generator=g) < 0.2, polar, words)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i], self.y[i]


class SparseBag(nn.Module):
    """A sparse-gradient embedding (what a large-vocabulary user sets), mean-pooled, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5000, 32, sparse=True)
        self.head = nn.Linear(32, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids).mean(1))


def sparse() -> lrlab.Task:
    """3,000 reviews, batch 32, 4 epochs (SGD; torch's SGD takes sparse gradients)."""
    return lrlab.Task.from_loaders(SparseBag, DataLoader(_Reviews(3000, 0), batch_size=32,
                                                         shuffle=True),
                                   DataLoader(_Reviews(1000, 1), batch_size=500),
                                   loss=nn.CrossEntropyLoss(), epochs=4, name="sparse")


# --- a graph attention network, full-batch on one graph -------------------------------------

def _citations(nodes: int = 300, classes: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """A stochastic block graph (a node links mostly within its class) with noisy
    bag-of-words features; 20 labelled training nodes a class, 200 validation nodes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (nodes,), generator=g)
    same = y[:, None] == y[None, :]
    p = torch.where(same, torch.tensor(0.03), torch.tensor(0.004))
    adj = torch.rand(nodes, nodes, generator=g) < p
    adj = (adj | adj.T | torch.eye(nodes, dtype=torch.bool)).float()
    words = torch.rand(classes, 100, generator=g) < 0.1
    feats = ((torch.rand(nodes, 100, generator=g) < 0.05)
             | (words[y] & (torch.rand(nodes, 100, generator=g) < 0.3))).float()
    order = torch.randperm(nodes, generator=g)
    train = torch.cat([order[y[order] == c][:20] for c in range(classes)])
    rest = order[~torch.isin(order, train)]
    val = rest[:200]
    labels_train = torch.full((nodes,), -100)
    labels_train[train] = y[train]
    labels_val = torch.full((nodes,), -100)
    labels_val[val] = y[val]
    return {"x": feats, "adj": adj, "train": labels_train, "val": labels_val}


class _OneGraph(Dataset):
    """The whole graph as the one item of a dataset, with one split's labels."""

    def __init__(self, graph: dict, split: str) -> None:
        self.graph, self.split = graph, split

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> dict:
        return {"x": self.graph["x"], "adj": self.graph["adj"], "labels": self.graph[self.split]}


def _whole(items: list[dict]) -> dict:
    (item,) = items
    return item


class _GATLayer(nn.Module):
    """Dense graph attention: scores LeakyReLU(a . [W h_i, W h_j]) over neighbours, softmax,
    heads concatenated (or averaged in the last layer)."""

    def __init__(self, d_in: int, d_out: int, heads: int, concat: bool = True) -> None:
        super().__init__()
        self.heads, self.d_out, self.concat = heads, d_out, concat
        self.w = nn.Linear(d_in, heads * d_out, bias=False)
        self.a_src = nn.Parameter(torch.randn(heads, d_out) * 0.1)
        self.a_dst = nn.Parameter(torch.randn(heads, d_out) * 0.1)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = self.w(x).view(-1, self.heads, self.d_out)  # (N, H, D)
        e = (h * self.a_dst).sum(-1).T[:, :, None] + (h * self.a_src).sum(-1).T[:, None, :]
        e = F.leaky_relu(e, 0.2).masked_fill(adj[None] == 0, float("-inf"))
        att = F.dropout(e.softmax(-1), 0.3, self.training)  # (H, N, N)
        out = torch.einsum("hij,jhd->ihd", att, h)
        return out.flatten(1) if self.concat else out.mean(1)


class GAT(nn.Module):
    """Two GAT layers (4 heads of 8, then one averaged head to the classes), ELU, dropout
    on the features, as the GAT paper's citation set-up (which has 8 heads)."""

    def __init__(self, d_in: int = 100, classes: int = 5) -> None:
        super().__init__()
        self.l1 = _GATLayer(d_in, 8, 4)
        self.l2 = _GATLayer(32, classes, 1, concat=False)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = F.elu(self.l1(F.dropout(x, 0.5, self.training), adj))
        return self.l2(F.dropout(h, 0.5, self.training), adj)


def gat() -> lrlab.Task:
    """300 nodes, 100 labelled, full-batch: one step an epoch, 60 epochs (Adam, weight
    decay 5e-4)."""
    graph = _citations()
    return lrlab.Task.from_loaders(
        GAT, DataLoader(_OneGraph(graph, "train"), batch_size=1, collate_fn=_whole),
        DataLoader(_OneGraph(graph, "val"), batch_size=1, collate_fn=_whole),
        loss=nn.CrossEntropyLoss(), epochs=60, name="gat")


# --- stochastic depth in channels_last ------------------------------------------------------

class _DropPathBlock(nn.Module):
    """x + drop_path(conv-BN-ReLU-conv-BN(x)), each sample's branch kept with probability
    ``1 - p`` in training and scaled by its inverse (stochastic depth, per sample)."""

    def __init__(self, width: int, p: float) -> None:
        super().__init__()
        self.p = p
        self.branch = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(width), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.branch(x)
        if self.training and self.p > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.p
            h = h * keep / (1 - self.p)
        return F.relu(x + h)


class DropPathNet(nn.Module):
    """A stem (a strided convolution and max pooling to 7x7), three residual blocks with drop
    rates 0.05, 0.1, 0.15, pooling, a head; built
    in ``channels_last`` memory format (``model.to(memory_format=torch.channels_last)``)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(*[_DropPathBlock(width, p) for p in (0.05, 0.1, 0.15)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.blocks(self.stem(x)))


def _droppath_net() -> nn.Module:
    return DropPathNet().to(memory_format=torch.channels_last)


def droppath() -> lrlab.Task:
    """2,000 MNIST images, batch 32, 3 epochs (momentum 0.9, weight decay 5e-4)."""
    train, val = _mnist(2000, 500)
    return lrlab.Task.from_loaders(_droppath_net, DataLoader(train, batch_size=32, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="droppath")


# --- a large batch on small data ------------------------------------------------------------

def _cover(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tabular rows (20 features) and one of 6 classes by the region they fall in."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    w = torch.randn(20, 6, generator=torch.Generator().manual_seed(95))
    score = x @ w + 1.5 * torch.sin(2 * x[:, :6]) + 0.5 * torch.randn(n, 6, generator=g)
    return x, score.argmax(1)


def bigbatch() -> lrlab.Task:
    """5,000 rows at batch 512 (10 steps an epoch), 10 epochs, a 3-layer MLP (Adam)."""
    x, y = _cover(5000, 0)
    xv, yv = _cover(1000, 1)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                             nn.Linear(128, 6))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, y), batch_size=512, shuffle=True),
        DataLoader(TensorDataset(xv, yv), batch_size=1000), loss=nn.CrossEntropyLoss(),
        epochs=10, name="bigbatch")


# --- label noise -----------------------------------------------------------------------------

def noisy() -> lrlab.Task:
    """3,000 MNIST images, 30% of the training labels replaced by a random class (validation
    clean), an MLP, batch 32, 4 epochs (SGD)."""
    train, val = _mnist(3000, 1000)
    x, y = train.tensors
    g = torch.Generator().manual_seed(97)
    flip = torch.rand(len(y), generator=g) < 0.3
    y = torch.where(flip, torch.randint(0, 10, (len(y),), generator=g), y)

    def model() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return lrlab.Task.from_loaders(model, DataLoader(TensorDataset(x, y), batch_size=32,
                                                     shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=4, name="noisy")


# --- a mixture density network: its own negative log-likelihood -----------------------------

def _branches(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x in [-1, 1]; y on one of two branches, +f(x) or -f(x) with even odds, f(x) = 1.5
    sin(2.5 x) + 0.5, plus noise of std 0.1 + 0.2 |x|: a target no single Gaussian fits.
    Also f and the noise's std, for the true density."""
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 1, generator=g) - 1
    f = 1.5 * torch.sin(2.5 * x) + 0.5
    std = 0.1 + 0.2 * x.abs()
    sign = torch.where(torch.rand(n, 1, generator=g) < 0.5, 1.0, -1.0)
    return x, sign * f + std * torch.randn(n, 1, generator=g), f, std


class MDN(nn.Module):
    """An MLP giving three Gaussian components: mixing logits, means and log-stds."""

    def __init__(self, components: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())
        self.out = nn.Linear(64, 3 * components)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, mean, log_std = self.out(self.body(x)).chunk(3, dim=-1)
        return logits, mean, log_std.clamp(-7, 5)


def _mixture_nll(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    logits, mean, log_std = model(x)
    log_p = (-0.5 * ((y - mean) / log_std.exp()) ** 2 - log_std
             - 0.5 * math.log(2 * math.pi))
    return -(torch.logsumexp(F.log_softmax(logits, -1) + log_p, -1)).mean()


def mdn() -> lrlab.Task:
    """2,000 rows, batch 64, 8 epochs, ranked by the validation NLL (Adam)."""
    x, y, _, _ = _branches(2000, 0)
    xv, yv, _, _ = _branches(600, 1)
    return lrlab.Task.from_loaders(MDN, DataLoader(TensorDataset(x, y), batch_size=64,
                                                   shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=600),
                                   loss=lrlab.search.model_loss(_mixture_nll), epochs=8,
                                   name="mdn")


def mdn_floor() -> float:
    """The validation NLL of the true density (the two branches' even mixture): the table
    reports ``mdn``'s regret as percent excess loss above it."""
    _, y, f, std = _branches(600, 1)
    normal = torch.distributions.Normal
    log_p = torch.logsumexp(torch.stack([normal(f, std).log_prob(y), normal(-f, std).log_prob(y)])
                            + math.log(0.5), 0)
    return float(-log_p.mean())
