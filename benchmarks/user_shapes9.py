"""Ten more shapes and set-ups users train (session 16), each a ``Task`` over DataLoaders as its
user would write it: an image beside a table of raw numbers (one column unscaled) in one
``(image, table, label)`` batch, a two-branch net (momentum 0.9), a CLIP-like pair of towers
with a learnable temperature (``logit_scale``, clamped at 100, as CLIP keeps it; AdamW), an
ordinal regression with CORAL's shared weights and ordered thresholds under a sum of binary
cross-entropies, ranked by its own mean absolute rank error (SGD), ArcFace's additive angular
margin on a normalised classifier at scale 30 (momentum 0.9, weight decay 5e-4), a residual 1-D
depthwise-separable net on raw waveforms (Adam), a binary segmentation of rare foreground under
a positive-weighted BCE plus soft Dice (Adam), an input normaliser whose running mean and
variance are buffers updated in every training forward, before an MLP regressing from raw
features of very different scales (SGD), a GRU cell unrolled in a Python loop up to the batch's
longest token list, its state held past each list's end (Adam), a causal LM over right-padded
token windows that builds its own attention mask for ``F.scaled_dot_product_attention`` (causal
and padding) and its own loss from ``labels`` with -100 at the padding, Hugging-Face style
(AdamW, betas (0.9, 0.95), gradients clipped at norm 1), and PyTorch's MNIST example
(``log_softmax`` out, ``F.nll_loss``, dropout; SGD momentum 0.5, the rate times 0.7 every
epoch).

``new_user.py`` registers each as a scenario (``python new_user.py --only "fusion momentum"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes9:fusion --optimizer momentum --momentum 0.9``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. The images are the first MNIST
images (``/work/shared/data/mnist``, or ``$LRLAB_DATA``) or scikit-learn's digits; the rest
is drawn from fixed seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from user_shapes import UNet
from user_shapes2 import _digits, pad
from user_shapes3 import _clips, _pairs
from user_shapes4 import _tokens
from user_shapes5 import Majority

import lrlab
from lrlab.search import model_loss


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


# --- an image beside a table of raw numbers: (image, table, label) batches -----------------

def _with_table(images: TensorDataset, seed: int) -> TensorDataset:
    """Each MNIST image with four unscaled columns as a form would give them: a noisy 'is
    even' flag (right 80% of the time), the share of inked pixels (about 0.1-0.3), a noisy
    'is 5 or more' flag and an uninformative 'age' (45 give or take 12)."""
    x, y = images.tensors
    g = torch.Generator().manual_seed(seed)
    right = torch.rand(len(y), generator=g) < 0.8
    even = torch.where(right, (y % 2 == 0).float(), (y % 2 == 1).float())
    right = torch.rand(len(y), generator=g) < 0.8
    high = torch.where(right, (y >= 5).float(), (y < 5).float())
    ink = (x > 0).flatten(1).float().mean(1)
    age = 45 + 12 * torch.randn(len(y), generator=g)
    return TensorDataset(x, torch.stack([even, ink, high, age], 1), y)


class Fusion(nn.Module):
    """A small strided CNN on the image and an MLP on the table, concatenated, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                                   nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                                   nn.Flatten(), nn.Linear(16 * 49, 64), nn.ReLU())
        self.table = nn.Sequential(nn.Linear(4, 16), nn.ReLU())
        self.head = nn.Linear(64 + 16, 10)

    def forward(self, image: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.image(image), self.table(table)], 1))


def fusion() -> lrlab.Task:
    """2,000 MNIST images with their tables, batch 64, 3 epochs (momentum 0.9)."""
    train, val = _mnist(2000, 600)
    return lrlab.Task.from_loaders(
        Fusion, DataLoader(_with_table(train, 0), batch_size=64, shuffle=True),
        DataLoader(_with_table(val, 1), batch_size=300), loss=nn.CrossEntropyLoss(), epochs=3,
        name="fusion")


# --- two towers and a learnable temperature (CLIP-like) ------------------------------------

class _Captions(Dataset):
    """Each digit image with a 'caption' of 5 token ids: the digit's word (0-9), its parity's
    (10 or 11) and three filler words (12-39), in a random order drawn from ``seed``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        words = torch.cat([y[:, None], 10 + (y[:, None] % 2),
                           torch.randint(12, 40, (len(y), 3), generator=g)], 1)
        order = torch.argsort(torch.rand(len(y), 5, generator=g), 1)
        self.x, self.words = x, words.gather(1, order)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.words[i]


class TwoTowers(nn.Module):
    """An image MLP and a bag-of-words text encoder to a shared 32-d space, unit-normalised;
    ``logit_scale`` starts at log(1 / 0.07), as CLIP's does."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
        self.words = nn.Embedding(40, 32)
        self.text = nn.Sequential(nn.ReLU(), nn.Linear(32, 32))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, image: torch.Tensor, words: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        a = F.normalize(self.image(image), dim=-1)
        b = F.normalize(self.text(self.words(words).mean(1)), dim=-1)
        return a, b


