"""Ten more shapes and set-ups users train (session 17), each a ``Task`` over DataLoaders as its
user would write it: a streaming ``IterableDataset`` with no ``__len__`` (shards read in
turn through a shuffle buffer; SGD), a linear probe on a frozen pretrained CNN (every
backbone parameter ``requires_grad=False``, its BatchNorm still in training mode; momentum
0.9), a net with a branch whose parameters never get a gradient (an auxiliary head the
forward skips; Adam), a convolutional VAE under its own ELBO (a Gaussian decoder, the KL
term; Adam), multi-label tagging of padded token lists, one 0/1 target per tag with rare
tags, ``BCEWithLogitsLoss(pos_weight=...)`` (AdamW), one quantile (0.9) of a skewed target
under a pinball loss module on ``(B,)`` outputs (Adam), weight normalisation through
``torch.nn.utils.parametrizations.weight_norm`` (momentum 0.9), ``(x, y, sample_weight)``
triples under a weighted cross-entropy (SGD), multi-step forecasting of three channels, 24
steps ahead, by a DLinear-style trend-and-remainder model on ``(B, L, C)`` windows (Adam),
and attention multiple-instance learning over bags of 3-12 images, one bag a batch (Adam).

``new_user.py`` registers each as a scenario (``python new_user.py --only "probe momentum"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes10:probe --optimizer momentum --momentum 0.9``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. The images are the first MNIST
images (``/work/shared/data/mnist``, or ``$LRLAB_DATA``) or scikit-learn's digits; the rest
is drawn from fixed seeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from user_shapes2 import _digits

import lrlab
from lrlab.search import model_loss


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


# --- a streaming IterableDataset with no __len__ --------------------------------------------

class Shards(IterableDataset):
    """The digits cut into shards, read one shard after another through a shuffle buffer of
    ``buffer`` examples (drawn from torch's global generator), as a web-dataset or a
    file-per-shard stream is read: no ``__len__``, no indexing."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, shards: int = 8,
                 buffer: int = 128) -> None:
        self.shards = list(zip(x.chunk(shards), y.chunk(shards)))
        self.buffer = buffer

    def __iter__(self):
        held: list = []
        for i in torch.randperm(len(self.shards)).tolist():
            for pair in zip(*self.shards[i]):
                held.append(pair)
                if len(held) >= self.buffer:
                    yield held.pop(int(torch.randint(len(held), ())))
        while held:
            yield held.pop(int(torch.randint(len(held), ())))


def stream() -> lrlab.Task:
    """1,300 digits streamed in 8 shards, batch 32, an MLP, 6 epochs (SGD); validation a
    plain loader."""
    x, y = _digits()

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    return lrlab.Task.from_loaders(model, DataLoader(Shards(x[:1300], y[:1300]), batch_size=32),
                                   DataLoader(TensorDataset(x[1300:], y[1300:]), batch_size=250),
                                   loss=nn.CrossEntropyLoss(), epochs=6, name="stream")


# --- a linear probe on a frozen pretrained backbone -----------------------------------------

_BACKBONE: dict[str, torch.Tensor] = {}


def _backbone() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                         nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _pretrained() -> dict[str, torch.Tensor]:
    """The backbone trained 300 Adam steps on MNIST digits 0-4 (images 3,000-9,000; once per
    process), as a checkpoint a user downloads."""
    if not _BACKBONE:
        train, _ = _mnist(9000, 0)
        x, y = train.tensors
        x, y = x[3000:], y[3000:]
        x, y = x[y < 5], y[y < 5]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(17)
            net = nn.Sequential(_backbone(), nn.Linear(64, 5))
            opt = torch.optim.Adam(net.parameters(), 3e-3)
            for _ in range(300):
                i = torch.randint(0, len(y), (64,))
                opt.zero_grad()
                F.cross_entropy(net(x[i]), y[i]).backward()
                opt.step()
        _BACKBONE.update({k: v.detach().clone() for k, v in net[0].state_dict().items()})
    return _BACKBONE


