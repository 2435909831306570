"""Eight more shapes users train (session 11), each a ``Task`` over DataLoaders as its user
would write it: a 1-D convolution net on raw audio-like waveforms (momentum), a post-norm
transformer encoder over padded token lists with a key-padding mask (Adam, the user warms
up), a soft mixture of experts with a load-balancing term in its loss (Adam), a SIREN
coordinate network fitting an image (Adam), a Poisson count regression under
``nn.PoissonNLLLoss`` (its loss goes below zero), a triplet metric-learning embedding
(SGD), a depthwise-separable CNN with SiLU (Nesterov momentum) and a tabular residual MLP
with LayerNorm (AdamW).

``new_user.py`` registers each as a scenario (``python new_user.py --only "audio momentum"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes3:audio --optimizer momentum --momentum 0.9``, from ``benchmarks/``).
Sizes are for a 2-core machine: seconds per epoch. The data are scikit-learn's digits, the
first MNIST images or drawn from fixed seeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from user_shapes import _Encoder
from user_shapes2 import TokenLists, _digits, _loaders, pad

import lrlab
from lrlab.search import model_loss

# --- raw waveforms, 1-D convolutions with BatchNorm (an M5-like net), momentum 0.9 ---------


def _clips(n: int, seed: int, length: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Five kinds of noisy clips at a random offset: a rising chirp, a falling chirp, two
    tones, an amplitude-modulated tone, a burst of clicks; shape (n, 1, length)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (n,), generator=g)
    t = torch.arange(length, dtype=torch.float32) / length
    f0 = 20 + 40 * torch.rand(n, 1, generator=g)
    shift = torch.rand(n, 1, generator=g)
    tt = (t + shift) % 1.0
    kinds = torch.stack([
        torch.sin(2 * math.pi * (f0 * tt + 30 * tt ** 2)),
        torch.sin(2 * math.pi * (f0 * tt - 15 * tt ** 2)),
        0.6 * torch.sin(2 * math.pi * f0 * tt) + 0.6 * torch.sin(2 * math.pi * 1.5 * f0 * tt),
        torch.sin(2 * math.pi * f0 * tt) * (0.6 + 0.4 * torch.sin(2 * math.pi * 4 * tt)),
        (torch.rand(n, length, generator=g) < 0.03).float() * 3 * torch.sin(
            2 * math.pi * f0 * tt)], 1)
    wave = kinds[torch.arange(n), y] + 0.9 * torch.randn(n, length, generator=g)
    return wave.unsqueeze(1), y


def _m5() -> nn.Module:
    def block(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv1d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm1d(cout),
                nn.ReLU(), nn.MaxPool1d(2)]
    return nn.Sequential(*block(1, 16, 15, 2), *block(16, 32, 7), *block(32, 32, 5),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 5))


def _pairs(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
           batch: int, val_batch: int) -> tuple[DataLoader, DataLoader]:
    """A shuffled training loader and a validation loader over (inputs, targets) tensors."""
    return (DataLoader(TensorDataset(*train), batch_size=batch, shuffle=True),
            DataLoader(TensorDataset(*val), batch_size=val_batch))


def audio() -> lrlab.Task:
    """2,000 clips of 512 samples, five classes, batch 32, 5 epochs (momentum 0.9)."""
    return lrlab.Task.from_loaders(_m5, *_pairs(_clips(2000, 0), _clips(600, 1), 32, 300),
                                   loss=nn.CrossEntropyLoss(), epochs=5, name="audio")


# --- a post-norm transformer encoder on padded token lists, key-padding mask, Adam ---------

class Ordered(TokenLists):
    """Token lists of 8-23 ids; label: token 3 comes before token 4 (each occurs once)."""

    def __init__(self, n: int, seed: int, vocab: int = 30) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            length = int(torch.randint(8, 24, (1,), generator=g))
            ids = torch.randint(5, vocab, (length,), generator=g)
            i, j = torch.randperm(length, generator=g)[:2].tolist()
            ids[i], ids[j] = 3, 4
            self.items.append((ids, int(i < j)))


class Encoder(nn.Module):
    """Embeddings and learned positions, two post-norm encoder layers (PyTorch's default,
    dropout 0.1) with the padding masked, mean-pooled over the real tokens."""

    def __init__(self, vocab: int = 30, width: int = 32, length: int = 24) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(1, length, width) * 0.1)
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(width, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.emb(input_ids) + self.pos[:, : input_ids.shape[1]]
        h = self.encoder(h, src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1))


def encoder() -> lrlab.Task:
    """2,000 padded lists as dict batches, 8 epochs; its user trains with Adam, a linear
    warm-up and a cosine decay (``lrlab auto --task user_shapes3:encoder --optimizer adam
    --schedule cosine:warmup_frac=0.1``)."""
    return lrlab.Task.from_loaders(
        Encoder, DataLoader(Ordered(2000, 0), batch_size=32, shuffle=True, collate_fn=pad),
        DataLoader(Ordered(500, 1), batch_size=250, collate_fn=pad),
        loss=nn.CrossEntropyLoss(), epochs=8, name="encoder")


# --- a soft mixture of experts with a load-balancing term, Adam ---------------------------

def _regimes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten features; which of four rules sets the class (of three) depends on the sign of
    the first two features."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    w = torch.randn(4, 10, generator=torch.Generator().manual_seed(98))
    region = (x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()
    score = (x * w[region]).sum(1) + 0.5 * torch.sin(3 * x[:, 2])
    return x, torch.bucketize(score, torch.tensor([-1.0, 1.0]))


class MoE(nn.Module):
    """A softmax gate over four two-layer experts; returns ``(logits, balance)``, the
    balance term being E * sum of (mean gate weight)^2 (1 when the experts share evenly)."""

    def __init__(self, d: int = 10, experts: int = 4, width: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.gate = nn.Linear(d, experts)
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(d, width), nn.GELU(),
                                                    nn.Linear(width, classes))
                                      for _ in range(experts)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.gate(x).softmax(-1)
        outs = torch.stack([e(x) for e in self.experts], -1)
        balance = weights.shape[-1] * weights.mean(0).pow(2).sum()
        return (outs * weights.unsqueeze(-2)).sum(-1), balance


def _moe_loss(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    logits, balance = model(x)
    return F.cross_entropy(logits, y) + 0.01 * balance, logits


def moe() -> lrlab.Task:
    """3,000 rows, batch 64, 8 epochs; the loss adds 0.01 x the balance term (Adam)."""
    return lrlab.Task.from_loaders(MoE, *_pairs(_regimes(3000, 0), _regimes(800, 1), 64, 400),
                                   loss=model_loss(_moe_loss), epochs=8, name="moe")


# --- SIREN: sine activations fitting an image from its pixel coordinates, Adam ------------

class Sine(nn.Module):
    """sin(w0 (W x + b)) with Sitzmann et al. 2020's initialisation."""

    def __init__(self, cin: int, cout: int, first: bool = False, w0: float = 30.0) -> None:
        super().__init__()
        self.w0, self.linear = w0, nn.Linear(cin, cout)
        bound = 1 / cin if first else math.sqrt(6 / cin) / w0
        nn.init.uniform_(self.linear.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * self.linear(x))


