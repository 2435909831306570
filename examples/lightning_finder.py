"""PyTorch Lightning: lrlab's range test when training starts, then training at its rate.

    python examples/lightning_finder.py
    python examples/lightning_finder.py --tiny       # a few seconds (what the tests run)

Needs ``pip install 'lrlab[lightning]'``.
"""

from __future__ import annotations

import argparse

import lightning as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

from lrlab.integrations.lightning import FindLR


class Classifier(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):  # the rate here is only the starting point
        optimizer = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        return {"optimizer": optimizer,
                "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 10)}


def main(tiny: bool = False) -> float:
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y))
    train, val = random_split(data, [0.8, 0.2], generator=torch.Generator().manual_seed(0))
    finder = FindLR(start=1e-5, end=10.0, steps=30 if tiny else 100)
    trainer = L.Trainer(max_epochs=1 if tiny else 10, callbacks=[finder], accelerator="cpu",
                        logger=False, enable_checkpointing=False, enable_progress_bar=not tiny,
                        log_every_n_steps=5)
    torch.manual_seed(0)
    trainer.fit(Classifier(), DataLoader(train, batch_size=32, shuffle=True),
                DataLoader(val, batch_size=256))
    _, result = finder.results[0]
    print(f"trained at {finder.rate:.3g} (the first step used {finder.rate_used[0][1]:.3g}): "
          f"{result.suggestion.why}; validation accuracy "
          f"{float(trainer.callback_metrics['val_acc']):.3f}")
    return finder.rate


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds")
    main(parser.parse_args().tiny)
