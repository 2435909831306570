"""Seven more shapes users train (session 13), each a ``Task`` over DataLoaders as its user
would write it: a pre-LayerNorm transformer classifier reading a [CLS] token over padded token
lists with a key-padding mask (AdamW), a dilated residual 1-D convolution net classifying time
series (momentum 0.9, weight decay 1e-3), a click-through model with ``nn.EmbeddingBag`` over
variable-length tag bags (flat ids and offsets, as its documentation feeds it) beside embedded
categoricals and numbers under ``BCEWithLogitsLoss`` on (B,) logits (AdamW, and Adagrad as
click models are often trained), a label-smoothed CNN under RMSprop, a CNN with an auxiliary
classifier that returns ``(logits, aux_logits)`` while training and logits alone in evaluation,
as torchvision's Inception does (momentum), a heteroscedastic regression predicting a mean and
a log-variance under ``F.gaussian_nll_loss`` (its loss goes below zero; Adam) and LoRA
adapters on a frozen pretrained backbone under a new head (AdamW).

``new_user.py`` registers each as a scenario (``python new_user.py --only "prenorm adamw"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes5:prenorm --optimizer adamw --weight-decay 0.05``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. The images are the first MNIST
images (``/work/shared/data/mnist``, or ``$LRLAB_DATA``) or scikit-learn's digits; the rest is
drawn from fixed seeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from user_shapes2 import TokenLists, pad

import lrlab
from lrlab.search import model_loss


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


# --- a pre-LayerNorm transformer reading a [CLS] token, key-padding mask, AdamW -------------

class Majority(TokenLists):
    """Token lists of 6-24 ids (5-29, with 1, 2 and 3 sprinkled in); label: which of 1, 2, 3
    occurs most often (ties to the smallest)."""

    def __init__(self, n: int, seed: int, vocab: int = 30) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            length = int(torch.randint(6, 25, (1,), generator=g))
            ids = torch.randint(5, vocab, (length,), generator=g)
            marked = torch.rand(length, generator=g) < 0.4
            ids[marked] = torch.randint(1, 4, (int(marked.sum()),), generator=g)
            counts = torch.stack([(ids == k).sum() for k in (1, 2, 3)])
            self.items.append((ids, int(counts.argmax())))


class PreNorm(nn.Module):
    """A [CLS] embedding before the tokens, learned positions, two pre-LN encoder layers (GELU,
    dropout 0.1) with the padding masked, a final LayerNorm and a head on the [CLS] state."""

    def __init__(self, vocab: int = 30, width: int = 32, length: int = 25) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width, padding_idx=0)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.1, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.ln, self.head = nn.LayerNorm(width), nn.Linear(width, 3)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.cls.expand(len(input_ids), -1, -1), self.emb(input_ids)], 1)
        h = h + self.pos[:, : h.shape[1]]
        keep = torch.cat([torch.ones_like(attention_mask[:, :1]), attention_mask], 1)
        h = self.encoder(h, src_key_padding_mask=keep == 0)
        return self.head(self.ln(h[:, 0]))


def prenorm() -> lrlab.Task:
    """2,000 padded lists as dict batches, batch 32, 6 epochs (AdamW, weight decay 0.05)."""
    return lrlab.Task.from_loaders(
        PreNorm, DataLoader(Majority(2000, 0), batch_size=32, shuffle=True, collate_fn=pad),
        DataLoader(Majority(500, 1), batch_size=250, collate_fn=pad),
        loss=nn.CrossEntropyLoss(), epochs=6, name="prenorm")


# --- a dilated residual 1-D convolution net on time series, momentum and weight decay -------

def _traces(n: int, seed: int, length: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """Four kinds of noisy trace (B, 2, 96): a sine, a square wave, a rising chirp and a
    decaying burst, each at a random frequency and phase; the second channel the first's
    running mean. The class is the kind."""
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, length)
    kind = torch.randint(0, 4, (n,), generator=g)
    freq = 2 + 4 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    wave = torch.sin(2 * math.pi * freq * t + phase)
    out = torch.where((kind == 0)[:, None], wave, torch.sign(wave))
    chirp = torch.sin(2 * math.pi * freq * t * (0.5 + t) + phase)
    out = torch.where((kind == 2)[:, None], chirp, out)
    burst = wave * torch.exp(-4 * t) * 2
    out = torch.where((kind == 3)[:, None], burst, out)
    out = out + 0.6 * torch.randn(n, length, generator=g)
    mean = out.cumsum(1) / torch.arange(1, length + 1)
    return torch.stack([out, mean], 1), kind


class _Residual(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation),
                                  nn.ReLU(), nn.Dropout(0.1),
                                  nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv(x))


def _tcn() -> nn.Module:
    """A 1x1 stem to 24 channels, residual blocks at dilations 1, 2, 4, 8, global average."""
    return nn.Sequential(nn.Conv1d(2, 24, 1), *[_Residual(24, d) for d in (1, 2, 4, 8)],
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(24, 4))


def tcn() -> lrlab.Task:
    """1,600 traces, batch 32, 5 epochs (momentum 0.9, weight decay 1e-3)."""
    (x, y), (xv, yv) = _traces(1600, 0), _traces(500, 1)
    return lrlab.Task.from_loaders(_tcn, DataLoader(TensorDataset(x, y), batch_size=32,
                                                    shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=250),
                                   loss=nn.CrossEntropyLoss(), epochs=5, name="tcn")


# --- tag bags through nn.EmbeddingBag (flat ids and offsets), categoricals, numbers, AdamW ---

class Clicks(Dataset):
    """Rows of a click log: 1-8 tags of 200, a site of 30, a device of 4 and six numbers; a
    click's odds rise with fixed tag weights, the site's own bias, one number and a product of
    two, and fall on device 3."""

    def __init__(self, n: int, seed: int) -> None:
        g, fixed = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(77)
        tag_w, site_w = torch.randn(200, generator=fixed), torch.randn(30, generator=fixed)
        self.rows = []
        for _ in range(n):
            tags = torch.randint(0, 200, (int(torch.randint(1, 9, (1,), generator=g)),),
                                 generator=g)
            site, device = int(torch.randint(0, 30, (1,), generator=g)), int(
                torch.randint(0, 4, (1,), generator=g))
            num = torch.randn(6, generator=g)
            logit = (tag_w[tags].mean() + site_w[site] + num[0] + num[1] * num[2]
                     - 1.5 * (device == 3))
            click = float(torch.rand(1, generator=g) < torch.sigmoid(logit))
            self.rows.append((tags, site, device, num, click))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.rows[i]


def bags(rows: list) -> dict:
    """A batch as ``nn.EmbeddingBag`` wants it: every row's tags in one flat tensor with each
    row's offset into it, beside {site, device, num, labels}."""
    lengths = torch.tensor([len(r[0]) for r in rows])
    return {"tags": torch.cat([r[0] for r in rows]),
            "offsets": torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]]),
            "site": torch.tensor([r[1] for r in rows]), "device": torch.tensor([r[2] for r in rows]),
            "num": torch.stack([r[3] for r in rows]),
            "labels": torch.tensor([r[4] for r in rows])}


