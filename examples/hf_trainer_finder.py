"""Hugging Face ``Trainer``: lrlab's range test sets ``learning_rate`` before training.

A tiny BERT built from a config (no download) learns to tell which of two token patterns a
sequence follows; swap in your own model, tokenizer and dataset.

    python examples/hf_trainer_finder.py
    python examples/hf_trainer_finder.py --tiny      # a few seconds (what the tests run)

Needs ``pip install 'lrlab[transformers]'``.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from lrlab.integrations.transformers import find_trainer_lr


class Sequences(torch.utils.data.Dataset):
    """Random token sequences; label 1 when token 7 occurs in them (dict items, as from
    a tokenised ``datasets.Dataset``)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 30, (n, 16), generator=g)
        self.labels = (self.ids == 7).any(1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(16, dtype=torch.long),
                "labels": self.labels[i]}


def main(tiny: bool = False) -> float:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16, num_labels=2)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=1 if tiny else 5,
                             per_device_train_batch_size=32, report_to=[], use_cpu=True,
                             save_strategy="no", logging_strategy="epoch", disable_tqdm=tiny)
    trainer = Trainer(model=BertForSequenceClassification(config), args=args,
                      train_dataset=Sequences(128 if tiny else 2000, 0),
                      eval_dataset=Sequences(500, 1))
    result = find_trainer_lr(trainer, start=1e-6, end=1.0, steps=30 if tiny else 100)
    print(f"learning_rate = {trainer.args.learning_rate:.3g}: {result.suggestion.why}")
    trainer.train()  # the optimizer and its schedule are built at that rate
    if not tiny:
        print(trainer.evaluate())
    return trainer.args.learning_rate


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds")
    main(parser.parse_args().tiny)