class Probe(nn.Module):
    """The pretrained backbone, every parameter frozen (its BatchNorm left in training mode,
    so its running statistics still move), and a new linear head for digits 5-9."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = _backbone()
        self.backbone.load_state_dict(_pretrained())
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(64, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def probe() -> lrlab.Task:
    """MNIST digits 5-9 from the first 3,000 images (1,000 to train, about 450 to validate),
    batch 32, 3 epochs (momentum 0.9)."""
    train, _ = _mnist(3000, 0)
    x, y = train.tensors
    keep = y >= 5
    x, y = x[keep], y[keep] - 5
    return lrlab.Task.from_loaders(
        Probe, DataLoader(TensorDataset(x[:1000], y[:1000]), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(x[1000:], y[1000:]), batch_size=250),
        loss=nn.CrossEntropyLoss(), epochs=3, name="probe")


# --- a branch whose parameters get no gradient ------------------------------------------------

class WithUnused(nn.Module):
    """An MLP classifier with a reconstruction decoder the user added for later and never
    calls: its parameters are in ``parameters()`` and never get a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU())
        self.classifier = nn.Linear(32, 10)
        self.decoder = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encoder(x))


def unused() -> lrlab.Task:
    """1,300 digits, batch 32, 6 epochs (Adam)."""
    x, y = _digits()
    return lrlab.Task.from_loaders(
        WithUnused, DataLoader(TensorDataset(x[:1300], y[:1300]), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(x[1300:], y[1300:]), batch_size=250),
        loss=nn.CrossEntropyLoss(), epochs=6, name="unused")


# --- a convolutional VAE under its own ELBO ---------------------------------------------------

class ConvVAE(nn.Module):
    """A strided conv encoder to a 16-d Gaussian posterior, a transposed-conv decoder; returns
    a dict of the reconstruction (the Gaussian decoder's mean), ``mu`` and ``logvar``."""

    def __init__(self, latent: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(32 * 49, latent)
        self.logvar = nn.Linear(32 * 49, latent)
        self.expand = nn.Linear(latent, 32 * 49)
        self.decoder = nn.Sequential(nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
                                     nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(16, 1, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return {"recon": self.decoder(self.expand(z)), "mu": mu, "logvar": logvar}


def _elbo(model: nn.Module, batch) -> torch.Tensor:
    """The negative ELBO per image: a unit-variance Gaussian's squared error (halved, summed
    over pixels) plus the KL to N(0, I)."""
    x, _ = batch
    out = model(x)
    rec = 0.5 * (out["recon"] - x).pow(2).flatten(1).sum(1)
    kl = -0.5 * (1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp()).sum(1)
    return (rec + kl).mean()


def cvae() -> lrlab.Task:
    """1,500 MNIST images (standardised), batch 64, 4 epochs (Adam)."""
    train, val = _mnist(1500, 500)
    return lrlab.Task.from_loaders(ConvVAE, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=250), loss=model_loss(_elbo),
                                   epochs=4, name="cvae")


# --- multi-label tagging: padded token lists, multi-hot targets, pos_weight ------------------

class Tagged(Dataset):
    """Token lists of 6-20 ids (1-199; 0 pads) and 12 tags, each on when any of its three
    trigger words occurs: 0-4 tags an item, tag k on in about 4-25% of the items."""

    def __init__(self, n: int, seed: int, tags: int = 12) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items, self.tags = [], []
        rare = torch.linspace(0.04, 0.25, tags)
        for _ in range(n):
            length = int(torch.randint(6, 21, (1,), generator=g))
            ids = torch.randint(40, 200, (length,), generator=g)
            on = torch.rand(tags, generator=g) < rare
            where = torch.randperm(length, generator=g)
            for j, k in enumerate(on.nonzero().flatten().tolist()):
                ids[where[j % length]] = 1 + 3 * k + int(torch.randint(3, (1,), generator=g))
            self.items.append(ids)
            target = torch.zeros(tags)
            target[(ids[ids <= 3 * tags] - 1) // 3] = 1.0
            self.tags.append(target)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.items[i], self.tags[i]


def pad_tags(items: list) -> tuple[torch.Tensor, torch.Tensor]:
    ids, tags = zip(*items)
    return nn.utils.rnn.pad_sequence(list(ids), batch_first=True), torch.stack(tags)


class Tagger(nn.Module):
    """Embeddings (0 pads), max-pooled over the unpadded tokens, an MLP to 12 tag logits."""

    def __init__(self, tags: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(200, 48, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, tags))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids).masked_fill((ids == 0)[..., None], -1e4)
        return self.mlp(h.max(1).values)


def tags() -> lrlab.Task:
    """2,000 lists, batch 32, 5 epochs, BCEWithLogits with each tag's negatives-to-positives
    ratio as its ``pos_weight`` (AdamW, weight decay 0.01)."""
    train = Tagged(2000, 0)
    on = torch.stack(train.tags).mean(0)
    return lrlab.Task.from_loaders(
        Tagger, DataLoader(train, batch_size=32, shuffle=True, collate_fn=pad_tags),
        DataLoader(Tagged(600, 1), batch_size=200, collate_fn=pad_tags),
        loss=nn.BCEWithLogitsLoss(pos_weight=(1 - on) / on), epochs=5, name="tags")


# --- one quantile of a skewed target: a pinball loss module on (B,) outputs ------------------

class Pinball(nn.Module):
    """The pinball (quantile) loss at ``q``: q e for e = y - out >= 0, (q - 1) e below."""

    def __init__(self, q: float) -> None:
        super().__init__()
        self.q = q

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = y - out
        return torch.maximum(self.q * e, (self.q - 1) * e).mean()


def _deliveries(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eight standardised features and a right-skewed duration (log-normal noise, in hours,
    median about 2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=torch.Generator().manual_seed(97)) / 4
    log_t = 0.7 + x @ w + 0.3 * torch.tanh(x[:, 0] * x[:, 1])
    return x, torch.exp(log_t + (0.3 + 0.2 * x[:, 2].abs()) * torch.randn(n, generator=g))


class QuantileNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x).squeeze(-1)


def pinball() -> lrlab.Task:
    """The 0.9 quantile, 2,000 rows, batch 64, 8 epochs (Adam)."""
    x, y = _deliveries(2000, 0)
    xv, yv = _deliveries(600, 1)
    return lrlab.Task.from_loaders(
        QuantileNet, DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(xv, yv), batch_size=600), loss=Pinball(0.9), epochs=8,
        name="pinball")


# --- weight normalisation through parametrizations -------------------------------------------

def _wn_cnn() -> nn.Module:
    wn = nn.utils.parametrizations.weight_norm
    return nn.Sequential(wn(nn.Conv2d(1, 16, 3, padding=1)), nn.ReLU(), nn.MaxPool2d(2),
                         wn(nn.Conv2d(16, 32, 3, padding=1)), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), wn(nn.Linear(32 * 49, 64)), nn.ReLU(),
                         wn(nn.Linear(64, 10)))


