"""``mnist-onelayer``: the brief's experiment F2, a one-layer network on MNIST.

Softmax regression 784-10 (task ``mnist-linear``: 50,000 training images, the last 10,000 of
the training file validate), SGD at 1, 0.5, 0.2, 0.1 and 0.01, batch 100, as one population
crossed with a few seeds. Cross-entropy and classification error are recorded per epoch on
both splits; a member that goes NaN is frozen and its records stop at that epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lrlab.reproduce._claims import Claim, graded, margin, mean_se
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._figures import band_info, plot_bands, rate_groups
from lrlab.reproduce._measure import at, curves, epochs_of, final, select

__all__ = ["EXPERIMENT", "THRESHOLDS", "MnistSize", "Thresholds", "judge"]

RATES = (1.0, 0.5, 0.2, 0.1, 0.01)


@dataclass(frozen=True)
class MnistSize:
    """How much to train: epochs, seeds, and the training images used (``None``: all)."""

    epochs: int
    seeds: int
    subset: int | None


SIZES = {
    "test": MnistSize(epochs=3, seeds=2, subset=2000),
    "reduced": MnistSize(epochs=5, seeds=2, subset=None),
    "full": MnistSize(epochs=20, seeds=3, subset=None),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn F2's numbers into verdicts.

    Attributes:
        z, floor: a difference of mean losses counts beyond ``z`` standard errors of the
            seeds' spread and beyond ``floor``.
        tail: a curve's final value is its mean over this fraction of the last epochs.
        rho: "high rates drop the loss fastest" holds when the rank correlation of rate and
            epoch-1 validation loss is at most this.
        high: rates at or above this are the "high" rates.
        osc_ratio, osc_min: the high rates oscillate when their validation loss rises (summed
            over epochs) at least ``osc_ratio`` times the lowest rate's and at least
            ``osc_min``.
        nan_epoch: "NaN after the first epoch" means diverged by this epoch.
        linear_r2: "improves linearly": the validation loss falls every epoch and a straight
            line fits it with at least this R^2.
        gap, rise: overfitting shows as a final validation-minus-training loss gap above
            ``gap`` while, since the lowest validation loss, the validation loss has risen
            more than ``rise`` and the training loss has kept falling (at the last epoch;
            seeds averaged).
    """

    z: float = 2.0
    floor: float = 0.002
    tail: float = 0.1
    rho: float = -0.9
    high: float = 0.5
    osc_ratio: float = 2.0
    osc_min: float = 0.002
    nan_epoch: int = 2
    linear_r2: float = 0.9
    gap: float = 0.005
    rise: float = 0.002


THRESHOLDS = Thresholds()


def train(ctx: Context) -> Evidence:
    """One population: the five rates x seeds on MNIST."""
    size: MnistSize = ctx.knobs
    task = ctx.task("mnist-linear")
    if size.subset is not None:
        task = task.subset(size.subset, seed=0)
    run = ctx.sweep("mnist: one layer", task, lrs=list(RATES), seeds=list(range(size.seeds)),
                    epochs=size.epochs)
    return Evidence("mnist-onelayer", ctx.size,
                    {"rates": list(RATES), "task": task.name, **asdict(size)},
                    runs={"mnist": run})


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """F2's claims, each decided from the records (see :class:`Thresholds`)."""
    run = evidence.run("mnist")
    val, train_ = curves(run, "loss", "val"), curves(run, "loss", "train")
    return [_fastest_drop(val, th), _oscillate(val, th), _land_worse(val, th),
            _nan(run, th), _linear(val[min(RATES)], th), _gap(val, train_, th)]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's on the ranks (ties share their mean rank)."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _rises(table: pd.DataFrame) -> float:
    """Mean over seeds of the validation loss's summed rises (its finite part)."""
    per_seed = [float(np.clip(np.diff(col[np.isfinite(col)]), 0, None).sum())
                for col in table.to_numpy(dtype=np.float64).T]
    return mean_se(per_seed)[0]


