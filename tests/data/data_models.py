"""Small versions of the models people train, and data in the forms their code has it.

(a) a ResNet-style CNN with BatchNorm on images a Dataset crops and flips at random;
(b) a transformer text classifier on dict batches that computes its own loss;
(c) a GRU sequence classifier; (d) a tabular MLP regression with MSE.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrlab
from lrlab.tasks import Task


class Images(Dataset):
    """Two classes of 3x10x10 images; ``__getitem__`` crops 8x8 at random and flips."""

    def __init__(self, n: int, seed: int, *, augment: bool = True) -> None:
        g = torch.Generator().manual_seed(seed)
        self.targets = torch.randint(0, 2, (n,), generator=g)
        base = torch.randn(n, 3, 10, 10, generator=g) * 0.5
        self.x = base + self.targets.view(-1, 1, 1, 1) * torch.linspace(-1, 1, 10)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        img = self.x[i]
        if self.augment:
            top, left = torch.randint(0, 3, (2,)).tolist()
            img = img[:, top:top + 8, left:left + 8]
            if torch.rand(()) < 0.5:
                img = img.flip(-1)
        else:
            img = img[:, 1:9, 1:9]
        return img, self.targets[i]


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


class ResNetish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        self.block = Block(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.stem(x)).mean((2, 3)))


def resnet_task(workers: int = 2, *, n: int = 48) -> Task:
    train = DataLoader(Images(n, 0), batch_size=16, shuffle=True, num_workers=workers)
    val = DataLoader(Images(32, 1, augment=False), batch_size=16)
    return Task.from_loaders(ResNetish, train, val, loss=nn.CrossEntropyLoss(), name="resnet",
                             epochs=2)


class Texts(Dataset):
    """Token ids with an attention mask; the class is whether token 0 is above 25."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 40, (n, 10), generator=g)
        self.lengths = torch.randint(6, 11, (n,), generator=g)
        self.labels = (self.ids[:, 0] > 20).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        mask = (torch.arange(10) < self.lengths[i]).long()
        return {"input_ids": self.ids[i] * mask, "attention_mask": mask,
                "labels": self.labels[i]}


class TinyTransformer(nn.Module):
    """Embedding, one encoder layer, mean pooling; returns a dict with loss and logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                labels: Tensor | None = None) -> dict[str, Tensor]:
        h = self.encoder(self.embed(input_ids), src_key_padding_mask=attention_mask == 0)
        keep = attention_mask.unsqueeze(-1).to(h.dtype)
        logits = self.head((h * keep).sum(1) / keep.sum(1))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


def transformer_task() -> Task:
    return Task.from_loaders(TinyTransformer, DataLoader(Texts(48, 0), batch_size=16,
                                                         shuffle=True),
                             DataLoader(Texts(32, 1), batch_size=16), loss=None,
                             name="text", epochs=2)


class GRUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.gru(x)[0][:, -1])


def gru_task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 6, 3, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long()
    return Task.from_loaders(GRUNet, DataLoader(TensorDataset(x[:48], y[:48]), batch_size=16,
                                                shuffle=True),
                             DataLoader(TensorDataset(x[48:], y[48:]), batch_size=32),
                             loss=nn.CrossEntropyLoss(), name="gru", epochs=2)


def regression_task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 5, generator=g)
    y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(160, 1, generator=g)
    model = lambda: nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    return Task.from_loaders(model, DataLoader(TensorDataset(x[:128], y[:128]), batch_size=32,
                                               shuffle=True),
                             DataLoader(TensorDataset(x[128:], y[128:]), batch_size=32),
                             loss=nn.MSELoss(), name="tabular", epochs=3)


def batch_loss(task: Task, model: nn.Module, batch) -> Tensor:
    """One batch's loss as a user's own training loop computes it."""
    if task.loss is None:
        out = model(**batch)
        return out["loss"] if isinstance(out, dict) else out.loss
    x, y = batch
    return task.loss.fn(model(x), y)


def plain_run(task: Task, lr: float, *, seed: int = 0, epochs: int | None = None
              ) -> nn.Module:
    """A plain PyTorch loop: SGD at ``lr`` on the epochs' batches lrlab gives the run."""
    model = task.init_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in range(1, (epochs or task.epochs) + 1):
            model.train()
            for batch in lrlab.data.batches(task.train, batch_size=task.batch_size, seed=seed,
                                            epoch=epoch, shuffle=True):
                loss = batch_loss(task, model, batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model


class Tokens(Dataset):
    """Dicts of integer token ids and a label, 90% class 0; the labels are given only by
    ``__getitem__`` (no ``targets`` attribute to read up front). With ``signal`` class 1
    sequences hold token 19 somewhere (and no class 0 one does); without, the labels are
    noise."""

    def __init__(self, n: int, seed: int, *, signal: bool) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 19, (n, 8), generator=g)
        positive = torch.rand(n, generator=g) < 0.1
        if signal:
            where = torch.randint(0, 8, (int(positive.sum()),), generator=g)
            self.ids[positive.nonzero()[:, 0], where] = 19
        self._y = positive.long()

    def __len__(self) -> int:
        return len(self._y)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"input_ids": self.ids[i], "labels": self._y[i]}


class TokenBag(nn.Module):
    """Mean of token embeddings, then class logits; ``own_loss``: a Hugging Face style dict
    with the loss when given labels."""

    def __init__(self, own_loss: bool) -> None:
        super().__init__()
        self.embed, self.head, self.own_loss = nn.Embedding(20, 8), nn.Linear(8, 2), own_loss

    def forward(self, input_ids: Tensor, labels: Tensor | None = None):
        logits = self.head(self.embed(input_ids).mean(1))
        if not self.own_loss:
            return logits
        return {"logits": logits} | ({} if labels is None
                                     else {"loss": F.cross_entropy(logits, labels)})


def tokens_task(*, signal: bool, own_loss: bool, n: int = 2000) -> Task:
    """Imbalanced token classification from a DataLoader of dicts (see :class:`Tokens`)."""
    train = DataLoader(Tokens(n, 0, signal=signal), batch_size=20, shuffle=True)
    val = DataLoader(Tokens(n // 2, 1, signal=signal), batch_size=200)
    return Task.from_loaders(lambda: TokenBag(own_loss), train, val,
                             loss=None if own_loss else nn.CrossEntropyLoss(), name="tokens",
                             epochs=3)
