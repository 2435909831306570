"""Is lrlab's suggestion a good fine-tuning rate? A small pretrained model, built offline.

Finders are said to mislead on fine-tuning ("usually indicate 1e-3 when the best is in the
1e-5 range", huggingface/transformers#16013). This measures it without downloads:

1. **Pretraining.** A synthetic language: two Markov chains over 56 tokens (``A`` with peaked
   random transitions, ``B`` = 70% ``A`` + 30% another peaked chain), sequences of 24 tokens
   drawn from both. A tiny BERT (2 layers, hidden 64, 4 heads) learns it by masked-language
   modelling (15% of tokens, AdamW 1e-3, ``--pretrain-steps`` steps of 32).
2. **Fine-tuning**, on another task: which chain wrote a sequence (512 labelled training
   sequences, 1024 validation), with the Hugging Face ``Trainer`` (AdamW, weight decay 0.01,
   linear decay after a 10% warm-up, batch 16, ``--epochs`` epochs), from the pretrained
   encoder and a new head drawn from each seed.
3. **The grid**: every rate of ``--grid`` (half decades 1e-5 .. 1e-1), each seed; a rate's
   score is its mean over seeds of the best validation accuracy over the epochs; the
   oracle is the best rate's score.
4. **The finder**: per seed, :func:`lrlab.integrations.transformers.find_trainer_lr` on the
   freshly built trainer (range test 1e-7 .. 1, 100 steps, the trainer's own AdamW and
   loss), then that trainer trains at the reading. Every reading of the same curve is
   trained the same way. ``regret`` = oracle - the reading's mean score, in points.

Run: ``OMP_NUM_THREADS=1 python benchmarks/finetune_finder.py`` (CPU, a few minutes).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

VOCAB, LENGTH, FIRST = 60, 24, 4  # tokens 0..3: pad, cls, mask, unused
READINGS = ("suggestion", "recommended", "valley", "steepest", "min_div10")


def _chain(g: torch.Generator) -> torch.Tensor:
    """A peaked random transition matrix over the word tokens."""
    n = VOCAB - FIRST
    logits = torch.randn(n, n, generator=g) * 3.0
    return torch.softmax(logits, dim=1)


def _sequences(chain: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    words = torch.empty(n, LENGTH - 1, dtype=torch.long)
    words[:, 0] = torch.randint(0, chain.shape[0], (n,), generator=g)
    for t in range(1, LENGTH - 1):
        words[:, t] = torch.multinomial(chain[words[:, t - 1]], 1, generator=g)[:, 0]
    return torch.cat([torch.ones(n, 1, dtype=torch.long), words + FIRST], dim=1)


def language(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = _chain(g)
    b = 0.7 * a + 0.3 * _chain(g)
    return a, b, g


class Labelled(torch.utils.data.Dataset):
    def __init__(self, ids: torch.Tensor, labels: torch.Tensor) -> None:
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(LENGTH, dtype=torch.long),
                "labels": self.labels[i]}


def pretrain(folder: Path, steps: int) -> float:
    """Masked-language modelling on both chains; saves the model; returns the last loss."""
    from transformers import BertConfig, BertForMaskedLM

    a, b, g = language(0)
    corpus = torch.cat([_sequences(a, 4000, g), _sequences(b, 4000, g)])
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128,
                        max_position_embeddings=LENGTH, pad_token_id=0)
    model = BertForMaskedLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        ids = corpus[torch.randint(0, len(corpus), (32,), generator=g)]
        mask = (torch.rand(ids.shape, generator=g) < 0.15) & (ids >= FIRST)
        labels = torch.where(mask, ids, torch.full_like(ids, -100))
        loss = model(input_ids=torch.where(mask, torch.full_like(ids, 2), ids),
                     labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.save_pretrained(folder)
    return float(np.mean(losses[-50:]))


def finetune_data():
    a, b, g = language(0)
    g.manual_seed(1)  # other sequences than pretraining's

    def split(n):
        ids = torch.cat([_sequences(a, n // 2, g), _sequences(b, n // 2, g)])
        labels = torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]).long()
        return Labelled(ids, labels)

    return split(512), split(1024)


def trainer_for(folder: Path, seed: int, lr: float, epochs: int, data):
    from transformers import (
        BertForSequenceClassification,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    torch.manual_seed(seed)  # the new head
    model = BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), learning_rate=lr, num_train_epochs=epochs,
        per_device_train_batch_size=16, per_device_eval_batch_size=256, weight_decay=0.01,
        warmup_steps=0.1, eval_strategy="epoch", save_strategy="no", logging_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True, seed=seed)

    def accuracy(pred):
        return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}

    trainer = Trainer(model=model, args=args, train_dataset=data[0], eval_dataset=data[1],
                      compute_metrics=accuracy)
    trainer.remove_callback(PrinterCallback)  # no log lines per epoch
    return trainer


def score(trainer) -> float:
    """Best validation accuracy over the epochs (chance when training diverged)."""
    trainer.train()
    accs = [h["eval_accuracy"] for h in trainer.state.log_history if "eval_accuracy" in h]
    return max((a for a in accs if math.isfinite(a)), default=0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", default="1e-5,3e-5,1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pretrain-steps", type=int, default=800)
    opts = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    from lrlab.integrations.transformers import find_trainer_lr

    torch.set_num_threads(1)
    start, cpu = time.perf_counter(), time.process_time()
    folder = Path(tempfile.mkdtemp()) / "tiny-bert"
    mlm = pretrain(folder, opts.pretrain_steps)
    data = finetune_data()
    grid = [float(r) for r in opts.grid.split(",")]
    seeds = range(opts.seeds)
    scores = {lr: [score(trainer_for(folder, s, lr, opts.epochs, data)) for s in seeds]
              for lr in grid}
    picks = {name: [] for name in READINGS}
    for s in seeds:
        trainer = trainer_for(folder, s, 5e-5, opts.epochs, data)
        readings = find_trainer_lr(trainer).suggestions()
        for name in READINGS:
            lr = readings[name].lr
            ok = math.isfinite(lr) and lr > 0
            picks[name].append((lr, score(trainer_for(folder, s, lr, opts.epochs, data))
                                if ok else min(np.mean(v) for v in scores.values())))
    oracle_lr = max(grid, key=lambda lr: np.mean(scores[lr]))
    oracle = 100 * np.mean(scores[oracle_lr])
    print(f"pretraining: {opts.pretrain_steps} steps, final MLM loss {mlm:.3f}")
    print("\n| rate | mean best val accuracy (%) | seeds |\n| ---: | ---: | --- |")
    for lr in grid:
        print(f"| {lr:g} | {100 * np.mean(scores[lr]):.1f} | "
              + ", ".join(f"{100 * v:.1f}" for v in scores[lr]) + " |")
    print(f"\noracle: {oracle_lr:g} at {oracle:.1f}%\n")
    print("| reading | rate per seed | mean accuracy (%) | regret (points) |")
    print("| --- | --- | ---: | ---: |")
    for name, rows in picks.items():
        mean = 100 * np.mean([acc for _, acc in rows])
        print(f"| {name} | " + ", ".join(f"{lr:.3g}" for lr, _ in rows)
              + f" | {mean:.1f} | {oracle - mean:.1f} |")
    print(f"\nwall {time.perf_counter() - start:.0f} s, CPU {time.process_time() - cpu:.0f} s")


if __name__ == "__main__":
    main()
