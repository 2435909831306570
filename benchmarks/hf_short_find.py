"""`find_trainer_lr` on a short Hugging Face training: a tiny GPT-2 as a causal LM.

A GPT-2 of 2 layers, width 32, over a vocabulary of 30, learns sequences of 16 tokens drawn
from a peaked random Markov chain (512 training sequences, 256 validation), with the
``Trainer``'s AdamW (weight decay 0.01) and linear decay, batch 32, ``--epochs`` epochs
(2: 32 optimizer steps). Per seed: :func:`~lrlab.integrations.transformers.find_trainer_lr`
on a freshly built trainer (range test 1e-7 .. 1, 100 steps), then that trainer trains at
its reading; beside it a grid of half decades (``--grid``) and the rates the result names to
try (``result.to_try``), each trained the same way from the seed. Score: the final
validation loss; regret: % excess over the grid's best.

Run: ``cd benchmarks && PYTHONPATH=../src:. OMP_NUM_THREADS=1 python hf_short_find.py``
(CPU, about a minute a seed).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import warnings

import torch

VOCAB, LENGTH = 30, 16


class Sequences(torch.utils.data.Dataset):
    """Token sequences of a peaked Markov chain, labelled by themselves (the model shifts)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(1234)  # one language for every split
        chain = torch.softmax(torch.randn(VOCAB, VOCAB, generator=g) * 3.0, dim=1)
        g.manual_seed(seed)
        ids = torch.empty(n, LENGTH, dtype=torch.long)
        ids[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
        for t in range(1, LENGTH):
            ids[:, t] = torch.multinomial(chain[ids[:, t - 1]], 1, generator=g)[:, 0]
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def trainer_for(seed: int, lr: float, epochs: int):
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2,
                                       n_positions=LENGTH, bos_token_id=0, eos_token_id=0))
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), learning_rate=lr, num_train_epochs=epochs,
        per_device_train_batch_size=32, per_device_eval_batch_size=256, weight_decay=0.01,
        save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, seed=seed)
    trainer = Trainer(model=model, args=args, train_dataset=Sequences(512, 1),
                      eval_dataset=Sequences(256, 2))
    trainer.remove_callback(PrinterCallback)
    return trainer


def final_loss(trainer) -> float:
    trainer.train()
    loss = trainer.evaluate()["eval_loss"]
    return loss if math.isfinite(loss) else math.inf


def main() -> None:
    from lrlab.integrations.transformers import find_trainer_lr

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--grid", default="1e-3,3e-3,1e-2,3e-2,1e-1")
    args = parser.parse_args()
    grid = [float(v) for v in args.grid.split(",")]
    print("| seed | reading | loss | regret | kinds | to_try: regret each | grid best (loss) |")
    print("| --: | --: | --: | --: | :-- | :-- | --: |")
    for seed in (int(s) for s in args.seeds.split(",")):
        trainer = trainer_for(seed, 1e-3, args.epochs)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            result = find_trainer_lr(trainer)
        rate = result.suggestion.lr
        mine = final_loss(trainer)
        scores = {lr: final_loss(trainer_for(seed, lr, args.epochs)) for lr in grid}
        best = min(scores, key=scores.get)
        tried = {lr: final_loss(trainer_for(seed, lr, args.epochs)) for lr in result.to_try}
        each = ", ".join(f"{lr:.3g}: {100 * (v / scores[best] - 1):+.1f}%"
                         for lr, v in tried.items())
        print(f"| {seed} | {rate:.3g} | {mine:.4g} | {100 * (mine / scores[best] - 1):+.1f}% | "
              f"{', '.join(result.kinds)} | {each or '-'} | {best:g} ({scores[best]:.4g}) |",
              flush=True)


if __name__ == "__main__":
    main()
