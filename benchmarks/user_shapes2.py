"""More models of the shapes users bring (session 10), each a ``Task`` over DataLoaders as its
user would write it: a small ViT under AdamW, a causal character LM with tied weights, a text
classifier on Hugging-Face-style dict batches, tabular categorical embeddings beside numbers,
multi-label BCE, multi-step forecasting with a 1-D convolution, distillation from a teacher's
logits, a partly frozen backbone under a new head, GroupNorm, label smoothing, a focal loss
and a Huber loss.

``new_user.py`` registers each as a scenario (``python new_user.py --only vit,charlm``); each
function is also a ``--task`` for the CLI (``lrlab auto --task user_shapes2:vit --optimizer
adamw --weight-decay 0.05``, from ``benchmarks/``). Sizes are for a 2-core machine: seconds
per epoch. The data are scikit-learn's digits or drawn from fixed seeds.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab
from lrlab.search import model_loss


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits in [0, 1], in a fixed shuffled order."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    return x[order], y[order]


def _loaders(x: torch.Tensor, *rest: torch.Tensor, cut: int, batch: int = 32
             ) -> tuple[DataLoader, DataLoader]:
    return (DataLoader(TensorDataset(x[:cut], *(t[:cut] for t in rest)), batch_size=batch,
                       shuffle=True),
            DataLoader(TensorDataset(x[cut:], *(t[cut:] for t in rest)), batch_size=256))


def _images() -> tuple[DataLoader, DataLoader]:
    x, y = _digits()
    return _loaders(x.view(-1, 1, 8, 8), y, cut=1300)


# --- a tiny ViT: patch embedding, class token, pre-norm encoder, AdamW ----------------------

class ViT(nn.Module):
    """2x2 patches of an 8x8 image, 2 pre-norm blocks of width 32, a class token."""

    def __init__(self, width: int = 32, depth: int = 2, heads: int = 4, patch: int = 2) -> None:
        super().__init__()
        self.patch = nn.Conv2d(1, width, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, (8 // patch) ** 2 + 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.1, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], 1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


def vit() -> lrlab.Task:
    """ViT on digits, 1,300 images, 8 epochs (train it with AdamW, weight decay 0.05)."""
    return lrlab.Task.from_loaders(ViT, *_images(), loss=nn.CrossEntropyLoss(), epochs=8,
                                   name="vit")


# --- a causal character LM: logits (B, T, V), next-token cross-entropy, tied weights --------

def _sentences(n_chars: int = 40000) -> tuple[torch.Tensor, int]:
    """Sentences of a small grammar (seeded): spelling, word order to learn; (ids, vocab)."""
    rnd = random.Random(0)
    det = ["the", "a", "every", "no", "some"]
    adj = ["small", "red", "quiet", "heavy", "old", "bright"]
    noun = ["cat", "model", "river", "teacher", "lamp", "garden", "number", "engine"]
    verb = ["sees", "moves", "likes", "holds", "finds", "follows"]
    prep = ["near", "under", "behind", "with"]
    out: list[str] = []
    while sum(map(len, out)) < n_chars:
        words = ([rnd.choice(det)] + ([rnd.choice(adj)] if rnd.random() < 0.5 else [])
                 + [rnd.choice(noun), rnd.choice(verb), rnd.choice(det), rnd.choice(noun)])
        if rnd.random() < 0.4:
            words += [rnd.choice(prep), rnd.choice(det), rnd.choice(noun)]
        out.append(" ".join(words) + ". ")
    text = "".join(out)[:n_chars]
    chars = sorted(set(text))
    return torch.tensor([chars.index(c) for c in text]), len(chars)


class CharLM(nn.Module):
    """Token and position embeddings, 2 causal pre-norm blocks, the head tied to the
    embedding (initialised as GPT-2's, std 0.02)."""

    def __init__(self, vocab: int, width: int = 48, length: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        nn.init.normal_(self.emb.weight, std=0.02)
        self.head.weight = self.emb.weight
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(length))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.emb(idx) + self.pos[:, : idx.shape[1]]
        return self.head(self.ln(self.encoder(h, mask=self.mask, is_causal=True)))


def charlm() -> lrlab.Task:
    """Next-character prediction on 40,000 characters in windows of 32, 4 epochs; the loss
    flattens (B, T, V) as a user writes it (train it with AdamW, weight decay 0.01)."""
    ids, vocab = _sentences()
    n = (len(ids) - 1) // 32
    x, y = ids[: n * 32].view(n, 32), ids[1: n * 32 + 1].view(n, 32)

    def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
    return lrlab.Task.from_loaders(lambda: CharLM(vocab), *_loaders(x, y, cut=int(n * 0.85)),
                                   loss=loss, epochs=4, name="charlm")


# --- text classification on dict batches {input_ids, attention_mask, labels} ----------------

class TokenLists(Dataset):
    """``items`` of (token ids, label), served as a tokenizer's dict batches are."""

    items: list[tuple[torch.Tensor, int]]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        ids, label = self.items[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                "labels": torch.tensor(label)}


class Sentences(TokenLists):
    """Token lists of 5-29 ids; label: tokens 5 and 6 outnumber tokens 7 and 8."""

    def __init__(self, n: int, seed: int, vocab: int = 50) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            ids = torch.randint(3, vocab, (int(torch.randint(5, 30, (1,), generator=g)),),
                                generator=g)
            label = int((ids == 5).sum() + (ids == 6).sum() > (ids == 7).sum() + (ids == 8).sum())
            self.items.append((ids, label))


def pad(items: list[dict]) -> dict:
    """Pad a batch of token lists with 0, as a tokenizer's collator does."""
    length = max(len(it["input_ids"]) for it in items)
    ids = torch.zeros(len(items), length, dtype=torch.long)
    mask = torch.zeros(len(items), length, dtype=torch.long)
    for i, it in enumerate(items):
        ids[i, : len(it["input_ids"])], mask[i, : len(it["input_ids"])] = it["input_ids"], 1
    return {"input_ids": ids, "attention_mask": mask,
            "labels": torch.stack([it["labels"] for it in items])}


class MeanPool(nn.Module):
    """Embeddings averaged over the attention mask, then an MLP."""

    def __init__(self, vocab: int = 50, width: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.emb(input_ids) * attention_mask.unsqueeze(-1)
        return self.mlp(h.sum(1) / attention_mask.sum(1, keepdim=True))


def hftext() -> lrlab.Task:
    """1,200 padded token lists, batches as dicts, 8 epochs."""
    train = DataLoader(Sentences(1200, 0), batch_size=32, shuffle=True, collate_fn=pad)
    val = DataLoader(Sentences(400, 1), batch_size=128, collate_fn=pad)
    return lrlab.Task.from_loaders(MeanPool, train, val, loss=nn.CrossEntropyLoss(), epochs=8,
                                   name="hftext")


# --- tabular: categorical embeddings beside numeric features, dict inputs -------------------

class Rows(Dataset):
    """Three categorical columns (7, 12, 4 levels) and five numeric ones; three classes
    from a score mixing both (an interaction included)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.cat = torch.stack([torch.randint(0, k, (n,), generator=g) for k in (7, 12, 4)], 1)
        self.num = torch.randn(n, 5, generator=g)
        w = torch.randn(7, generator=torch.Generator().manual_seed(99))
        score = (w[self.cat[:, 0]] + 0.5 * (self.cat[:, 1] % 3 == 0).float()
                 + self.num[:, 0] * self.num[:, 1] + self.num[:, 2])
        self.y = torch.bucketize(score, torch.tensor([-0.7, 0.7]))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"cat": self.cat[i], "num": self.num[i], "labels": self.y[i]}


class TabularNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embs = nn.ModuleList([nn.Embedding(k, 4) for k in (7, 12, 4)])
        self.mlp = nn.Sequential(nn.Linear(17, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64),
                                 nn.ReLU(), nn.Linear(64, 3))

    def forward(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([emb(cat[:, i]) for i, emb in enumerate(self.embs)] + [num], -1))


def tabcat() -> lrlab.Task:
    """2,000 rows, batches {cat, num, labels}, 10 epochs."""
    return lrlab.Task.from_loaders(TabularNet,
                                   DataLoader(Rows(2000, 0), batch_size=64, shuffle=True),
                                   DataLoader(Rows(600, 1), batch_size=256),
                                   loss=nn.CrossEntropyLoss(), epochs=10, name="tabcat")


# --- multi-label: four 0/1 labels per digit, BCEWithLogits on (B, 4) -----------------------

def multilabel() -> lrlab.Task:
    """Even, at least 5, has a loop, a multiple of 3: ranked by validation loss, 10 epochs."""
    x, y = _digits()
    labels = torch.stack([y % 2 == 0, y >= 5, (y == 0) | (y == 6) | (y == 8) | (y == 9),
                          y % 3 == 0], 1).float()
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4)),
        *_loaders(x, labels, cut=1300), loss=nn.BCEWithLogitsLoss(), epochs=10, name="multilabel")


# --- multi-step forecasting: 48 steps in, 12 out, 1-D convolutions, MSE ---------------------

def _series(n: int, seed: int, window: int = 48, horizon: int = 12):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(window + horizon, dtype=torch.float32)
    freq = 0.05 + 0.25 * torch.rand(n, 1, generator=g)
    phase, amp = 6.3 * torch.rand(n, 1, generator=g), 0.5 + torch.rand(n, 1, generator=g)
    s = (amp * torch.sin(freq * t + phase) + 0.3 * torch.sin(2.7 * freq * t)
         + 0.1 * torch.randn(n, window + horizon, generator=g))
    return s[:, None, :window], s[:, window:]


def _forecaster() -> nn.Module:
    return nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 16, 5, padding=2),
                         nn.ReLU(), nn.Conv1d(16, 16, 3, padding=2, dilation=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(16 * 48, 12))


def forecast() -> lrlab.Task:
    """Noisy mixed sines, 1,500 windows, 12 steps ahead (B, 12), 8 epochs."""
    (x, y), (xv, yv) = _series(1500, 0), _series(400, 1)
    return lrlab.Task.from_loaders(_forecaster,
                                   DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
                                   DataLoader(TensorDataset(xv, yv), batch_size=256),
                                   loss=nn.MSELoss(), epochs=8, name="forecast")


# --- knowledge distillation from a teacher's logits ------------------------------------------

def _teacher_logits(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A 64-256-10 MLP trained 300 Adam steps on the first 1,300 digits: its logits."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        teacher = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
        opt = torch.optim.Adam(teacher.parameters(), 3e-3)
        for _ in range(300):
            i = torch.randint(0, 1300, (64,))
            opt.zero_grad()
            F.cross_entropy(teacher(x[i]), y[i]).backward()
            opt.step()
        with torch.no_grad():
            return teacher(x)


def _kd(model: nn.Module, batch, temperature: float = 4.0, alpha: float = 0.7):
    """Hinton's loss: alpha T^2 KL(teacher || student at temperature T) + (1 - alpha) CE;
    returns (loss, outputs) so the student's accuracy is scored."""
    x, teacher, y = batch
    out = model(x)
    kl = F.kl_div(F.log_softmax(out / temperature, -1), F.log_softmax(teacher / temperature, -1),
                  log_target=True, reduction="batchmean") * temperature ** 2
    return alpha * kl + (1 - alpha) * F.cross_entropy(out, y), out


def distill() -> lrlab.Task:
    """A 64-16-10 student, batches (x, teacher logits, y) under model_loss, 10 epochs."""
    x, y = _digits()
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
        *_loaders(x, _teacher_logits(x, y), y, cut=1300), loss=model_loss(_kd), epochs=10,
        name="distill")


# --- fine-tuning: a pretrained backbone, its first layer frozen, a new head ------------------

_BACKBONE: dict[str, dict] = {}


def _pretrained() -> dict:
    """A 64-128-64 backbone trained 200 Adam steps on digits 0-4 (once per process)."""
    if not _BACKBONE:
        x, y = _digits()
        x, y = x[y < 5], y[y < 5]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                nn.Linear(64, 5))
            opt = torch.optim.Adam(net.parameters(), 3e-3)
            for _ in range(200):
                i = torch.randint(0, len(y), (64,))
                opt.zero_grad()
                F.cross_entropy(net(x[i]), y[i]).backward()
                opt.step()
        _BACKBONE.update({k: v.detach().clone() for k, v in net[:4].state_dict().items()})
    return _BACKBONE