def _clip_loss(model: nn.Module, batch) -> torch.Tensor:
    image, words = batch
    a, b = model(image, words)
    logits = model.logit_scale.exp().clamp(max=100) * a @ b.T
    target = torch.arange(len(image))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def clip() -> lrlab.Task:
    """1,300 digit images and captions, batch 64 (the last partial batch dropped), 8 epochs,
    the symmetric contrastive loss (AdamW, weight decay 0.1)."""
    x, y = _digits()
    return lrlab.Task.from_loaders(
        TwoTowers, DataLoader(_Captions(x[:1300], y[:1300], 0), batch_size=64, shuffle=True,
                              drop_last=True),
        DataLoader(_Captions(x[1300:], y[1300:], 1), batch_size=64, drop_last=True),
        loss=model_loss(_clip_loss), epochs=8, name="clip")


# --- ordinal regression: CORAL's shared weights and ordered thresholds ---------------------

def _grades(n: int, seed: int, grades: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Eight features and one of ``grades`` ordered grades of a noisy score (a rating)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=torch.Generator().manual_seed(91))
    score = x @ w / 2 + torch.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.4 * torch.randn(n, generator=g)
    cuts = torch.quantile(score, torch.linspace(0, 1, grades + 1)[1:-1])
    return x, torch.bucketize(score, cuts)


class Coral(nn.Module):
    """An MLP to one score and ``grades - 1`` thresholds (biases) added to it: logit k says
    'grade above k'."""

    def __init__(self, grades: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                  nn.Linear(64, 1, bias=False))
        self.thresholds = nn.Parameter(torch.linspace(1, -1, grades - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.thresholds


def _coral_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The binary cross-entropies of every threshold, summed per row, averaged."""
    above = (y[:, None] > torch.arange(logits.shape[-1])).float()
    return F.binary_cross_entropy_with_logits(logits, above, reduction="none").sum(-1).mean()


def _rank_mae(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of the predicted grade (the count of thresholds passed)."""
    return ((logits > 0).sum(-1) - y).abs().float().mean()


def ordinal() -> lrlab.Task:
    """2,000 rows, batch 32, 6 epochs, ranked by the rank error (SGD)."""
    x, y = _grades(2000, 0)
    xv, yv = _grades(600, 1)
    return lrlab.Task.from_loaders(
        Coral, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(xv, yv), batch_size=600), loss=_coral_loss, epochs=6,
        metrics={"rank_mae": _rank_mae}, monitor="rank_mae", name="ordinal")


# --- ArcFace: an additive angular margin on a normalised classifier ------------------------

class ArcNet(nn.Module):
    """A small CNN to a 32-d embedding; the classes' unit weight vectors; ``forward`` gives
    the cosines (B, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(32 * 49, 32))
        self.classes = nn.Parameter(torch.randn(10, 32) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(x), dim=-1) @ F.normalize(self.classes, dim=-1).T


def _arcface(model: nn.Module, batch, scale: float = 30.0, margin: float = 0.5):
    """ArcFace's loss: the true class's cosine replaced by cos(theta + margin) (by
    cos(theta) - margin sin(margin) past theta = pi - margin), all times ``scale``, under
    cross-entropy; the scaled cosines are scored."""
    x, y = batch
    cos = model(x).clamp(-1, 1)
    sin = (1 - cos ** 2).clamp_min(1e-6).sqrt()
    shifted = cos * math.cos(margin) - sin * math.sin(margin)
    shifted = torch.where(cos > -math.cos(margin), shifted, cos - margin * math.sin(margin))
    true = F.one_hot(y, 10).bool()
    loss = F.cross_entropy(scale * torch.where(true, shifted, cos), y)
    return loss, scale * cos


def arcface() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 3 epochs (momentum 0.9, weight decay 5e-4)."""
    train, val = _mnist(2000, 600)
    return lrlab.Task.from_loaders(ArcNet, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=300), loss=model_loss(_arcface),
                                   epochs=3, name="arcface")


# --- a 1-D depthwise-separable residual net on raw waveforms -------------------------------

class _SepBlock(nn.Module):
    """x + BN(pointwise(depthwise(x))), ReLU, then max pooling by 2."""

    def __init__(self, width: int, kernel: int) -> None:
        super().__init__()
        self.depth = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width,
                               bias=False)
        self.point = nn.Conv1d(width, width, 1, bias=False)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool1d(F.relu(x + self.norm(self.point(self.depth(x)))), 2)


