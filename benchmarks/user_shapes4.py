"""Seven more shapes users train (session 12), each a ``Task`` over DataLoaders as its user
would write it: a small ResNet with BatchNorm under SGD momentum, weight decay and a cosine
schedule (the CIFAR recipe) on MNIST, a GPT-like language model on token ids returning
``(logits, loss)`` as nanoGPT does (AdamW, betas (0.9, 0.95), weight decay 0.1, warm-up and
cosine), a GRU reading MNIST row by row (Adam, gradients clipped at norm 1), an imbalanced
MNIST under a class-weighted, label-smoothed cross-entropy ranked by balanced accuracy, a
denoising convolutional autoencoder (Adam, MSE on images), a Deep Sets model over padded point
sets with a mask (SGD) and a model returning a dict of outputs through ``model_loss``
(momentum).

``new_user.py`` registers each as a scenario (``python new_user.py --only "gpt adamw" --seeds
0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto --task
user_shapes4:gpt --optimizer adamw --weight-decay 0.1 --hp beta2=0.95 --schedule
cosine:warmup_frac=0.1``, from ``benchmarks/``). Sizes are for a 2-core machine: seconds per
epoch. The images are the first MNIST images (``/work/shared/data/mnist``, or
``$LRLAB_DATA``); the rest is drawn from fixed seeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab
from lrlab.search import model_loss


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


# --- a small ResNet with BatchNorm: SGD momentum 0.9, weight decay 5e-4, cosine ------------

class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                   nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.skip(x))


class SmallResNet(nn.Module):
    """A stride-2 stem (28 -> 14), blocks of 12 and 24 channels (14 -> 7), pooled, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 12, 3, 2, 1, bias=False), nn.BatchNorm2d(12),
                                  nn.ReLU())
        self.blocks = nn.Sequential(_Block(12, 12, 1), _Block(12, 24, 2))
        self.fc = nn.Linear(24, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def resnet_wd() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (128 steps); its user trains with momentum 0.9,
    weight decay 5e-4 and a cosine decay (``--optimizer momentum --weight-decay 5e-4
    --schedule cosine``)."""
    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(SmallResNet, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=4, name="resnet-wd")


# --- a GPT-like LM on token ids, (logits, loss) as nanoGPT returns them, AdamW -------------

def _tokens(n: int, seed: int, vocab: int = 32) -> torch.Tensor:
    """A token stream from a seeded chain: each token allows three next tokens (weights 0.6,
    0.3, 0.1), so the best loss is about 0.9 nats (log 32 = 3.47 untrained)."""
    table = torch.randint(0, vocab, (vocab, 3), generator=torch.Generator().manual_seed(95))
    g = torch.Generator().manual_seed(seed)
    choice = torch.multinomial(torch.tensor([0.6, 0.3, 0.1]), n, replacement=True, generator=g)
    out = [0]
    for i in range(n - 1):
        out.append(int(table[out[-1], choice[i]]))
    return torch.tensor(out)


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(width, 3 * width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2)
                   for z in self.qkv(x).split(c, -1))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class _GPTBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.att = nn.LayerNorm(width), _Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.att(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """nanoGPT's shape at width 32: token and position embeddings, two pre-norm blocks,
    a final LayerNorm, the head tied to the embedding; ``forward(idx, targets=None)``
    returns ``(logits, loss)``."""

    def __init__(self, vocab: int = 32, width: int = 32, length: int = 32) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(length, width)
        self.blocks = nn.Sequential(_GPTBlock(width, 4), _GPTBlock(width, 4))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        h = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        logits = self.head(self.ln(self.blocks(h)))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _gpt_loss(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    logits, loss = model(x, y)
    return loss, logits


def gpt() -> lrlab.Task:
    """1,500 training windows of 32 tokens (next-token targets), 300 to validate, batch 32,
    3 epochs; ranked by the validation loss (its user reads the perplexity)."""
    def windows(n: int, seed: int) -> TensorDataset:
        ids = _tokens(n * 32 + 1, seed)
        return TensorDataset(ids[:-1].view(n, 32), ids[1:].view(n, 32))
    return lrlab.Task.from_loaders(GPT, DataLoader(windows(1500, 0), batch_size=32, shuffle=True),
                                   DataLoader(windows(300, 1), batch_size=150),
                                   loss=model_loss(_gpt_loss), epochs=3, name="gpt",
                                   monitor="loss")


# --- a GRU reading MNIST row by row, Adam, gradients clipped at norm 1 ---------------------

class RowGRU(nn.Module):
    """28 rows of 28 pixels as a sequence into a 48-unit GRU; its last state to 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.gru, self.head = nn.GRU(28, 48, batch_first=True), nn.Linear(48, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x.squeeze(1))[0][:, -1])


def rowgru() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 3 epochs (Adam; ``--clip-grad-norm 1``)."""
    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(RowGRU, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=nn.CrossEntropyLoss(),
                                   epochs=3, name="rowgru")


# --- imbalanced MNIST, class-weighted and label-smoothed, ranked by balanced accuracy -----

def balanced_accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean over classes of each class's recall (classes absent from ``y`` left out)."""
    pred = out.argmax(-1)
    recalls = [(pred[y == c] == c).float().mean() for c in range(out.shape[-1]) if (y == c).any()]
    return torch.stack(recalls).mean()


