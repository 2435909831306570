"""Six more sequence, language and own-loss shapes users train (session 14), each a ``Task``
over DataLoaders as its user would write it: a BERT-style masked language model on padded
dict batches whose labels are -100 except at the masked tokens, returning a Hugging-Face-style
output object with ``.loss`` and ``.logits`` (AdamW), a speech-like frame tagger under
``F.ctc_loss`` with frame and label lengths in the batch (Adam), a bidirectional GRU token
tagger over ``pack_padded_sequence`` with padded labels and a class-weighted cross-entropy on
flattened positions (momentum), a small diffusion denoiser with a sinusoidal time embedding
trained by its own noise-prediction loss (Adam), a pairwise ranking model under
``nn.MarginRankingLoss`` ranked by the user's own pair-accuracy metric (SGD) and a GRU
language model whose ``model_loss`` returns the loss alone (Adam).

``new_user.py`` registers each as a scenario (``python new_user.py --only "mlm adamw"
--seeds 0,1,2 --grid 13``); each function is also a ``--task`` for the CLI (``lrlab auto
--task user_shapes7:mlm --optimizer adamw --weight-decay 0.01``, from ``benchmarks/``).
Sizes are for a 2-core machine: a second or two per epoch. Every dataset is drawn from fixed
seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader, Dataset, TensorDataset
from user_shapes4 import _tokens

import lrlab
from lrlab.search import model_loss

# --- a BERT-style masked LM: -100 labels, dict batches, an output object --------------------

PAD, MASK, VOCAB = 0, 1, 34  # ids 2-33 are the chain's 32 tokens


class Masked(Dataset):
    """Windows of 10-24 tokens of ``user_shapes4``'s seeded chain (each token allows three
    next ones), 15% of them masked once (drawn from the seed, so validation is fixed): of the
    masked, 80% become [MASK], 10% a random token, 10% stay, as BERT's collator does; labels
    are the original token there and -100 elsewhere."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        stream = _tokens(n * 24 + 1, seed) + 2
        self.items = []
        for i in range(n):
            length = int(torch.randint(10, 25, (1,), generator=g))
            ids = stream[i * 24: i * 24 + length].clone()
            chosen = torch.rand(length, generator=g) < 0.15
            chosen[int(torch.randint(0, length, (1,), generator=g))] = True  # one at least
            labels = torch.where(chosen, ids, torch.full_like(ids, -100))
            roll = torch.rand(length, generator=g)
            ids[chosen & (roll < 0.8)] = MASK
            swap = chosen & (roll >= 0.8) & (roll < 0.9)
            ids[swap] = torch.randint(2, VOCAB, (int(swap.sum()),), generator=g)
            self.items.append((ids, labels))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        ids, labels = self.items[i]
        return {"input_ids": ids, "labels": labels}


def pad_masked(items: list[dict]) -> dict:
    """Pad to the longest: ids with [PAD], labels with -100, and the attention mask."""
    length = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), length), PAD)
    labels = torch.full((len(items), length), -100)
    mask = torch.zeros(len(items), length, dtype=torch.long)
    for i, it in enumerate(items):
        k = len(it["input_ids"])
        ids[i, :k], labels[i, :k], mask[i, :k] = it["input_ids"], it["labels"], 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@dataclass
class MaskedLMOutput:
    """What a Hugging Face masked LM returns: the loss (when given labels) and the logits."""

    loss: torch.Tensor | None
    logits: torch.Tensor


class TinyBert(nn.Module):
    """Token and position embeddings with an embedding LayerNorm, two post-LN encoder layers
    (GELU) with the padding masked, a transform (dense, GELU, LayerNorm) and a decoder tied to
    the token embedding; ``forward(input_ids, attention_mask, labels=None)``."""

    def __init__(self, width: int = 32, length: int = 24) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, width, padding_idx=PAD), nn.Embedding(length, width)
        self.ln = nn.LayerNorm(width)
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.1, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.transform = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width))
        self.decoder = nn.Linear(width, VOCAB)
        self.decoder.weight = self.tok.weight
        for m in self.modules():  # BERT's initialisation
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> MaskedLMOutput:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        h = self.tok(input_ids) + self.pos(positions)
        h = self.encoder(self.ln(h), src_key_padding_mask=attention_mask == 0)
        logits = self.decoder(self.transform(h))
        loss = None if labels is None else F.cross_entropy(logits.flatten(0, 1),
                                                           labels.flatten(), ignore_index=-100)
        return MaskedLMOutput(loss, logits)