class SepNet(nn.Module):
    """A strided stem (kernel 11, stride 4), three separable blocks (kernels 13, 9, 5),
    average pooling, a head: a MatchboxNet-like keyword spotter in miniature."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(1, width, 11, stride=4, padding=5, bias=False),
                                  nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[_SepBlock(width, k) for k in (13, 9, 5)])
        self.head = nn.Linear(width, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean(-1))


def dwsep() -> lrlab.Task:
    """2,000 clips of 512 samples (``user_shapes3``'s five kinds), batch 32, 4 epochs (Adam)."""
    return lrlab.Task.from_loaders(SepNet, *_pairs(_clips(2000, 0), _clips(600, 1), 32, 300),
                                   loss=nn.CrossEntropyLoss(), epochs=4, name="dwsep")


# --- rare-foreground binary segmentation: weighted BCE plus soft Dice ----------------------

def _spots(n: int, seed: int, side: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy images with 1-3 small bright spots (the foreground, about 3% of the pixels) and
    2 bright bars of the same brightness (background: the net must tell them by shape)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, side, side, generator=g) * 0.4
    masks = torch.zeros(n, 1, side, side)
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    for i in range(n):
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            cy, cx = torch.randint(2, side - 2, (2,), generator=g).tolist()
            r = 1.0 + float(torch.rand(1, generator=g))
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r
            masks[i, 0][inside] = 1.0
            images[i, 0][inside] += 1.2
        for _ in range(2):
            cy, cx = torch.randint(1, side - 8, (2,), generator=g).tolist()
            if bool(torch.rand(1, generator=g) < 0.5):
                images[i, 0, cy, cx:cx + 7] += 1.2
            else:
                images[i, 0, cy:cy + 7, cx] += 1.2
    return images, masks


def _bce_dice(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE with the foreground weighted 10 to 1, plus one minus the batch's soft Dice."""
    bce = F.binary_cross_entropy_with_logits(logits, mask, pos_weight=torch.tensor(10.0))
    p = torch.sigmoid(logits)
    dice = (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
    return bce + 1 - dice


def _unet1() -> nn.Module:
    return UNet(width=8, classes=1)


def dice() -> lrlab.Task:
    """512 images of 24x24, batch 16, 5 epochs, a small U-Net (one logit a pixel; Adam)."""
    train, val = _spots(512, 0), _spots(192, 1)
    return lrlab.Task.from_loaders(_unet1, DataLoader(TensorDataset(*train), batch_size=16,
                                                      shuffle=True),
                                   DataLoader(TensorDataset(*val), batch_size=96),
                                   loss=_bce_dice, epochs=5, name="dice")


# --- an input normaliser with running statistics updated in the forward ---------------------

def _plant(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten sensor readings on scales from 0.01 to 1000 (raw, as logged) and a smooth
    target of the scaled readings (std about 1)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=g)
    scales = torch.logspace(-2, 3, 10)
    offsets = torch.linspace(0, 500, 10)
    w = torch.randn(10, generator=torch.Generator().manual_seed(93)) / 3
    y = z @ w + torch.tanh(z[:, 0] * z[:, 1]) + 0.5 * torch.sin(2 * z[:, 2])
    return z * scales + offsets, (y + 0.1 * torch.randn(n, generator=g))[:, None]


class RunningNorm(nn.Module):
    """Standardises its input by a running mean and variance (buffers), updated from every
    training batch in the forward, as an online normaliser (RL's observation filter) is."""

    def __init__(self, features: int, momentum: float = 0.05) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("var", torch.ones(features))
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                rate = torch.where(self.seen > 0, self.momentum, 1.0)
                self.mean.lerp_(x.mean(0), rate)
                self.var.lerp_(x.var(0), rate)
                self.seen.add_(1)
        return (x - self.mean) / (self.var + 1e-5).sqrt()


def _normed_mlp() -> nn.Module:
    return nn.Sequential(RunningNorm(10), nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 64),
                         nn.Tanh(), nn.Linear(64, 1))


def runnorm() -> lrlab.Task:
    """2,000 rows, batch 32, 6 epochs, MSE (SGD)."""
    x, y = _plant(2000, 0)
    xv, yv = _plant(600, 1)
    return lrlab.Task.from_loaders(_normed_mlp, DataLoader(TensorDataset(x, y), batch_size=32,
                                                           shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=600),
                                   loss=nn.MSELoss(), epochs=6, name="runnorm")


# --- a GRU cell unrolled in Python up to the batch's longest list ---------------------------

class LoopGRU(nn.Module):
    """Embeddings read by an ``nn.GRUCell`` in a Python loop of ``int(lengths.max())`` steps
    (the batch's longest list), each list's state frozen past its end by its attention mask,
    a head on the last state: the recurrence a user writes by hand."""

    def __init__(self, vocab: int = 30, width: int = 48) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.cell = nn.GRUCell(width, width)
        self.head = nn.Linear(width, 3)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        h = x.new_zeros(x.shape[0], self.cell.hidden_size)
        for t in range(int(attention_mask.sum(1).max())):
            h = torch.where(attention_mask[:, t, None].bool(), self.cell(x[:, t], h), h)
        return self.head(h)


def loopgru() -> lrlab.Task:
    """``user_shapes5``'s token lists (which of 1, 2, 3 occurs most), 1,500 of them padded,
    batch 32, 4 epochs (Adam)."""
    return lrlab.Task.from_loaders(
        LoopGRU, DataLoader(Majority(1500, 0), batch_size=32, shuffle=True, collate_fn=pad),
        DataLoader(Majority(500, 1), batch_size=250, collate_fn=pad),
        loss=nn.CrossEntropyLoss(), epochs=4, name="loopgru")


# --- a causal LM over padded windows: its own mask, its own loss from -100 labels ----------

class _Windows(Dataset):
    """Windows of 8-32 tokens of ``user_shapes4``'s seeded chain (ids 1-32; 0 pads)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        stream = _tokens(n * 32 + 1, seed) + 1
        self.items = [stream[i * 32: i * 32 + int(torch.randint(8, 33, (1,), generator=g))]
                      for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.items[i]


def _right_pad(items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """A tokenizer's batch: ids right-padded with 0, the attention mask, labels the ids with
    -100 at the padding."""
    ids = nn.utils.rnn.pad_sequence(items, batch_first=True)
    mask = (ids != 0).long()
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


@dataclass
class LMOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor


class _RMSNorm(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class _Block(nn.Module):
    """Pre-RMSNorm attention (``F.scaled_dot_product_attention`` with a boolean mask) and a
    SwiGLU MLP, no biases."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.n1, self.n2 = _RMSNorm(width), _RMSNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        self.gate = nn.Linear(width, 2 * width, bias=False)
        self.up = nn.Linear(width, 2 * width, bias=False)
        self.down = nn.Linear(2 * width, width, bias=False)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, self.heads, w // self.heads).unbind(2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                           v.transpose(1, 2), attn_mask=allowed)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, w))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class PaddedLM(nn.Module):
    """Token and learned position embeddings, two blocks, a final RMSNorm and a head;
    ``forward(input_ids, attention_mask, labels=None)`` as a Hugging-Face causal LM: the
    mask lets each position see itself, earlier positions and no padding; the loss is the
    next token's cross-entropy, the labels shifted inside, -100 ignored."""

    def __init__(self, vocab: int = 33, width: int = 48, heads: int = 4, length: int = 32
                 ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Parameter(torch.randn(length, width) * 0.02)
        self.blocks = nn.ModuleList([_Block(width, heads) for _ in range(2)])
        self.norm = _RMSNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> LMOutput:
        t = input_ids.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        allowed = (causal[None] & attention_mask[:, None, :].bool())[:, None]
        allowed = allowed | torch.eye(t, dtype=torch.bool)  # a padded row sees itself
        x = self.tokens(input_ids) + self.positions[:t]
        for block in self.blocks:
            x = block(x, allowed)
        logits = self.head(self.norm(x))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                   labels[:, 1:].reshape(-1), ignore_index=-100)
        return LMOutput(loss, logits)


def padlm() -> lrlab.Task:
    """1,200 windows, batch 32, 4 epochs, the model's own loss (AdamW, weight decay 0.1,
    beta2 0.95, gradients clipped at norm 1)."""
    return lrlab.Task.from_loaders(
        PaddedLM, DataLoader(_Windows(1200, 0), batch_size=32, shuffle=True,
                             collate_fn=_right_pad),
        DataLoader(_Windows(300, 1), batch_size=150, collate_fn=_right_pad), loss=None,
        epochs=4, name="padlm")


# --- PyTorch's MNIST example: log_softmax, nll_loss, dropout, StepLR(gamma=0.7) -------------

class ExampleNet(nn.Module):
    """PyTorch's examples/mnist network at half width: two 3x3 convolutions, max pooling,
    dropout 0.25, a hidden layer, dropout 0.5, ``log_softmax`` out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 3, 1), nn.Conv2d(16, 32, 3, 1)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(4608, 64), nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.dropout1(x).flatten(1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def example() -> lrlab.Task:
    """1,500 MNIST images, batch 64, 3 epochs, ``F.nll_loss`` on the log-probabilities (SGD
    momentum 0.5 as the example once had it, the rate times 0.7 each epoch)."""
    train, val = _mnist(1500, 500)
    return lrlab.Task.from_loaders(ExampleNet, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=300), loss=F.nll_loss, epochs=3,
                                   name="example")
