"""``transfer``: layer-wise rates for fine-tuning (the brief's section D).

An MLP 784-256-10 is pretrained on MNIST digits 0-4; its first layer is kept and a new head
``Linear(256, 5)`` is put on top (drawn per seed) to learn digits 5-9 from a small training
set. One population fine-tunes it at a few base rates, each (a) with one uniform rate and
(b) Caffe-style, the pretrained layer at base / 10 and the new head at 10 x base
(``lr_mult`` ``{"0.*": 0.1, "2.*": 10}``). A second population trains the same network from
scratch on the same data, for the premise that pretraining helps at all.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from functools import partial

import pandas as pd
from torch import nn

from lrlab.reproduce._claims import Claim, graded, margin
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._figures import band_info, plot_bands
from lrlab.reproduce._measure import at, curves, final
from lrlab.tasks import Split, Task, dense, mlp

__all__ = ["EXPERIMENT", "LAYERWISE", "THRESHOLDS", "Thresholds", "TransferSize", "judge"]

#: Base / 10 for the pretrained layer, 10 x base for the new head.
LAYERWISE = {"0.*": 0.1, "2.*": 10.0}
UNIFORM = "uniform"
LABEL = "0.*=0.1,2.*=10"


@dataclass(frozen=True)
class TransferSize:
    """How much to train: pretraining examples and epochs; fine-tuning examples, epochs,
    base rates and seeds; validation images (``None``: all of 5-9's)."""

    pretrain: int | None
    pretrain_epochs: int
    finetune: int
    epochs: int
    rates: tuple[float, ...]
    seeds: int
    val: int | None


SIZES = {
    "test": TransferSize(pretrain=2000, pretrain_epochs=1, finetune=300, epochs=2,
                         rates=(0.03, 0.1), seeds=1, val=1000),
    "reduced": TransferSize(pretrain=10000, pretrain_epochs=2, finetune=1000, epochs=10,
                            rates=(0.01, 0.03, 0.1), seeds=2, val=2000),
    "full": TransferSize(pretrain=None, pretrain_epochs=5, finetune=2000, epochs=20,
                         rates=(0.003, 0.01, 0.03, 0.1), seeds=3, val=None),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn the numbers into verdicts.

    Attributes:
        z, floor: a difference of mean validation accuracies counts beyond ``z`` standard
            errors of the seeds' spread and beyond ``floor``.
        tail: a curve's final value is its mean over this fraction of the last epochs.
    """

    z: float = 2.0
    floor: float = 0.002
    tail: float = 0.1


THRESHOLDS = Thresholds()


def _digits(split: Split, low: bool, limit: int | None = None) -> Split:
    """The examples of digits 0-4 (``low``) or 5-9 (labels shifted to 0-4)."""
    keep = split.y < 5 if low else split.y >= 5
    x, y = split.x[keep], split.y[keep] - (0 if low else 5)
    return Split(x[:limit], y[:limit]) if limit is not None else Split(x, y)


def _finetuned(body: nn.Linear) -> nn.Sequential:
    """The pretrained first layer (a copy) under a new head for 5 classes."""
    return nn.Sequential(copy.deepcopy(body), nn.ReLU(), dense(256, 5))


def train(ctx: Context) -> Evidence:
    """Pretrain on 0-4, then fine-tune (uniform vs layer-wise) and train from scratch on 5-9."""
    size: TransferSize = ctx.knobs
    mnist = ctx.task("mnist-mlp")
    low = Task(name="mnist 0-4", train=_digits(mnist.train, True), val=_digits(mnist.val, True,
               size.val), model=mnist.model, num_classes=10, batch_size=mnist.batch_size)
    if size.pretrain is not None:
        low = low.subset(size.pretrain, seed=0)
    pre = ctx.sweep("transfer: pretrain on 0-4", low, lrs=[0.1], epochs=size.pretrain_epochs)
    body = pre.population.member_module(0)[0].cpu()
    high = Task(name="mnist 5-9", train=_digits(mnist.train, False),
                val=_digits(mnist.val, False, size.val), model=partial(_finetuned, body),
                num_classes=5, batch_size=mnist.batch_size).subset(size.finetune, seed=0)
    seeds = list(range(size.seeds))
    tuned = ctx.sweep("transfer: fine-tune on 5-9", high, lrs=list(size.rates), seeds=seeds,
                      lr_mults=[{}, LAYERWISE], epochs=size.epochs)
    scratch_task = high.replace(model=partial(mlp, [784, 256, 5]))
    scratch = ctx.sweep("transfer: from scratch on 5-9", scratch_task, lrs=list(size.rates),
                        seeds=seeds, epochs=size.epochs)
    settings = {**asdict(size), "rates": list(size.rates), "layerwise": LAYERWISE,
                "pretrain_lr": 0.1}
    return Evidence("transfer", ctx.size, settings,
                    runs={"pretrain": pre, "finetune": tuned, "scratch": scratch})


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """The fine-tuning claims, each decided from the records (see :class:`Thresholds`)."""
    rates = [float(r) for r in evidence.settings["rates"]]
    fin = _variants(evidence, th, epoch_one=False)
    first = _variants(evidence, th, epoch_one=True)
    scratch = {float(lr): final(t, th.tail)
               for lr, t in curves(evidence.run("scratch"), "accuracy", "val").items()}
    return [_better(fin, rates, th), _faster(first, rates, th), _pretraining(fin, scratch, th)]


def _variants(evidence: Evidence, th: Thresholds = THRESHOLDS, *, epoch_one: bool = False
              ) -> dict:
    """``{(variant, base lr): (mean, se)}`` of the final (or epoch-1) validation accuracy."""
    run = evidence.run("finetune")
    out = {}
    for (lr, mult), table in curves(run, "accuracy", "val", by=("lr", "lr_mult")).items():
        key = (UNIFORM if mult == UNIFORM else "layer-wise", float(lr))
        out[key] = at(table, 1) if epoch_one else final(table, th.tail)
    return out


def _best(values: dict, variant: str, rates: list[float]) -> float:
    return max(rates, key=lambda lr: values[(variant, lr)][0])


def _better(fin: dict, rates: list[float], th: Thresholds) -> Claim:
    bu, bl = _best(fin, UNIFORM, rates), _best(fin, "layer-wise", rates)
    u, lw = fin[(UNIFORM, bu)], fin[("layer-wise", bl)]
    diff = lw[0] - u[0]
    need = margin([u[1], lw[1]], th.z, th.floor)
    wins = [lr for lr in rates if fin[("layer-wise", lr)][0] - fin[(UNIFORM, lr)][0]
            > margin([fin[("layer-wise", lr)][1], fin[(UNIFORM, lr)][1]], th.z, th.floor)]
    shown = ", ".join(f"{lr:g}: {fin[(UNIFORM, lr)][0]:.4f} vs {fin[('layer-wise', lr)][0]:.4f}"
                      for lr in rates)
    return Claim(
        "fine-tuning with the pretrained layers at base / 10 and the new head at 10x beats "
        "one uniform rate",
        f"final val accuracy per base rate (uniform vs layer-wise): {shown}; best uniform "
        f"{u[0]:.4f} (lr {bu:g}) vs best layer-wise {lw[0]:.4f} (lr {bl:g}): {diff:+.4f}",
        graded(diff > need, abs(diff) <= need or bool(wins)),
        f"holds if the best layer-wise member beats the best uniform one by more than "
        f"max({th.z:g} SE, {th.floor:g}); partly if they are within that margin or layer-wise "
        "wins at some base rate",
        {"best_uniform": u[0], "best_layerwise": lw[0], "diff": diff, "margin": need,
         "wins": float(len(wins))})


def _faster(first: dict, rates: list[float], th: Thresholds) -> Claim:
    ahead = [lr for lr in rates if first[("layer-wise", lr)][0] - first[(UNIFORM, lr)][0]
             > margin([first[("layer-wise", lr)][1], first[(UNIFORM, lr)][1]], th.z, th.floor)]
    shown = ", ".join(f"{lr:g}: {first[(UNIFORM, lr)][0]:.4f} vs "
                      f"{first[('layer-wise', lr)][0]:.4f}" for lr in rates)
    return Claim(
        "the new head at 10x the base rate learns faster: layer-wise is ahead after the first "
        "epoch",
        f"val accuracy after epoch 1 per base rate (uniform vs layer-wise): {shown}",
        graded(len(ahead) == len(rates), bool(ahead)),
        f"holds if layer-wise is ahead by more than max({th.z:g} SE, {th.floor:g}) at every "
        "base rate; partly at some",
        {"ahead": float(len(ahead)), "rates": float(len(rates))})


def _pretraining(fin: dict, scratch: dict, th: Thresholds) -> Claim:
    key = max(fin, key=lambda k: fin[k][0])
    lr0 = max(scratch, key=lambda lr: scratch[lr][0])
    diff = fin[key][0] - scratch[lr0][0]
    need = margin([fin[key][1], scratch[lr0][1]], th.z, th.floor)
    return Claim(
        "pretraining on digits 0-4 helps on 5-9 (the premise of fine-tuning)",
        f"best fine-tuned ({key[0]}, lr {key[1]:g}) {fin[key][0]:.4f} vs best from scratch "
        f"(lr {lr0:g}) {scratch[lr0][0]:.4f}: {diff:+.4f}",
        graded(diff > need, diff >= -need),
        f"holds if fine-tuning beats training from scratch by more than max({th.z:g} SE, "
        f"{th.floor:g}); partly if within that margin",
        {"best_finetuned": fin[key][0], "best_scratch": scratch[lr0][0], "diff": diff})


def figures(evidence: Evidence) -> list:
    """Validation accuracy while fine-tuning: uniform vs layer-wise per base rate, and from
    scratch; mean and min-max over seeds."""
    run = evidence.run("finetune")
    groups = {f"lr={lr:g} {'uniform' if m == UNIFORM else 'layer-wise'}": t
              for (lr, m), t in curves(run, "accuracy", "val", by=("lr", "lr_mult")).items()}
    scratch = {f"lr={lr:g} scratch": t
               for lr, t in curves(evidence.run("scratch"), "accuracy", "val").items()}
    return [("fine-tuning on 5-9: validation accuracy, uniform rate vs base/10 + head x10",
             plot_bands(band_info(groups, mid="mean"), title="fine-tuning on digits 5-9",
                        ylabel="validation accuracy")),
            ("training the same network from scratch on the same 5-9 data",
             plot_bands(band_info(scratch, mid="mean"), title="from scratch on digits 5-9",
                        ylabel="validation accuracy"))]


def tables(evidence: Evidence) -> list:
    """Per base rate and variant: validation accuracy after epoch 1 and at the end."""
    fin, first = _variants(evidence), _variants(evidence, epoch_one=True)
    rows = [{"variant": v, "base lr": lr, "val accuracy epoch 1": first[(v, lr)][0],
             "final val accuracy": fin[(v, lr)][0], "SE": fin[(v, lr)][1]}
            for (v, lr) in sorted(fin, key=lambda k: (k[1], k[0]))]
    return [("fine-tuning (mean over seeds)", pd.DataFrame(rows))]


EXPERIMENT = Experiment(
    name="transfer", section="D",
    summary="fine-tune an MNIST 0-4 network on 5-9, one uniform rate vs base/10 + new "
            "head x10 (lr_mult), in one population",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables, needs=("the MNIST files",))