def mlm() -> lrlab.Task:
    """2,000 windows, batch 32, 5 epochs; scored by the accuracy at the masked tokens (AdamW,
    weight decay 0.01)."""
    return lrlab.Task.from_loaders(
        TinyBert, DataLoader(Masked(2000, 0), batch_size=32, shuffle=True, collate_fn=pad_masked),
        DataLoader(Masked(500, 1), batch_size=250, collate_fn=pad_masked), loss=None, epochs=5,
        name="mlm")


# --- a CTC frame tagger: frames of variable length, label sequences, F.ctc_loss -------------

class Utterances(Dataset):
    """Speech-like utterances: 2-5 symbols of 8 (1-8; 0 is CTC's blank), each spoken as 2-5
    frames of its own 12-number pattern plus noise, with a silence frame or two between;
    ``{"feats": (T, 12), "labels": (S,)}``."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        patterns = torch.randn(9, 12, generator=torch.Generator().manual_seed(91))
        patterns[0] = 0
        self.items = []
        for _ in range(n):
            symbols = torch.randint(1, 9, (int(torch.randint(2, 6, (1,), generator=g)),),
                                    generator=g)
            frames = []
            for s in symbols:
                frames += [0] * int(torch.randint(0, 3, (1,), generator=g))
                frames += [int(s)] * int(torch.randint(2, 6, (1,), generator=g))
            feats = patterns[frames] + 0.8 * torch.randn(len(frames), 12, generator=g)
            self.items.append((feats, symbols))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        feats, labels = self.items[i]
        return {"feats": feats, "labels": labels}


def pad_utterances(items: list[dict]) -> dict:
    """Frames padded with zeros, labels with zeros, and each one's true length."""
    feat_lens = torch.tensor([len(it["feats"]) for it in items])
    label_lens = torch.tensor([len(it["labels"]) for it in items])
    feats = torch.zeros(len(items), int(feat_lens.max()), 12)
    labels = torch.zeros(len(items), int(label_lens.max()), dtype=torch.long)
    for i, it in enumerate(items):
        feats[i, : feat_lens[i]], labels[i, : label_lens[i]] = it["feats"], it["labels"]
    return {"feats": feats, "feat_lens": feat_lens, "labels": labels, "label_lens": label_lens}