class FineTune(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.backbone.load_state_dict(_pretrained())
        self.backbone[0].requires_grad_(False)  # the first layer frozen, the second tuned
        self.head = nn.Linear(64, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def finetune() -> lrlab.Task:
    """Digits 5-9 (300 to train, batch 16), 6 epochs."""
    x, y = _digits()
    x, y = x[y >= 5], y[y >= 5] - 5
    return lrlab.Task.from_loaders(FineTune, *_loaders(x, y, cut=300, batch=16),
                                   loss=nn.CrossEntropyLoss(), epochs=6, name="finetune")


# --- GroupNorm, label smoothing, a focal loss, a Huber loss ---------------------------------

def _gn_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.GroupNorm(8, 32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def groupnorm() -> lrlab.Task:
    """A GroupNorm CNN ending in global average pooling, 6 epochs (slow to learn)."""
    return lrlab.Task.from_loaders(_gn_cnn, *_images(), loss=nn.CrossEntropyLoss(), epochs=6,
                                   name="groupnorm")


def smooth() -> lrlab.Task:
    """The GroupNorm CNN under label smoothing 0.1."""
    return lrlab.Task.from_loaders(_gn_cnn, *_images(),
                                   loss=nn.CrossEntropyLoss(label_smoothing=0.1), epochs=6,
                                   name="smooth")


class FocalLoss(nn.Module):
    """Lin et al. 2017's focal loss on softmax: mean of -(1 - p_y)^gamma log p_y."""

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
        return (-(1 - logp.exp()) ** self.gamma * logp).mean()


def focal() -> lrlab.Task:
    """Digits with class 3 cut to an eighth, an MLP under the focal loss, 10 epochs."""
    x, y = _digits()
    keep = (y != 3) | (torch.arange(len(y)) % 8 == 0)
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
        *_loaders(x[keep], y[keep], cut=1100), loss=FocalLoss(), epochs=10, name="focal")


def huber() -> lrlab.Task:
    """A regression with 5% outliers (noise x 8), outputs (B, 1), Huber loss, 10 epochs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2400, 10, generator=g)
    y = (x[:, 0] * 2 + torch.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3]
         + 0.2 * torch.randn(2400, generator=g))
    outliers = torch.rand(2400, generator=g) < 0.05
    y[outliers] += 8 * torch.randn(int(outliers.sum()), generator=g)
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                              nn.Linear(64, 1)),
        *_loaders(x, y.unsqueeze(-1), cut=2000, batch=64), loss=nn.HuberLoss(), epochs=10,
        name="huber")
