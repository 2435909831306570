"""The synthetic sweep the report tests draw: six members with closed-form records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lrlab.search import RangeTestResult
from lrlab.train import SweepResult

#: The synthetic run: rates x seeds, its last epoch, and the member that diverges (in 2).
RATES = (1.0, 0.1, 0.01)
SEEDS = (0, 1)
EPOCHS = 4
DIVERGED = 0


def synthetic_run(*, higher_is_better: bool = True) -> SweepResult:
    """Six members (3 rates x 2 seeds), 4 epochs; member 0 (lr=1, seed 0) diverges in epoch 2
    and its records stop there (with an infinite loss), as the trainer writes them.

    Values follow closed forms of (member, epoch) so a test can recompute any of them.
    """
    members = [(k, lr, s) for k, (lr, s) in enumerate((lr, s) for lr in RATES for s in SEEDS)]
    rows = []
    for k, lr, seed in members:
        last = 2 if k == DIVERGED else EPOCHS
        for epoch in range(1, last + 1):
            for split in ("train", "val"):
                for metric, value in metric_values(k, lr, epoch, split).items():
                    if k == DIVERGED and epoch == 2 and metric in ("loss", "sse"):
                        value = np.inf
                    rows.append((k, epoch, split, metric, value))
            for metric, value in (("grad_norm", 1.0 + k + 1 / epoch),
                                  ("grad_norm_max", 2.0 + k + 2 / epoch),
                                  ("time", 0.5 * epoch), ("lr", lr / epoch)):
                rows.append((k, epoch, "train", metric, value))
    records = pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])
    table = pd.DataFrame({
        "member": [k for k, _, _ in members],
        "label": [f"lr={lr:g} seed={s}" for _, lr, s in members],
        "lr": [lr for _, lr, _ in members], "optimizer": "sgd",
        "seed": [s for _, _, s in members], "schedule": "constant",
        "diverged": [k == DIVERGED for k, _, _ in members],
    })
    table["diverged_epoch"] = pd.array([2 if k == DIVERGED else None for k, _, _ in members],
                                       dtype="Int64")
    table["diverged_step"] = pd.array([5 if k == DIVERGED else None for k, _, _ in members],
                                      dtype="Int64")
    monitor = "auc" if higher_is_better else "error"
    return SweepResult(task="synthetic <task>", monitor=monitor,
                       higher_is_better=higher_is_better,
                       config={"lrs": list(RATES), "optimizer": "sgd", "epochs": EPOCHS,
                               "seeds": list(SEEDS)},
                       records=records, members=table)


def metric_values(k: int, lr: float, epoch: int, split: str) -> dict[str, float]:
    """The synthetic metrics of member ``k`` at ``epoch``."""
    gap = 0.05 if split == "val" else 0.0
    auc = 1 - 0.4 / (epoch * (1 + k)) - gap
    return {"loss": 2.0 / epoch + 0.1 * k + gap, "error": 1 - auc, "auc": auc,
            "sse": 100.0 / epoch + k}


def range_result(seeds: int) -> RangeTestResult:
    """A synthetic range test over 60 rates (1e-4..10): a sigmoid drop, a blow-up over the
    last ten steps, accuracy every fifth step; ``seeds`` > 1 gives the median of wiggled
    copies with their runs."""
    lrs = np.logspace(-4, 1, 60)
    runs = []
    for s in range(seeds):
        wiggle = 0.02 * np.sin(np.arange(60) * (s + 1))
        losses = 1.0 - 0.6 / (1 + np.exp(-3 * (np.log10(lrs) + 2))) + wiggle
        losses[50:] += np.linspace(0, 5, 10)
        acc = np.where(np.arange(60) % 5 == 0, 1 - losses / 2, np.nan)
        runs.append(RangeTestResult.build(lrs, losses, val_accuracy=acc, reason="synthetic"))
    if seeds == 1:
        return runs[0]
    median = np.median(np.stack([r.losses for r in runs]), axis=0)
    acc = np.full(60, np.nan)  # every seed evaluated the same steps
    acc[::5] = np.median(np.stack([r.val_accuracy[::5] for r in runs]), axis=0)
    return RangeTestResult.build(lrs, median, val_accuracy=acc, reason="synthetic",
                                 runs=tuple(runs), seeds=tuple(range(seeds)))