class FrameTagger(nn.Module):
    """A 1-D convolution over the frames, a bidirectional GRU, per-frame log-probabilities
    over blank and the 8 symbols ``(B, T, 9)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(12, 32, 3, padding=1), nn.ReLU())
        self.gru = nn.GRU(32, 32, batch_first=True, bidirectional=True)
        self.out = nn.Linear(64, 9)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        h = self.conv(feats.transpose(1, 2)).transpose(1, 2)
        return self.out(self.gru(h)[0]).log_softmax(-1)


def _ctc(model: nn.Module, batch: dict) -> torch.Tensor:
    log_probs = model(batch["feats"])
    return F.ctc_loss(log_probs.transpose(0, 1), batch["labels"], batch["feat_lens"],
                      batch["label_lens"], blank=0, zero_infinity=True)


def ctc() -> lrlab.Task:
    """1,200 utterances, batch 32, 6 epochs, ranked by the validation CTC loss (Adam)."""
    return lrlab.Task.from_loaders(
        FrameTagger, DataLoader(Utterances(1200, 0), batch_size=32, shuffle=True,
                                collate_fn=pad_utterances),
        DataLoader(Utterances(400, 1), batch_size=200, collate_fn=pad_utterances),
        loss=model_loss(_ctc), epochs=6, name="ctc")


# --- a packed bidirectional GRU tagger, padded labels, class weights ------------------------

TAGS = 5  # O, B-PER, I-PER, B-LOC, I-LOC


class Tagged(Dataset):
    """Sentences of 4-20 ids (vocabulary 80; 0 pads): a name is a title word (3-5) then 1-2
    name words (10-29); a place is a preposition (6-7) then 1-2 place words (30-44); the
    rest filler (45-79). Tags: O, B-PER, I-PER, B-LOC, I-LOC (the title and preposition are
    O: the tag of a name word depends on the word before it)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)

        def draw(lo: int, hi: int) -> int:
            return int(torch.randint(lo, hi, (1,), generator=g))
        self.items = []
        for _ in range(n):
            ids, tags = [], []
            target = draw(4, 21)
            while len(ids) < target:
                r = float(torch.rand(1, generator=g))
                if r < 0.15:
                    k = draw(1, 3)
                    ids += [draw(3, 6)] + [draw(10, 30) for _ in range(k)]
                    tags += [0, 1] + [2] * (k - 1)
                elif r < 0.27:
                    k = draw(1, 3)
                    ids += [draw(6, 8)] + [draw(30, 45) for _ in range(k)]
                    tags += [0, 3] + [4] * (k - 1)
                else:
                    ids.append(draw(45, 80) if r < 0.9 else draw(10, 45))  # ambiguous words
                    tags.append(0)
            self.items.append((torch.tensor(ids[:target]), torch.tensor(tags[:target])))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def pad_tagged(items: list) -> dict:
    """ids padded with 0, tags with -100, and each sentence's length (for packing)."""
    lengths = torch.tensor([len(ids) for ids, _ in items])
    ids = torch.zeros(len(items), int(lengths.max()), dtype=torch.long)
    tags = torch.full((len(items), int(lengths.max())), -100)
    for i, (x, t) in enumerate(items):
        ids[i, : len(x)], tags[i, : len(t)] = x, t
    return {"input_ids": ids, "lengths": lengths, "labels": tags}


class PackedTagger(nn.Module):
    """Embeddings, a bidirectional GRU over the packed sentences (padding never enters it),
    unpacked to the batch's length, a linear layer to the tags: ``(B, T, 5)``."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(80, 32, padding_idx=0)
        self.gru = nn.GRU(32, 32, batch_first=True, bidirectional=True)
        self.out = nn.Linear(64, TAGS)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.emb(input_ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        h, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True,
                                   total_length=input_ids.shape[1])
        return self.out(h)


#: the tags' weights: the rare entity tags count more (a user's inverse-frequency guess)
TAG_WEIGHTS = torch.tensor([0.2, 1.0, 2.0, 1.0, 2.0])


def _tag_loss(logits: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, TAGS), tags.reshape(-1), weight=TAG_WEIGHTS,
                           ignore_index=-100)


def tagger() -> lrlab.Task:
    """1,500 sentences, batch 32, 5 epochs; the loss flattens the positions, as a training
    loop does (momentum 0.9)."""
    return lrlab.Task.from_loaders(
        PackedTagger, DataLoader(Tagged(1500, 0), batch_size=32, shuffle=True,
                                 collate_fn=pad_tagged),
        DataLoader(Tagged(500, 1), batch_size=250, collate_fn=pad_tagged), loss=_tag_loss,
        epochs=5, name="tagger")


# --- a diffusion denoiser: a time embedding, its own noise-prediction loss ----------------

STEPS = 100
_ALPHA_BAR = torch.cumprod(1 - torch.linspace(1e-4, 0.05, STEPS), 0)


def _ring(n: int, seed: int) -> torch.Tensor:
    """Points of eight Gaussians on a ring of radius 2 (std 0.15)."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.randint(0, 8, (n,), generator=g) * (2 * math.pi / 8)
    centre = 2 * torch.stack([angle.cos(), angle.sin()], 1)
    return centre + 0.15 * torch.randn(n, 2, generator=g)


class Denoiser(nn.Module):
    """An MLP predicting the noise from the noised point and the step's sinusoidal
    embedding (16 frequencies, through a small MLP, added to the point's features)."""

    def __init__(self, width: int = 128) -> None:
        super().__init__()
        self.freqs = nn.Parameter(torch.exp(torch.linspace(0, math.log(1000), 8)),
                                  requires_grad=False)
        self.time = nn.Sequential(nn.Linear(16, width), nn.SiLU(), nn.Linear(width, width))
        self.inp = nn.Linear(2, width)
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        angle = t[:, None].float() / STEPS * self.freqs
        return self.net(self.inp(x) + self.time(torch.cat([angle.sin(), angle.cos()], 1)))