def wnorm() -> lrlab.Task:
    """A weight-normalised CNN, 2,000 MNIST images, batch 64, 3 epochs (momentum 0.9)."""
    train, val = _mnist(2000, 600)
    return lrlab.Task.from_loaders(_wn_cnn, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=300), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="wnorm")


# --- (x, y, sample_weight) triples under a weighted loss --------------------------------------

def _weighted_ce(model: nn.Module, batch):
    """Each example's cross-entropy times its weight, over the batch's total weight; the
    logits are scored."""
    x, y, w = batch
    out = model(x)
    return (F.cross_entropy(out, y, reduction="none") * w).sum() / w.sum(), out


def _with_weights(x: torch.Tensor, y: torch.Tensor, seed: int) -> TensorDataset:
    """Digits with a weight per example: 1 for most, 0.2 for one in four (labels the user
    trusts less, and indeed flipped to a random digit in half of those)."""
    g = torch.Generator().manual_seed(seed)
    doubt = torch.rand(len(y), generator=g) < 0.25
    flip = doubt & (torch.rand(len(y), generator=g) < 0.5)
    y = torch.where(flip, torch.randint(0, 10, (len(y),), generator=g), y)
    return TensorDataset(x, y, torch.where(doubt, 0.2, 1.0))


def sampleweight() -> lrlab.Task:
    """1,300 digits as (x, y, weight), batch 32, an MLP, 6 epochs (SGD); validation clean,
    every weight 1."""
    x, y = _digits()

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    val = TensorDataset(x[1300:], y[1300:], torch.ones(len(y) - 1300))
    return lrlab.Task.from_loaders(
        model, DataLoader(_with_weights(x[:1300], y[:1300], 0), batch_size=32, shuffle=True),
        DataLoader(val, batch_size=250), loss=model_loss(_weighted_ce), epochs=6,
        name="sampleweight")


# --- multi-step forecasting: (B, L, C) windows, 24 steps of 3 channels ahead -----------------

