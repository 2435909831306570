"""Models of the shapes users bring, each as a ``Task`` fed by DataLoaders the way its user
would write it: per-pixel segmentation, a VAE and a contrastive encoder scored by their own
losses, a padded seq2seq transformer, a graph network with its own collate, two heads under
one loss, quantile regression, a frozen-BatchNorm stem and a narrow ResNet-18 under momentum.

``new_user.py`` registers each as a scenario (``python new_user.py --only unet,seq2seq``);
each function is also a ``--task`` for the CLI (``lrlab find --task user_shapes:unet``, from
``benchmarks/``). Sizes are for a 2-core machine: seconds per epoch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab
from lrlab.search import model_loss


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return torch.tensor(data.data, dtype=torch.float32) / 16, torch.tensor(data.target)


# --- segmentation: a small U-Net, cross-entropy per pixel -------------------------------

def _shapes_images(n: int, seed: int, side: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy images, each with one bright disc (class 1) and one bright square (class 2):
    the network must tell round from square, not bright from dark."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, side, side, generator=g) * 0.3
    masks = torch.zeros(n, side, side, dtype=torch.long)
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    for i in range(n):
        for label in (1, 2):
            cy, cx = torch.randint(3, side - 3, (2,), generator=g).tolist()
            r = int(torch.randint(2, 4, (1,), generator=g))
            if label == 1:
                inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r
            else:
                inside = ((rows - cy).abs() <= r) & ((cols - cx).abs() <= r)
            masks[i][inside] = label
            images[i, 0][inside] += 1.0
    return images, masks


def _block(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """Two downsamplings, skip connections, logits (B, classes, H, W)."""

    def __init__(self, width: int = 8, classes: int = 3) -> None:
        super().__init__()
        c = width
        self.down1, self.down2, self.middle = _block(1, c), _block(c, 2 * c), _block(2 * c, 4 * c)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2), _block(4 * c, 2 * c)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2), _block(2 * c, c)
        self.out = nn.Conv2d(c, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.down1(x)
        b = self.down2(F.max_pool2d(a, 2))
        m = self.middle(F.max_pool2d(b, 2))
        b = self.dec2(torch.cat([self.up2(m), b], 1))
        return self.out(self.dec1(torch.cat([self.up1(b), a], 1)))


def unet() -> lrlab.Task:
    """U-Net segmentation, 256 images of 16x16, per-pixel accuracy, 6 epochs."""
    train, val = _shapes_images(256, 0), _shapes_images(128, 1)
    return lrlab.Task.from_loaders(UNet, DataLoader(TensorDataset(*train), batch_size=16, shuffle=True),
                                   DataLoader(TensorDataset(*val), batch_size=64),
                                   loss=nn.CrossEntropyLoss(), epochs=6, name="unet")


# --- a VAE scored by its ELBO ----------------------------------------------------------

class VAE(nn.Module):
    """Returns (reconstruction logits, mu, log variance)."""

    def __init__(self, dim: int = 64, hidden: int = 64, latent: int = 8) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar


def _elbo(model: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    """Negative ELBO per image: Bernoulli reconstruction plus KL to N(0, I)."""
    x = batch[0]
    recon, mu, logvar = model(x)
    rec = F.binary_cross_entropy_with_logits(recon, x, reduction="none").sum(-1)
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)
    return (rec + kl).mean()


def vae() -> lrlab.Task:
    """A VAE on the 8x8 digits, the ELBO through ``model_loss``, 10 epochs."""
    x, _ = _digits()
    return lrlab.Task.from_loaders(VAE, DataLoader(TensorDataset(x[:1200]), batch_size=64, shuffle=True),
                                   DataLoader(TensorDataset(x[1200:]), batch_size=256),
                                   loss=model_loss(_elbo), epochs=10, name="vae")


# --- a contrastive encoder: InfoNCE between two augmented views --------------------------

class _TwoViews(Dataset):
    """Each digit twice, each view shifted by up to a pixel, noised and 10% masked."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    @staticmethod
    def _view(v: torch.Tensor) -> torch.Tensor:
        shifted = torch.roll(v.view(8, 8), shifts=torch.randint(-1, 2, (2,)).tolist(), dims=(0, 1))
        return (shifted.flatten() + 0.1 * torch.randn(64)) * (torch.rand(64) > 0.1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._view(self.x[i]), self._view(self.x[i])


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


def _infonce(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
             temperature: float = 0.2) -> torch.Tensor:
    a, b = batch
    logits = model(a) @ model(b).T / temperature
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def infonce() -> lrlab.Task:
    """A contrastive encoder on the 8x8 digits, symmetric InfoNCE, 8 epochs."""
    x, _ = _digits()
    return lrlab.Task.from_loaders(
        _Encoder, DataLoader(_TwoViews(x[:1200]), batch_size=128, shuffle=True, drop_last=True),
        DataLoader(_TwoViews(x[1200:]), batch_size=128, drop_last=True),
        loss=model_loss(_infonce), epochs=8, name="infonce")


# --- seq2seq: reverse a token sequence, teacher forcing, padding --------------------------

_VOCAB, _BOS, _PAD = 14, 1, 0


class _Reversals(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        lengths = torch.randint(3, 9, (n,), generator=g).tolist()
        self.seqs = [torch.randint(2, _VOCAB, (k,), generator=g) for k in lengths]

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.seqs[i]


def _pad_pairs(batch: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Source, shifted target and labels (padding -100, left out of the loss and accuracy)."""
    n, length = len(batch), max(len(s) for s in batch)
    src, tgt_in = torch.full((n, length), _PAD), torch.full((n, length), _PAD)
    labels = torch.full((n, length), -100)
    for i, s in enumerate(batch):
        reverse = s.flip(0)
        src[i, :len(s)] = s
        tgt_in[i, 0], tgt_in[i, 1:len(s)] = _BOS, reverse[:-1]
        labels[i, :len(s)] = reverse
    return {"src": src, "tgt_in": tgt_in, "labels": labels}


class Seq2Seq(nn.Module):
    """``nn.Transformer`` (one encoder and one decoder layer), logits (B, T, vocab)."""

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(_VOCAB, d)
        self.pos = nn.Parameter(torch.randn(16, d) * 0.1)
        self.transformer = nn.Transformer(d, 4, 1, 1, 64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d, _VOCAB)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        length = tgt_in.shape[1]
        causal = torch.triu(torch.full((length, length), float("-inf")), 1)
        h = self.transformer(self.emb(src) + self.pos[:src.shape[1]],
                             self.emb(tgt_in) + self.pos[:length], tgt_mask=causal,
                             src_key_padding_mask=src == _PAD)
        return self.head(h)


def seq2seq() -> lrlab.Task:
    """Reverse 3-8 tokens with ``nn.Transformer``, dict batches, 8 epochs; token accuracy."""
    return lrlab.Task.from_loaders(
        Seq2Seq, DataLoader(_Reversals(800, 0), batch_size=32, shuffle=True, collate_fn=_pad_pairs),
        DataLoader(_Reversals(300, 1), batch_size=100, collate_fn=_pad_pairs),
        loss=lambda out, y: F.cross_entropy(out.movedim(-1, 1), y), epochs=8, name="seq2seq")


# --- a graph network with its own collate -------------------------------------------------

class _Graphs(Dataset):
    """Random graphs of 4-11 nodes; the label: at least as many edges as nodes."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            nodes = int(torch.randint(4, 12, (1,), generator=g))
            p = float(torch.rand(1, generator=g)) * 0.4
            adjacency = torch.triu(torch.rand(nodes, nodes, generator=g) < p, 1)
            edges = adjacency.nonzero().T
            features = torch.ones(nodes, 4)
            features[:, 1] = torch.rand(nodes, generator=g)
            self.items.append((features, torch.cat([edges, edges.flip(0)], 1),
                               int(adjacency.sum() >= nodes)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.items[i]


def _batch_graphs(batch: list) -> dict[str, torch.Tensor]:
    """One disjoint graph per batch; ``num_graphs`` is a tensor so the pooling's size is a
    shape, which keeps the model vectorisable."""
    features, edges, owner, offset = [], [], [], 0
    for i, (x, e, _) in enumerate(batch):
        features.append(x)
        edges.append(e + offset)
        owner.append(torch.full((len(x),), i))
        offset += len(x)
    return {"x": torch.cat(features), "edge_index": torch.cat(edges, 1), "batch": torch.cat(owner),
            "num_graphs": torch.zeros(len(batch)), "labels": torch.tensor([b[2] for b in batch])}


class GCN(nn.Module):
    """Two sum-aggregation layers, sum pooling per graph, two logits."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.l1, self.l2, self.head = nn.Linear(4, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 2)

    @staticmethod
    def _propagate(x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return x + torch.zeros_like(x).index_add(0, edge_index[1], x[edge_index[0]])

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                num_graphs: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.l1(self._propagate(x, edge_index)))
        h = F.relu(self.l2(self._propagate(h, edge_index)))
        return self.head(torch.zeros(num_graphs.shape[0], h.shape[1]).index_add(0, batch, h))


def gnn() -> lrlab.Task:
    """Graph classification, 600 graphs, 8 epochs."""
    return lrlab.Task.from_loaders(
        GCN, DataLoader(_Graphs(600, 0), batch_size=32, shuffle=True, collate_fn=_batch_graphs),
        DataLoader(_Graphs(300, 1), batch_size=100, collate_fn=_batch_graphs),
        loss=nn.CrossEntropyLoss(), epochs=8, name="gnn")


# --- two heads, dict outputs and labels, one loss -------------------------------------------

class _TwoTargets(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 10, generator=g)
        self.cls = (self.x[:, 0] + self.x[:, 1] > 0).long()
        self.reg = self.x[:, 2] * 2 + self.x[:, 3] ** 2 + 0.1 * torch.randn(n, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": {"cls": self.cls[i], "reg": self.reg[i]}}


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 64), nn.ReLU())
        self.cls, self.reg = nn.Linear(64, 2), nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {"cls": self.cls(h), "reg": self.reg(h).squeeze(-1)}


def _two_losses(model: nn.Module, batch: dict) -> torch.Tensor:
    out, y = model(batch["x"]), batch["labels"]
    return F.cross_entropy(out["cls"], y["cls"]) + 0.5 * F.mse_loss(out["reg"], y["reg"])


def multitask() -> lrlab.Task:
    """A classification and a regression head on one body, scored by their summed loss."""
    return lrlab.Task.from_loaders(TwoHeads, DataLoader(_TwoTargets(800, 0), batch_size=32, shuffle=True),
                                   DataLoader(_TwoTargets(400, 1), batch_size=200),
                                   loss=model_loss(_two_losses), epochs=8, name="multitask")


# --- quantile regression --------------------------------------------------------------------

_QUANTILES = torch.tensor([0.1, 0.5, 0.9])


def _pinball(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    e = y.unsqueeze(-1) - out
    return torch.maximum(_QUANTILES * e, (_QUANTILES - 1) * e).mean()


def _heteroscedastic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 6, generator=g) * 2 - 1
    return x, torch.sin(3 * x[:, 0]) + x[:, 1] + (0.2 + x[:, 2].abs()) * torch.randn(n, generator=g)


def quantile() -> lrlab.Task:
    """Three quantiles of a noisy target under the pinball loss, 10 epochs."""
    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    return lrlab.Task.from_loaders(
        model, DataLoader(TensorDataset(*_heteroscedastic(1000, 0)), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(*_heteroscedastic(500, 1)), batch_size=250),
        loss=_pinball, epochs=10, name="quantile", monitor="loss")


# --- a "pretrained" stem whose BatchNorm stays frozen -----------------------------------------

class FrozenBN(nn.Module):
    """Conv stem with BatchNorm statistics and affine frozen (kept in eval mode by ``train``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU())
        for m in self.stem:
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2)
                m.requires_grad_(False)
        self.head = nn.Linear(32, 10)

    def train(self, mode: bool = True) -> FrozenBN:
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x.view(-1, 1, 8, 8)).mean((2, 3)))


def frozen_bn() -> lrlab.Task:
    """The 8x8 digits through a frozen-BatchNorm stem, 6 epochs."""
    x, y = _digits()
    return lrlab.Task.from_loaders(FrozenBN, DataLoader(TensorDataset(x[:1200], y[:1200]), batch_size=32,
                                                        shuffle=True),
                                   DataLoader(TensorDataset(x[1200:], y[1200:]), batch_size=300),
                                   loss=nn.CrossEntropyLoss(), epochs=6, name="frozen-bn")


# --- a narrow ResNet-18 ---------------------------------------------------------------------

class _Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)
        self.c2, self.b2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        self.shortcut = (nn.Sequential() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18's layout (four stages of two basic blocks) at width 8."""

    def __init__(self, width: int = 8, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, c = [], width
        for stage, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            blocks += [_Basic(c, out, 1 if stage == 0 else 2), _Basic(out, out, 1)]
            c = out
        self.blocks, self.fc = nn.Sequential(*blocks), nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def _quadrants(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images; the class is the quadrant that carries a faint coloured patch."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 3, 16, 16, generator=g)
    for i, q in enumerate(y.tolist()):
        r, c = divmod(q, 2)
        x[i, q % 3, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] += 0.6
    return x, y


def resnet18() -> lrlab.Task:
    """ResNet-18 layout on 512 images of 16x16, 5 epochs (80 steps); run with momentum."""
    return lrlab.Task.from_loaders(ResNet18, DataLoader(TensorDataset(*_quadrants(512, 0)), batch_size=32,
                                                        shuffle=True),
                                   DataLoader(TensorDataset(*_quadrants(256, 1)), batch_size=128),
                                   loss=nn.CrossEntropyLoss(), epochs=5, name="resnet18")