def _ddpm(model: nn.Module, batch) -> torch.Tensor:
    (x0,) = batch
    t = torch.randint(0, STEPS, (len(x0),))
    noise = torch.randn_like(x0)
    a = _ALPHA_BAR[t][:, None]
    return F.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t), noise)


def diffusion() -> lrlab.Task:
    """4,000 points, batch 128, 10 epochs; the validation loss draws its steps and noise as
    the training does (2,000 points; Adam)."""
    return lrlab.Task.from_loaders(
        Denoiser, DataLoader(TensorDataset(_ring(4000, 0)), batch_size=128, shuffle=True),
        DataLoader(TensorDataset(_ring(2000, 1)), batch_size=1000), loss=model_loss(_ddpm),
        epochs=10, name="diffusion")


# --- pairwise ranking: MarginRankingLoss, the user's pair-accuracy metric -----------------

def _relevance(x: torch.Tensor) -> torch.Tensor:
    w = torch.randn(10, generator=torch.Generator().manual_seed(93))
    return x @ w + 1.5 * torch.tanh(2 * x[:, 0] * x[:, 1]) + x[:, 2].abs()


def _pairs(n: int, seed: int) -> dict[str, torch.Tensor]:
    """Pairs of documents (10 features each) and +1 where the first is the more relevant
    (by a noisy relevance), else -1."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, 10, generator=g), torch.randn(n, 10, generator=g)
    noisy = _relevance(a) - _relevance(b) + 0.5 * torch.randn(n, generator=g)
    return {"a": a, "b": b, "target": torch.where(noisy > 0, 1.0, -1.0)}


class PairData(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        self.data = _pairs(n, seed)

    def __len__(self) -> int:
        return len(self.data["a"])

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.data.items()}


class Scorer(nn.Module):
    """One MLP scoring a document; the model scores both of a pair: ``(B,)`` each."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                 nn.Linear(32, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(a).squeeze(-1), self.net(b).squeeze(-1)


_MARGIN = nn.MarginRankingLoss(margin=1.0)


def _rank(model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    s_a, s_b = model(batch["a"], batch["b"])
    return _MARGIN(s_a, s_b, batch["target"]), s_a - s_b


def pair_accuracy(diff: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The share of pairs put in the right order."""
    return (diff * target > 0).float()


def ranking() -> lrlab.Task:
    """3,000 pairs, batch 64, 6 epochs; ranked by the pair accuracy (SGD)."""
    return lrlab.Task.from_loaders(
        Scorer, DataLoader(PairData(3000, 0), batch_size=64, shuffle=True),
        DataLoader(PairData(1000, 1), batch_size=500), loss=model_loss(_rank), epochs=6,
        name="ranking", target_key="target", metrics={"pair_accuracy": pair_accuracy},
        monitor="pair_accuracy")


# --- a GRU language model whose model_loss returns the loss alone -------------------------

class GRULM(nn.Module):
    """An embedding, a two-layer GRU and a head: next-token logits ``(B, T, 32)``."""

    def __init__(self, vocab: int = 32, width: int = 48) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.gru = nn.GRU(width, width, num_layers=2, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(self.emb(ids))[0])


def _lm(model: nn.Module, batch) -> torch.Tensor:
    (ids,) = batch
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def grulm() -> lrlab.Task:
    """1,200 windows of 25 tokens of ``user_shapes4``'s chain (the model shifts them itself),
    batch 32, 4 epochs, ranked by the validation loss (Adam)."""
    def windows(n: int, seed: int) -> TensorDataset:
        return TensorDataset(_tokens(n * 25, seed).view(n, 25))
    return lrlab.Task.from_loaders(GRULM, DataLoader(windows(1200, 0), batch_size=32, shuffle=True),
                                   DataLoader(windows(300, 1), batch_size=150),
                                   loss=model_loss(_lm), epochs=4, name="grulm")