def _picture(side: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates in [-1, 1]^2 and a grey value: rings, a bar and a soft disc."""
    c = torch.linspace(-1, 1, side)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    r = (xx ** 2 + yy ** 2).sqrt()
    img = (0.5 * torch.sin(12 * r) * (r < 0.8) + (xx.abs() < 0.1).float() * (yy > 0)
           + torch.exp(-((xx - 0.4) ** 2 + (yy + 0.4) ** 2) / 0.02))
    return torch.stack([xx, yy], -1).view(-1, 2), img.view(-1, 1)


def siren() -> lrlab.Task:
    """A 2-64-64-64-1 SIREN on a 48x48 picture: three quarters of the pixels to train
    (batch 128), the rest to validate, MSE, 20 epochs (Adam)."""
    xy, v = _picture()
    order = torch.randperm(len(v), generator=torch.Generator().manual_seed(0))
    cut = len(v) * 3 // 4
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(Sine(2, 64, first=True), Sine(64, 64), Sine(64, 64),
                              nn.Linear(64, 1)),
        *_loaders(xy[order], v[order], cut=cut, batch=128), loss=nn.MSELoss(), epochs=20,
        name="siren")


# --- counts: a log-rate under nn.PoissonNLLLoss, SGD ---------------------------------------

def _counts(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=torch.Generator().manual_seed(97)) * 0.3
    rate = torch.exp(1.0 + x @ w + 0.4 * torch.sin(2 * x[:, 0]))
    return x, torch.poisson(rate, generator=g).unsqueeze(-1)


def poisson() -> lrlab.Task:
    """Counts (mean about 3.5) from eight features, an MLP's log-rate (B, 1) under PyTorch's
    default ``PoissonNLLLoss`` (exp(out) - y out: below zero), 1,500 rows, 8 epochs."""
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)),
        *_pairs(_counts(1500, 0), _counts(500, 1), 32, 500), loss=nn.PoissonNLLLoss(),
        epochs=8, name="poisson")


# --- triplet metric learning: (anchor, positive, negative) digits, SGD ---------------------

class Triplets(Dataset):
    """Each item: a digit, another of its class, one of another class (drawn once, seeded)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x, n = x, len(y)
        same = [torch.nonzero(y == c).flatten() for c in range(10)]
        self.pos = torch.stack([same[int(c)][torch.randint(len(same[int(c)]), (1,),
                                                           generator=g)][0] for c in y])
        other = (y + torch.randint(1, 10, (n,), generator=g)) % 10
        self.neg = torch.stack([same[int(c)][torch.randint(len(same[int(c)]), (1,),
                                                           generator=g)][0] for c in other])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[i], self.x[self.pos[i]], self.x[self.neg[i]]


def _triplet(model: nn.Module, batch) -> torch.Tensor:
    a, p, n = batch
    return F.triplet_margin_loss(model(a), model(p), model(n), margin=0.5)


def triplet() -> lrlab.Task:
    """1,300 digits' triplets to train (batch 32), 497 to validate, margin 0.5, ranked by
    the validation loss, 8 epochs (SGD); the embedding is infonce's (a 64-128-32 MLP, its
    output scaled to unit length)."""
    x, y = _digits()
    return lrlab.Task.from_loaders(
        _Encoder, DataLoader(Triplets(x[:1300], y[:1300], 0), batch_size=32, shuffle=True),
        DataLoader(Triplets(x[1300:], y[1300:], 1), batch_size=256),
        loss=model_loss(_triplet), epochs=8, name="triplet")


# --- a depthwise-separable CNN with SiLU on MNIST, Nesterov momentum ----------------------

def _separable(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
            nn.BatchNorm2d(cin), nn.SiLU(), nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout), nn.SiLU()]