def _fastest_drop(val: dict, th: Thresholds) -> Claim:
    first = {lr: at(val[lr], 1)[0] for lr in RATES}
    scored = pd.Series({lr: v if np.isfinite(v) else np.inf for lr, v in first.items()})
    rho = spearman(np.array(RATES), scored.to_numpy())
    lowest = float(scored.idxmin())
    shown = ", ".join(f"lr={lr:g} {first[lr]:.3f}" for lr in RATES)
    return Claim(
        "high rates drop the loss fastest",
        f"val loss after epoch 1: {shown}; rank correlation of rate and loss {rho:+.2f}",
        graded(rho <= th.rho, lowest >= th.high),
        f"holds if the rank correlation is <= {th.rho:g}; partly if the lowest epoch-1 loss "
        f"is at a rate >= {th.high:g}",
        {f"epoch1_{lr:g}": first[lr] for lr in RATES} | {"rho": rho, "lowest_lr": lowest})


def _oscillate(val: dict, th: Thresholds) -> Claim:
    rises = {lr: _rises(val[lr]) for lr in RATES}
    high = float(np.mean([rises[lr] for lr in RATES if lr >= th.high]))
    low = rises[min(RATES)]
    shown = ", ".join(f"lr={lr:g} {rises[lr]:.4f}" for lr in RATES)
    return Claim(
        "... but they oscillate",
        f"val loss rises summed over epochs (mean over seeds): {shown}",
        graded(high >= th.osc_ratio * low and high >= th.osc_min, high > low),
        f"holds if the rates >= {th.high:g} rise on average >= {th.osc_ratio:g}x as much as "
        f"lr={min(RATES):g} and >= {th.osc_min:g}; partly if more at all",
        {f"rises_{lr:g}": rises[lr] for lr in RATES} | {"high": high, "low": low})


def _land_worse(val: dict, th: Thresholds) -> Claim:
    fin = {lr: final(val[lr], th.tail) for lr in RATES}
    top = max(RATES)
    best = min((lr for lr in RATES if np.isfinite(fin[lr][0])), key=lambda lr: fin[lr][0],
               default=None)
    if not np.isfinite(fin[top][0]):
        return Claim("... they may land worse", f"lr={top:g} ended without a finite loss "
                     "(diverged)", "holds", "holds if the highest rate diverged or ends worse "
                     "than the best rate", {"final_top": fin[top][0]})
    gap = fin[top][0] - fin[best][0]
    need = margin([fin[top][1], fin[best][1]], th.z, th.floor)
    return Claim(
        "... they may land worse",
        f"final val loss: lr={top:g} {fin[top][0]:.4f}, best lr={best:g} {fin[best][0]:.4f} "
        f"(worse by {gap:.4f}, noise margin {need:.4f})",
        graded(gap > need, gap > 0),
        f"holds if the highest rate ends worse than the best by more than max({th.z:g} SE, "
        f"{th.floor:g}) (or diverged); partly if worse by less",
        {"final_top": fin[top][0], "final_best": fin[best][0], "best_lr": float(best),
         "gap": gap, "margin": need})


def _nan(run, th: Thresholds) -> Claim:
    members = run.members
    gone = members[members["diverged"].astype(bool)]
    epochs = pd.to_numeric(gone["diverged_epoch"])
    if len(gone):
        shown = ", ".join(f"{label} at epoch {int(e)}" for label, e in zip(gone["label"], epochs))
    else:
        shown = f"no member diverged in {epochs_of(run)} epochs"
    first = float(epochs.min()) if len(gone) else np.nan
    return Claim(
        "... or go NaN after the first epoch",
        shown,
        graded(len(gone) > 0 and first <= th.nan_epoch, len(gone) > 0),
        f"holds if a member diverges (NaN/Inf or blow-up) by epoch {th.nan_epoch}; partly if "
        "later",
        {"diverged": float(len(gone)), "first_epoch": first})


def _linear(table: pd.DataFrame, th: Thresholds) -> Claim:
    mean = table.mean(axis=1).to_numpy(dtype=np.float64)
    epochs = table.index.to_numpy(dtype=np.float64)
    falls = bool(np.all(np.diff(mean) < 0))
    if len(mean) >= 3:
        slope, icpt = np.polyfit(epochs, mean, 1)
        resid = mean - (slope * epochs + icpt)
        r2 = float(1 - resid.var() / mean.var()) if mean.var() > 0 else 1.0
    else:
        r2 = 1.0
    lr = min(RATES)
    return Claim(
        f"{lr:g} improves linearly",
        f"lr={lr:g} val loss {mean[0]:.3f} -> {mean[-1]:.3f}; falls every epoch: "
        f"{'yes' if falls else 'no'}; R^2 of a straight line {r2:.3f}",
        graded(falls and r2 >= th.linear_r2, falls),
        f"holds if it falls every epoch and a line fits with R^2 >= {th.linear_r2:g}; partly "
        "if it only falls every epoch",
        {"first": float(mean[0]), "last": float(mean[-1]), "falls": float(falls), "r2": r2})