class ClickNet(nn.Module):
    """The tags' mean embedding (``EmbeddingBag``), the site's and device's embeddings and
    the numbers into an MLP to one logit per row (B,)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.tags = nn.EmbeddingBag(200, width, mode="mean")
        self.site, self.device = nn.Embedding(30, 4), nn.Embedding(4, 2)
        self.mlp = nn.Sequential(nn.Linear(width + 4 + 2 + 6, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, tags, offsets, site, device, num) -> torch.Tensor:
        h = torch.cat([self.tags(tags, offsets), self.site(site), self.device(device), num], 1)
        return self.mlp(h).squeeze(-1)


def clicks() -> lrlab.Task:
    """3,000 rows, batch 128, ``BCEWithLogitsLoss`` on (B,) logits against float labels, 6
    epochs (AdamW, weight decay 0.01)."""
    return lrlab.Task.from_loaders(
        ClickNet, DataLoader(Clicks(3000, 0), batch_size=128, shuffle=True, collate_fn=bags),
        DataLoader(Clicks(1000, 1), batch_size=500, collate_fn=bags),
        loss=nn.BCEWithLogitsLoss(), epochs=6, name="clicks")


# --- a label-smoothed CNN under RMSprop --------------------------------------------------------

def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 49, 10))


def rmsnet() -> lrlab.Task:
    """2,000 MNIST images, batch 64, cross-entropy with label smoothing 0.1, 4 epochs
    (RMSprop)."""
    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(_cnn, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500),
                                   loss=nn.CrossEntropyLoss(label_smoothing=0.1), epochs=4,
                                   name="rmsnet")


# --- an auxiliary classifier: (logits, aux_logits) in training, logits in evaluation --------

class AuxNet(nn.Module):
    """Two conv stages; an auxiliary head on the first stage's features (Inception's deep
    supervision). ``forward`` returns ``(logits, aux_logits)`` in training mode and logits
    alone in evaluation mode."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(128, 10))
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(256, 10))

    def forward(self, x: torch.Tensor):
        h = self.stage1(x)
        logits = self.stage2(h)
        return (logits, self.aux(h)) if self.training else logits