def _skewed(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep every digit 0-4 and one in ten of 5-9."""
    keep = (y < 5) | (torch.arange(len(y)) % 10 == 0)
    return x[keep], y[keep]


def weighted() -> lrlab.Task:
    """MNIST's first 4,000 images skewed to about 2,200 (digits 5-9 a tenth as common), an MLP
    with dropout, cross-entropy weighted by inverse class frequency with label smoothing 0.1,
    batch 64, 5 epochs, ranked by balanced accuracy on an equally skewed validation set."""
    train, val = _mnist(4000, 2000)
    x, y = _skewed(*train.tensors)
    xv, yv = _skewed(*val.tensors)
    counts = torch.bincount(y, minlength=10).float()
    weight = counts.sum() / (10 * counts)

    def model() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(128, 10))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(xv, yv), batch_size=500),
        loss=nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1), epochs=5,
        metrics={"balanced": balanced_accuracy}, monitor="balanced", name="weighted")


# --- a denoising convolutional autoencoder, MSE on images, Adam -----------------------------

class Noisy(Dataset):
    """(noisy image, clean image) pairs: Gaussian noise of std 0.5 drawn once per image."""

    def __init__(self, images: torch.Tensor, seed: int) -> None:
        self.clean = images
        g = torch.Generator().manual_seed(seed)
        self.noisy = images + 0.5 * torch.randn(images.shape, generator=g)

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.noisy[i], self.clean[i]


def _autoencoder() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1),
                         nn.ReLU(), nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                         nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Sigmoid())


def denoise() -> lrlab.Task:
    """1,500 MNIST images in [0, 1] with noise added, the clean image as target (B, 1, 28,
    28), MSE, batch 64, 4 epochs (Adam)."""
    train, val = _mnist(1500, 500)
    unit = lambda d: d.tensors[0] * 0.31 + 0.13  # undo new_user's standardising
    return lrlab.Task.from_loaders(_autoencoder,
                                   DataLoader(Noisy(unit(train), 0), batch_size=64, shuffle=True),
                                   DataLoader(Noisy(unit(val), 1), batch_size=500),
                                   loss=nn.MSELoss(), epochs=4, name="denoise")


# --- Deep Sets over padded point sets with a mask, SGD ---------------------------------------

class PointSets(Dataset):
    """Sets of 6-24 noisy 2-D points on one of three shapes (a circle, a segment, a square's
    outline), each at a random scale and place; the class is the shape."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            k, shape = int(torch.randint(6, 25, (1,), generator=g)), int(torch.randint(3, (1,),
                                                                                       generator=g))
            t = torch.rand(k, generator=g)
            if shape == 0:
                p = torch.stack([torch.cos(2 * math.pi * t), torch.sin(2 * math.pi * t)], 1)
            elif shape == 1:
                angle = math.pi * float(torch.rand(1, generator=g))
                p = (2 * t - 1)[:, None] * torch.tensor([math.cos(angle), math.sin(angle)])
            else:
                side, s = (4 * t).long(), 2 * (4 * t % 1) - 1
                p = torch.stack([torch.where(side < 2, s, (2 * (side % 2) - 1).float()),
                                 torch.where(side < 2, (2 * side - 1).float(), s)], 1)
            scale = 0.5 + float(torch.rand(1, generator=g))
            p = p * scale + torch.randn(1, 2, generator=g) + 0.1 * torch.randn(k, 2, generator=g)
            self.items.append((p, shape))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.items[i]


def pad_sets(items: list[tuple[torch.Tensor, int]]) -> dict:
    """Pad a batch of point sets with zeros: {points (B, N, 2), mask (B, N), labels (B,)}."""
    n = max(len(p) for p, _ in items)
    points, mask = torch.zeros(len(items), n, 2), torch.zeros(len(items), n)
    for i, (p, _) in enumerate(items):
        points[i, : len(p)], mask[i, : len(p)] = p, 1
    return {"points": points, "mask": mask, "labels": torch.tensor([c for _, c in items])}


class DeepSets(nn.Module):
    """phi: a point MLP; the masked mean over the set, with the points' own centre and spread
    taken out first; rho: an MLP to three logits."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 3))

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1)
        count = m.sum(1, keepdim=True)
        centre = (points * m).sum(1, keepdim=True) / count
        spread = (((points - centre) ** 2 * m).sum((1, 2), keepdim=True) / count).sqrt()
        h = self.phi((points - centre) / spread) * m
        return self.rho(h.sum(1) / count.squeeze(1))


def deepsets() -> lrlab.Task:
    """1,500 sets, batch 32, 6 epochs (SGD)."""
    return lrlab.Task.from_loaders(
        DeepSets, DataLoader(PointSets(1500, 0), batch_size=32, shuffle=True, collate_fn=pad_sets),
        DataLoader(PointSets(500, 1), batch_size=250, collate_fn=pad_sets),
        loss=nn.CrossEntropyLoss(), epochs=6, name="deepsets")


# --- a model returning a dict of outputs, through model_loss, momentum ----------------------

class TwoOutputs(nn.Module):
    """An MLP whose shared trunk feeds a classifier and a reconstruction of the image;
    returns ``{"logits": (B, 10), "recon": (B, 784)}``."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU())
        self.cls, self.dec = nn.Linear(64, 10), nn.Linear(64, 784)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {"logits": self.cls(h), "recon": self.dec(h)}


def _dict_loss(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    out = model(x)
    return (F.cross_entropy(out["logits"], y) + 0.1 * F.mse_loss(out["recon"], x.flatten(1)),
            out["logits"])


def dictout() -> lrlab.Task:
    """2,000 MNIST images, batch 50, 3 epochs; the loss adds 0.1 x the reconstruction's MSE
    (momentum 0.9)."""
    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(TwoOutputs, DataLoader(train, batch_size=50, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=model_loss(_dict_loss),
                                   epochs=3, name="dictout")