def _mobile() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16),
                         nn.SiLU(), *_separable(16, 32, 1), *_separable(32, 64, 2),
                         *_separable(64, 64, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.2), nn.Linear(64, 10))


def mobilenet() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (Nesterov momentum 0.9)."""
    from new_user import _mnist

    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(_mobile, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=4, name="mobilenet")


# --- a tabular residual MLP with LayerNorm (pre-norm blocks), regression, AdamW -----------

class ResMLP(nn.Module):
    """A 16-wide input layer, three blocks x + Linear(Dropout(ReLU(Linear(LN(x))))), a
    LayerNorm and a linear head."""

    def __init__(self, d: int = 16, width: int = 64, blocks: int = 3) -> None:
        super().__init__()
        self.inp = nn.Linear(d, width)
        self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 128),
                                                   nn.ReLU(), nn.Dropout(0.1),
                                                   nn.Linear(128, width))
                                     for _ in range(blocks)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def _houses(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sixteen standardised features, a standardised target with interactions and noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    w = torch.randn(16, generator=torch.Generator().manual_seed(96)) / 4
    y = (x @ w + torch.tanh(x[:, 0] * x[:, 1]) + 0.5 * (x[:, 2] > 0.5) * x[:, 3]
         + 0.3 * torch.randn(n, generator=g))
    return x, ((y - 0.0) / 1.2).unsqueeze(-1)


def resmlp() -> lrlab.Task:
    """2,400 rows, batch 64, MSE, 10 epochs (AdamW, weight decay 0.01)."""
    return lrlab.Task.from_loaders(ResMLP, *_pairs(_houses(2400, 0), _houses(600, 1), 64, 600),
                                   loss=nn.MSELoss(), epochs=10, name="resmlp")


def poisson_floor() -> float:
    """The validation loss of a perfect model, mean(y - y log y): the table reports
    ``poisson``'s regret as percent excess loss above it (half the Poisson deviance)."""
    y = _counts(500, 1)[1]
    return float((y - y * y.clamp(min=1).log()).mean())


