"""Eight more shapes users train (session 14), each a ``Task`` over DataLoaders as its user
would write it: ConvNeXt blocks (a patchify stem, depthwise 7x7 convolutions, a channels-last
LayerNorm, GELU and layer scale started at 1e-6) under AdamW, a squeeze-and-excitation ResNet
whose every block's last BatchNorm starts at zero gamma (SGD Nesterov, weight decay 5e-4,
a one-cycle schedule), a weight-tied autoencoder (the decoder the encoder's transpose; SGD,
MSE), torch's own ``nn.TransformerEncoder`` with its defaults (post-norm, nested tensors, the
fast path in evaluation) over image patches (Adam), a spectrally normalised CNN
(``torch.nn.utils.parametrizations.spectral_norm``, its power iteration updating buffers in
every training forward; Adam), a log-spectrogram CNN computing ``torch.stft`` in its forward
(momentum 0.9), a CNN trained under bfloat16 autocast on the CPU inside the user's loss
(AdamW) and a linear model over 8,192 hashed text features trained four rows at a time (SGD).

``new_user.py`` registers each as a scenario (``python new_user.py --only "convnext adamw"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes6:convnext --optimizer adamw --weight-decay 0.05``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. The images are the first MNIST
images (``/work/shared/data/mnist``, or ``$LRLAB_DATA``); the rest is drawn from fixed seeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.utils.data import DataLoader, Dataset, TensorDataset
from user_shapes3 import _clips, _pairs

import lrlab
from lrlab.search import model_loss


def _mnist(n_train: int, n_val: int) -> tuple[TensorDataset, TensorDataset]:
    from new_user import _mnist as read

    return read(n_train, n_val)


def _images(n_train: int = 2000, batch: int = 64) -> tuple[DataLoader, DataLoader]:
    train, val = _mnist(n_train, 1000)
    return DataLoader(train, batch_size=batch, shuffle=True), DataLoader(val, batch_size=500)


# --- ConvNeXt blocks: depthwise 7x7, channels-last LayerNorm, GELU MLP, layer scale, AdamW --

class _ConvNeXtBlock(nn.Module):
    """x + gamma * MLP(LayerNorm(dwconv7x7(x))), the LayerNorm and MLP over channels-last
    ``(B, H, W, C)``; gamma (layer scale) starts at 1e-6, as ConvNeXt sets it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(width, width, 7, padding=3, groups=width)
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
        self.gamma = nn.Parameter(torch.full((width,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.dw(x).permute(0, 2, 3, 1))
        h = self.gamma * self.down(F.gelu(self.up(h)))
        return x + h.permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """A 4x4 stride-4 patchify stem (28 -> 7) to 32 channels with a channels-first
    LayerNorm, two blocks, global average, LayerNorm, head."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.stem, self.stem_norm = nn.Conv2d(1, width, 4, 4), nn.LayerNorm(width, eps=1e-6)
        self.blocks = nn.Sequential(_ConvNeXtBlock(width), _ConvNeXtBlock(width))
        self.norm, self.head = nn.LayerNorm(width, eps=1e-6), nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem_norm(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.head(self.norm(self.blocks(h).mean((2, 3))))


def convnext() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (AdamW, weight decay 0.05)."""
    return lrlab.Task.from_loaders(ConvNeXt, *_images(), loss=nn.CrossEntropyLoss(), epochs=4,
                                   name="convnext")


# --- an SE-ResNet, each block's last BatchNorm at zero gamma: Nesterov, wd 5e-4, one cycle ---

class _SE(nn.Module):
    """Squeeze and excitation: channel weights from the pooled channels through a
    bottleneck of a quarter of them and a sigmoid."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width // 4), nn.Linear(width // 4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * w[:, :, None, None]


class _SEBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        nn.init.zeros_(self.b2.weight)  # "zero-init the last BN in each residual branch"
        self.se = _SE(c_out)
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                   nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.se(self.b2(self.c2(F.relu(self.b1(self.c1(x))))))
        return F.relu(h + self.skip(x))


class SEResNet(nn.Module):
    """A stride-2 stem (28 -> 14) to 16 channels, three SE blocks (16, 16, 32 at stride 2),
    pooled, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.blocks = nn.Sequential(_SEBlock(16, 16, 1), _SEBlock(16, 16, 1),
                                    _SEBlock(16, 32, 2))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def seresnet() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs; its user trains with Nesterov momentum 0.9,
    weight decay 5e-4 and a one-cycle schedule (``--optimizer nesterov --weight-decay 5e-4
    --schedule onecycle``)."""
    return lrlab.Task.from_loaders(SEResNet, *_images(), loss=nn.CrossEntropyLoss(), epochs=4,
                                   name="seresnet")


# --- a weight-tied autoencoder: the decoder is the encoder's transpose, SGD, MSE -------------

class TiedAE(nn.Module):
    """784 -> 256 -> 64 with ReLU, back through the same two matrices transposed (own
    decoder biases), a sigmoid on the pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1, self.enc2 = nn.Linear(784, 256), nn.Linear(256, 64)
        self.dec2, self.dec1 = nn.Parameter(torch.zeros(256)), nn.Parameter(torch.zeros(784))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.enc2(F.relu(self.enc1(x.flatten(1)))))
        h = F.relu(F.linear(h, self.enc2.weight.t(), self.dec2))
        return torch.sigmoid(F.linear(h, self.enc1.weight.t(), self.dec1))


def tiedae() -> lrlab.Task:
    """2,000 MNIST images scaled to [0, 1], reconstructed under MSE, batch 32, 4 epochs (SGD),
    ranked by the validation loss."""
    train, val = _mnist(2000, 1000)
    pixels = [(t.tensors[0] * 0.31 + 0.13).flatten(1) for t in (train, val)]
    return lrlab.Task.from_loaders(
        TiedAE, DataLoader(TensorDataset(pixels[0], pixels[0]), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(pixels[1], pixels[1]), batch_size=500), loss=nn.MSELoss(),
        epochs=4, name="tiedae")


# --- torch's own nn.TransformerEncoder, all defaults, over image patches, Adam ---------------

class PatchEncoder(nn.Module):
    """16 patches of 7x7 pixels embedded to 32 with learned positions, a two-layer
    ``nn.TransformerEncoder`` as its documentation builds it (post-norm, ReLU, dropout 0.1,
    nested tensors on, so evaluation takes the fast path), mean over patches, head."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Linear(49, width)
        self.pos = nn.Parameter(torch.zeros(1, 16, width))
        layer = nn.TransformerEncoderLayer(d_model=width, nhead=4, dim_feedforward=64,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x.unfold(2, 7, 7).unfold(3, 7, 7).reshape(len(x), 16, 49)
        return self.head(self.encoder(self.embed(patches) + self.pos).mean(1))


def patchenc() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (Adam)."""
    return lrlab.Task.from_loaders(PatchEncoder, *_images(), loss=nn.CrossEntropyLoss(),
                                   epochs=4, name="patchenc")


# --- a spectrally normalised CNN (parametrizations.spectral_norm), Adam ----------------------

def _specnorm() -> nn.Module:
    """Two convolutions and a linear layer, each under ``spectral_norm`` (one power
    iteration per training forward, its vectors kept as buffers), LeakyReLU as in a GAN
    critic, to ten classes."""
    return nn.Sequential(spectral_norm(nn.Conv2d(1, 16, 3, 2, 1)), nn.LeakyReLU(0.2),
                         spectral_norm(nn.Conv2d(16, 32, 3, 2, 1)), nn.LeakyReLU(0.2),
                         nn.Flatten(), spectral_norm(nn.Linear(32 * 49, 10)))


def specnorm() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (Adam)."""
    return lrlab.Task.from_loaders(_specnorm, *_images(), loss=nn.CrossEntropyLoss(), epochs=4,
                                   name="specnorm")


# --- a log-spectrogram CNN: torch.stft inside forward, BatchNorm, momentum 0.9 --------------

class Spectrogram(nn.Module):
    """``torch.stft`` (a Hann window of 64, hop 16) of each clip, its magnitude pooled into 24
    triangular bands, ``log1p``, then a 2-D CNN with BatchNorm, as a user with torchaudio's
    ``MelSpectrogram`` in the model writes it."""

    def __init__(self, bands: int = 24, n_fft: int = 64) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(n_fft))
        centres = torch.linspace(0, n_fft // 2, bands + 2)
        freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float32)
        lo, mid, hi = centres[:-2, None], centres[1:-1, None], centres[2:, None]
        tri = torch.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)).clamp(min=0)
        self.register_buffer("bands", tri)
        self.n_fft = n_fft
        self.cnn = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 16, 3, padding=1),
                                 nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 5))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.squeeze(1), self.n_fft, hop_length=self.n_fft // 4,
                          window=self.window, return_complex=True).abs()
        return self.cnn(torch.log1p(self.bands @ spec).unsqueeze(1))


def melcnn() -> lrlab.Task:
    """``user_shapes3``'s 2,000 clips of 512 samples (five kinds), batch 32, 4 epochs
    (momentum 0.9)."""
    return lrlab.Task.from_loaders(Spectrogram, *_pairs(_clips(2000, 0), _clips(600, 1), 32, 300),
                                   loss=nn.CrossEntropyLoss(), epochs=4, name="melcnn")


# --- a CNN trained under bfloat16 autocast on the CPU (inside the user's loss), AdamW --------

def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 49, 10))


def _autocast_loss(model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward and the loss under ``torch.autocast("cpu", dtype=torch.bfloat16)``, as
    the user's own loop runs them: bfloat16 logits, the loss in float32 (autocast's
    cross-entropy)."""
    x, y = batch
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        return F.cross_entropy(logits, y), logits


def bf16() -> lrlab.Task:
    """2,000 MNIST images, batch 64, 4 epochs (AdamW, weight decay 0.01)."""
    return lrlab.Task.from_loaders(_cnn, *_images(), loss=model_loss(_autocast_loss), epochs=4,
                                   name="bf16")


# --- a linear model over 8,192 hashed text features, four rows a step, SGD ------------------

class Hashed(Dataset):
    """Documents as counts of 8,192 hashed word features (about 60 words each, most from a
    shared vocabulary of 5,000, a few from one of three topics' 100 words each), the
    counts log-scaled; the label is the topic."""

    def __init__(self, n: int, seed: int, dim: int = 8192) -> None:
        g, fixed = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(55)
        common, topics = torch.randint(0, dim, (5000,), generator=fixed), torch.randint(
            0, dim, (3, 100), generator=fixed)
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.x = torch.zeros(n, dim)
        for i in range(n):
            words = common[torch.randint(0, 5000, (55,), generator=g)]
            marked = topics[self.y[i], torch.randint(0, 100, (5,), generator=g)]
            self.x[i].index_add_(0, torch.cat([words, marked]), torch.ones(60))
        self.x = torch.log1p(self.x)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def hashed() -> lrlab.Task:
    """600 documents, batch 4, 2 epochs (300 steps), a linear layer 8,192 -> 3 (SGD)."""
    return lrlab.Task.from_loaders(lambda: nn.Linear(8192, 3),
                                   DataLoader(Hashed(600, 0), batch_size=4, shuffle=True),
                                   DataLoader(Hashed(600, 1), batch_size=300),
                                   loss=nn.CrossEntropyLoss(), epochs=2, name="hashed")