def _sensors(n: int, seed: int, look: int = 96, ahead: int = 24
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of three coupled channels (a daily-like cycle, a slow trend, noise): ``look``
    steps in ``(look, 3)``, the next ``ahead`` out ``(ahead, 3)``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(look + ahead, dtype=torch.float32)
    phase = 6.3 * torch.rand(n, 1, generator=g)
    slope = 0.02 * torch.randn(n, 1, generator=g)
    level = torch.randn(n, 1, generator=g)
    base = torch.sin(2 * torch.pi * t / 24 + phase) + slope * t + level
    a = base + 0.2 * torch.randn(n, look + ahead, generator=g)
    b = 0.5 * torch.roll(base, 3, 1) + 0.3 * torch.sin(2 * torch.pi * t / 12 + phase)
    b = b + 0.2 * torch.randn(n, look + ahead, generator=g)
    c = 0.7 * base - 0.4 * level + 0.3 * torch.randn(n, look + ahead, generator=g)
    s = torch.stack([a, b, c], -1)
    return s[:, :look], s[:, look:]


class DLinear(nn.Module):
    """DLinear's shape: each window split into a moving-average trend and the remainder, each
    mapped over time by its own linear layer shared across channels, summed: ``(B, L, C)`` in,
    ``(B, H, C)`` out."""

    def __init__(self, look: int = 96, ahead: int = 24, kernel: int = 25) -> None:
        super().__init__()
        self.kernel = kernel
        self.trend = nn.Linear(look, ahead)
        self.rest = nn.Linear(look, ahead)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.transpose(1, 2)  # (B, C, L)
        pad = (self.kernel - 1) // 2
        padded = torch.cat([s[..., :1].expand(-1, -1, pad), s,
                            s[..., -1:].expand(-1, -1, pad)], -1)
        trend = F.avg_pool1d(padded, self.kernel, stride=1)
        return (self.trend(trend) + self.rest(s - trend)).transpose(1, 2)


def horizon() -> lrlab.Task:
    """1,500 windows, batch 32, MSE on (B, 24, 3), 6 epochs (Adam)."""
    (x, y), (xv, yv) = _sensors(1500, 0), _sensors(500, 1)
    return lrlab.Task.from_loaders(DLinear, DataLoader(TensorDataset(x, y), batch_size=32,
                                                       shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=250),
                                   loss=nn.MSELoss(), epochs=6, name="horizon")


# --- multiple-instance learning: bags of 3-12 images, one bag a batch ------------------------

class Bags(Dataset):
    """Bags of 3-12 digit images; a bag is positive when it holds a 9 (about half are)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        nines, others = (y == 9).nonzero().flatten(), (y != 9).nonzero().flatten()
        self.bags, self.labels = [], []
        for _ in range(n):
            size = int(torch.randint(3, 13, (1,), generator=g))
            pick = others[torch.randint(len(others), (size,), generator=g)]
            positive = bool(torch.rand(1, generator=g) < 0.5)
            if positive:
                pick[int(torch.randint(size, (1,), generator=g))] = nines[
                    int(torch.randint(len(nines), (1,), generator=g))]
            self.bags.append(x[pick])
            self.labels.append(int(positive))

    def __len__(self) -> int:
        return len(self.bags)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.bags[i], self.labels[i]


class AttentionMIL(nn.Module):
    """Ilse et al.'s gated attention pooling: an instance encoder, attention weights over a
    bag's instances, their weighted mean to two logits; a batch is one bag ``(1, n, 64)``."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
        self.v, self.u = nn.Linear(64, 32), nn.Linear(64, 32)
        self.w = nn.Linear(32, 1)
        self.head = nn.Linear(64, 2)

    def forward(self, bag: torch.Tensor) -> torch.Tensor:
        h = self.encode(bag)  # (1, n, 64)
        a = torch.softmax(self.w(torch.tanh(self.v(h)) * torch.sigmoid(self.u(h))), dim=1)
        return self.head((a * h).sum(1))


def mil() -> lrlab.Task:
    """300 bags from the first 1,300 digits, 150 from the rest, batch 1, 4 epochs (Adam)."""
    x, y = _digits()
    return lrlab.Task.from_loaders(
        AttentionMIL, DataLoader(Bags(x[:1300], y[:1300], 300, 0), batch_size=1, shuffle=True),
        DataLoader(Bags(x[1300:], y[1300:], 150, 1), batch_size=1),
        loss=nn.CrossEntropyLoss(), epochs=4, name="mil")