def _recomputed(model: nn.Module, x: torch.Tensor, batches: torch.Tensor) -> nn.Module:
    """A copy of ``model`` whose BatchNorm statistics are the mean over ``batches`` (rows of
    example indices into ``x``) at its weights: torch's cumulative average."""
    import copy

    out = copy.deepcopy(model).train()
    for m in out.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for i in batches:
            out(x[i])
    return out


def _bias_corrected(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose running statistics lose the start's share, as Adam's
    moments do: ``(r - (1 - m)^t r_0) / (1 - (1 - m)^t)`` from ``r_0`` = (0, 1)."""
    import copy

    out = copy.deepcopy(model)
    for m in out.modules():
        if isinstance(m, nn.BatchNorm2d):
            keep = (1 - m.momentum) ** int(m.num_batches_tracked)
            m.running_mean.div_(1 - keep)
            m.running_var.sub_(keep).div_(1 - keep)
    return out


def batchnorm_lag(seed: int = 2, steps: tuple[int, ...] = (14, 28, 64, 128),
                  rates: tuple[float, ...] = (0.0739, 0.234, 0.464, 0.739, 1.31, 2.34)) -> None:
    """Why ``mobilenet``'s 14-step race scored chance: the depthwise CNN trained by Nesterov
    steps (batch 64, a new order each epoch of 2,000 images) at ``rates``, scored on the
    validation images after each of ``steps`` three ways: on the running statistics
    (evaluation mode), on them with the start's share taken out (bias-corrected), and on
    statistics recomputed from the last 10 training batches at the weights (what ``auto``'s
    rescored race reads). Run: ``cd benchmarks && PYTHONPATH=../src:. python user_shapes3.py``."""
    from new_user import _mnist

    train, val = _mnist(2000, 1000)
    (x, y), (xv, yv) = train.tensors, val.tensors
    epochs = math.ceil(max(steps) * 64 / len(y))
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(len(y), generator=g)[: len(y) // 64 * 64]
                       for _ in range(epochs)]).view(-1, 64)

    def score(model: nn.Module) -> float:
        with torch.no_grad():
            return float((model.eval()(xv).argmax(1) == yv).float().mean())

    for lr in rates:
        torch.manual_seed(seed)
        model = _mobile()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
        seen = []
        for step, i in enumerate(order[: max(steps)], 1):
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
            if step in steps:
                fresh = _recomputed(model, x, order[max(0, step - 10):step])
                seen.append(f"{step}: {score(model):.3f} {score(_bias_corrected(model)):.3f} "
                            f"{score(fresh):.3f}")
        print(f"lr {lr}: accuracy after steps (running, bias-corrected, recomputed) "
              + ", ".join(seen), flush=True)


if __name__ == "__main__":
    batchnorm_lag()