def _gap(val: dict, train_: dict, th: Thresholds) -> Claim:
    rows = {}
    for lr in RATES:
        v, t = val[lr].mean(axis=1), train_[lr].mean(axis=1)
        ok = v.notna() & t.notna()
        if not ok.any():
            continue
        v, t = v[ok], t[ok]
        low = v.idxmin()  # the epoch of the lowest validation loss
        v_end, t_end = float(v.iloc[-1]), float(t.iloc[-1])
        rows[lr] = (v_end - t_end, v_end - float(v[low]), t_end - float(t[low]))
    over = [lr for lr, (gap, rise, fall) in rows.items()
            if gap > th.gap and rise > th.rise and fall < 0]
    gapped = [lr for lr, (gap, _, _) in rows.items() if gap > th.gap]
    shown = ", ".join(f"lr={lr:g} gap {g:+.4f}, val {r:+.4f}, train {f:+.4f}"
                      for lr, (g, r, f) in rows.items())
    return Claim(
        "a train/validation gap shows overfitting",
        f"final val - train loss, and the change of each since the lowest val loss: {shown}",
        graded(bool(over), bool(gapped)),
        f"holds if some rate ends with val - train loss > {th.gap:g} while, since its lowest "
        f"val loss, val has risen > {th.rise:g} and train has kept falling; partly if only the "
        "gap (train loss is the mean over each epoch, as Keras reports it)",
        {f"gap_{lr:g}": g for lr, (g, _, _) in rows.items()}
        | {f"rise_{lr:g}": r for lr, (_, r, _) in rows.items()}
        | {f"train_{lr:g}": f for lr, (_, _, f) in rows.items()})


def figures(evidence: Evidence) -> list:
    """The brief's two pictures (one seed: cross-entropy and classification error per
    epoch, train and validation, per rate) and the seeds' spread of the validation loss."""
    from lrlab.report import curves_info, plot_curves, rate_colors

    run = evidence.run("mnist")
    colors = rate_colors(RATES)  # one colour per rate on the page
    one = select(run, run.members.loc[run.members["seed"] == run.members["seed"].min(),
                                      "member"].tolist())
    val = curves(run, "loss", "val")
    return [
        ("cross-entropy per epoch, one seed (X: diverged)", plot_curves(curves_info(one, "loss"), colors=colors)),
        ("classification error per epoch, one seed", plot_curves(curves_info(one, "error"), colors=colors)),
        (f"validation loss: median and min-max over {run.members['seed'].nunique()} seeds",
         plot_bands(band_info({f"lr={lr:g}": val[lr] for lr in RATES}),
                    title="validation cross-entropy per rate", ylabel="cross-entropy",
                    colors=rate_groups(RATES))),
    ]


def tables(evidence: Evidence) -> list:
    """Per rate: loss and error after epoch 1 and at the end, both splits (mean of seeds)."""
    run = evidence.run("mnist")
    got = {(m, s): curves(run, m, s) for m in ("loss", "error") for s in ("train", "val")}
    rows = []
    for lr in RATES:
        row: dict[str, float] = {"lr": lr}
        for (m, s), c in got.items():
            row[f"{s} {m} epoch 1"] = at(c[lr], 1)[0]
            row[f"{s} {m} final"] = final(c[lr], THRESHOLDS.tail)[0]
        rows.append(row)
    return [("per rate, mean over seeds", pd.DataFrame(rows))]


EXPERIMENT = Experiment(
    name="mnist-onelayer", section="F2",
    summary="MNIST, one-layer network, SGD at 1, 0.5, 0.2, 0.1, 0.01; cross-entropy and "
            "error per epoch",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables, needs=("the MNIST files",))