def _aux_loss(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    out = model(x)
    if isinstance(out, tuple):
        logits, aux = out
        return F.cross_entropy(logits, y) + 0.3 * F.cross_entropy(aux, y), logits
    return F.cross_entropy(out, y), out


def auxnet() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs; the loss adds 0.3 x the auxiliary head's
    cross-entropy while training (momentum 0.9)."""
    train, val = _mnist(2000, 1000)
    return lrlab.Task.from_loaders(AuxNet, DataLoader(train, batch_size=64, shuffle=True),
                                   DataLoader(val, batch_size=500), loss=model_loss(_aux_loss),
                                   epochs=4, name="auxnet")


# --- a heteroscedastic regression: a mean and a log-variance under GaussianNLLLoss, Adam -----

def _noisy_rows(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                             torch.Tensor]:
    """Eight features, a target whose noise std grows from 0.1 to 1.1 with the first feature's
    sigmoid: (x, y (B, 1), the true mean and std (B, 1))."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=torch.Generator().manual_seed(98)) * 0.5
    std = 0.1 + torch.sigmoid(2 * x[:, :1])
    mean = (x @ w).unsqueeze(-1) + torch.sin(2 * x[:, 1:2])
    return x, mean + std * torch.randn(n, 1, generator=g), mean, std


class MeanVar(nn.Module):
    """An MLP whose two outputs are a mean and a log-variance: ``(B, 2)``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _gauss_nll(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    out = model(x)
    mean, log_var = out[:, :1], out[:, 1:]
    return F.gaussian_nll_loss(mean, y, log_var.exp()), mean


def gaussnll() -> lrlab.Task:
    """2,000 rows, batch 64, ``F.gaussian_nll_loss`` (without its constant) through
    ``model_loss``, ranked by the validation loss, 8 epochs (Adam)."""
    x, y, *_ = _noisy_rows(2000, 0)
    xv, yv, *_ = _noisy_rows(600, 1)
    return lrlab.Task.from_loaders(MeanVar, DataLoader(TensorDataset(x, y), batch_size=64,
                                                       shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=600),
                                   loss=model_loss(_gauss_nll), epochs=8, name="gaussnll",
                                   monitor="loss")


def gaussnll_floor() -> float:
    """The validation loss of a perfect model (the true mean and variance of every row),
    ``gaussian_nll_loss`` on the validation rows: the table reports ``gaussnll``'s regret as
    percent excess loss above it."""
    _, y, mean, std = _noisy_rows(600, 1)
    return float(F.gaussian_nll_loss(mean, y, std ** 2))


# --- LoRA: a frozen pretrained backbone, low-rank adapters on its layers, a new head, AdamW --

class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus ``(alpha / rank) B A x``: ``A`` drawn small, ``B`` zero
    (the adapted layer starts as the pretrained one), as the LoRA paper and peft set them."""

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float = 8.0) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.a.T) @ self.b.T


class LoRA(nn.Module):
    """``user_shapes2``'s backbone pretrained on digits 0-4, frozen, its two layers adapted
    (rank 4), a new head for digits 5-9."""

    def __init__(self) -> None:
        super().__init__()
        from user_shapes2 import _pretrained

        base = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        base.load_state_dict(_pretrained())
        self.body = nn.Sequential(LoRALinear(base[0]), nn.ReLU(), LoRALinear(base[2]), nn.ReLU())
        self.head = nn.Linear(64, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def lora() -> lrlab.Task:
    """Digits 5-9 (500 to train, batch 32), 6 epochs (AdamW, weight decay 0.01)."""
    from user_shapes2 import _digits, _loaders

    x, y = _digits()
    x, y = x[y >= 5], y[y >= 5] - 5
    return lrlab.Task.from_loaders(LoRA, *_loaders(x, y, cut=500), loss=nn.CrossEntropyLoss(),
                                   epochs=6, name="lora")
