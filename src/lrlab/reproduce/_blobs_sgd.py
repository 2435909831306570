"""``blobs-sgd``: the brief's experiment F1, and the brief's own Keras code beside it.

lrlab trains the four rates 1.0, 0.1, 0.01 and 0.001 on the blobs task (F1 exactly:
Dense(50, ReLU, He-uniform) -> Dense(3), SGD, batch 50, ROC AUC as Keras computes it) as one
population, each rate crossed with several seeds. Keras 3 (torch backend) runs the brief's
code for the same rates and a few seeds; lrlab's median curve should lie inside the spread
of Keras' runs. Every claim is read from the validation AUC (train AUC for "validation shows
the same"), averaged over lrlab's seeds.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lrlab.reproduce._claims import Claim, graded, margin, mean_se
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._figures import band_info, plot_bands, rate_groups
from lrlab.reproduce._keras import keras_histories, keras_missing
from lrlab.reproduce._measure import (
    at,
    curves,
    epochs_of,
    final,
    last_n,
    rank_order,
    select,
    window,
)

__all__ = ["EXPERIMENT", "THRESHOLDS", "BlobsSize", "Thresholds", "judge"]

RATES = (1.0, 0.1, 0.01, 0.001)


@dataclass(frozen=True)
class BlobsSize:
    """How much to train: lrlab's epochs and seeds, Keras' epochs and seeds (0: no Keras)."""

    epochs: int
    seeds: int
    keras_epochs: int
    keras_seeds: int


SIZES = {
    "test": BlobsSize(epochs=6, seeds=2, keras_epochs=3, keras_seeds=2),
    "reduced": BlobsSize(epochs=200, seeds=5, keras_epochs=40, keras_seeds=2),
    "full": BlobsSize(epochs=200, seeds=10, keras_epochs=200, keras_seeds=5),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn F1's numbers into verdicts.

    Attributes:
        z: a difference between two means counts when it exceeds ``z`` standard errors of
            the seed-to-seed spread (and ``floor``).
        floor: the smallest AUC difference that counts.
        tail: a curve's final value is its mean over this fraction of the last epochs.
        jump_epoch: the 0.1 "jump" is read between epoch 1 and this epoch.
        jump: a rise of at least this much AUC by ``jump_epoch`` is a jump.
        flat: after the jump, a change within this much AUC is "flat".
        near: the brief's 0.75 and 0.90 count as matched within this much.
        equal_epoch: "about equal after ~100 epochs": read over the ``tail`` epochs up to here.
        equal: "about equal" means within this much AUC (or the noise margin, if larger).
        early: "slowest" compares the mean AUC over this fraction of the first epochs.
        inside: the Keras row holds when this fraction of lrlab's points lie in Keras' spread,
        inside_part: ... and partly holds from this fraction.
        auc_tol: Keras' spread is widened by this much AUC (float32 rounding, 200 thresholds).
    """

    z: float = 2.0
    floor: float = 0.002
    tail: float = 0.1
    jump_epoch: int = 5
    jump: float = 0.05
    flat: float = 0.02
    near: float = 0.05
    equal_epoch: int = 100
    equal: float = 0.01
    early: float = 0.1
    inside: float = 0.9
    inside_part: float = 0.6
    auc_tol: float = 0.005


THRESHOLDS = Thresholds()


def train(ctx: Context) -> Evidence:
    """One lrlab population (rates x seeds), then the brief's Keras code (rates x seeds)."""
    size: BlobsSize = ctx.knobs
    task = ctx.task("blobs")
    run = ctx.sweep("blobs: lrlab", task, lrs=list(RATES), seeds=list(range(size.seeds)),
                    epochs=size.epochs)
    evidence = Evidence("blobs-sgd", ctx.size, {"rates": list(RATES), **asdict(size)},
                        runs={"lrlab": run})
    missing = keras_missing() if size.keras_seeds else "keras_seeds = 0"
    if missing is not None:
        evidence.settings["keras"] = missing
        return evidence
    runs = len(RATES) * size.keras_seeds
    ctx.say(f"blobs: the brief's Keras code, {runs} runs of {size.keras_epochs} epochs")
    evidence.tables["keras"] = keras_histories(
        task, RATES, range(size.keras_seeds), size.keras_epochs,
        on_run=lambda done: ctx.say(f"blobs: Keras run {done}/{runs} done"))
    evidence.settings["keras"] = f"Keras {sys.modules['keras'].__version__}, torch backend"
    return evidence


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """F1's claims, each decided from the records (see :class:`Thresholds`)."""
    run = evidence.run("lrlab")
    # a diverged seed scores chance (AUC 0.5) from then on: it counts, it is not dropped
    val = curves(run, "auc", "val", diverged=0.5)
    train_ = curves(run, "auc", "train", diverged=0.5)
    epochs = epochs_of(run)
    fin = {lr: final(val[lr], th.tail) for lr in RATES}
    claims = [_not_one(fin, th), _jump(val[0.1], epochs, th),
              _catches_up(val[0.01], val[0.1], epochs, th), _slowest(val, epochs, th),
              _validation_same(fin, {lr: final(train_[lr], th.tail) for lr in RATES}),
              _best(fin, th), _keras(evidence, val, th)]
    return claims


def _f(value: float) -> str:
    return f"{value:.3f}"


def _not_one(fin: dict, th: Thresholds) -> Claim:
    others = {lr: v for lr, v in fin.items() if lr != 1.0}
    best = max(others, key=lambda lr: others[lr][0])
    gap = others[best][0] - fin[1.0][0]
    need = margin([others[best][1], fin[1.0][1]], th.z, th.floor)
    return Claim(
        "1.0 is not the best rate",
        f"final val AUC: lr=1 {_f(fin[1.0][0])}, best other lr={best:g} {_f(others[best][0])} "
        f"(gap {gap:+.3f}, noise margin {need:.3f})",
        graded(gap > need, gap > 0),
        f"holds if the best other rate beats lr=1 by more than max({th.z:g} SE, {th.floor:g}); "
        "partly if by less",
        {"final_1": fin[1.0][0], "best_other": others[best][0], "gap": gap, "margin": need})


def _jump(table: pd.DataFrame, epochs: int, th: Thresholds) -> Claim:
    j = min(th.jump_epoch, epochs)
    first, mid, end = at(table, 1)[0], at(table, j)[0], final(table, th.tail)[0]
    jump, later = mid - first, end - mid
    numbers = abs(first - 0.75) <= th.near and abs(mid - 0.90) <= th.near
    flat = abs(later) <= th.flat
    return Claim(
        "0.1 jumps from 0.75 to 0.90 AUC but stays flat afterwards",
        f"lr=0.1 val AUC {_f(first)} at epoch 1 -> {_f(mid)} at epoch {j} (jump {jump:+.3f}); "
        f"then {later:+.3f} to the end ({_f(end)})",
        graded(jump >= th.jump and flat and numbers, jump >= th.jump),
        f"holds if it rises >= {th.jump:g} by epoch {j}, then changes <= {th.flat:g}, from/to "
        f"within {th.near:g} of 0.75/0.90; partly if only the jump",
        {"epoch1": first, "jump_epoch": float(j), "after_jump": mid, "jump": jump,
         "later": later, "final": end})


def _catches_up(low: pd.DataFrame, high: pd.DataFrame, epochs: int, th: Thresholds) -> Claim:
    k = min(th.equal_epoch, epochs)
    n = last_n(epochs, th.tail)
    (s_low, se_low), (s_high, se_high) = at(low, 1), at(high, 1)
    starts_lower = s_high - s_low > margin([se_low, se_high], th.z, th.floor)
    e_low = mean_se(window(low, k - n + 1, k))
    e_high = mean_se(window(high, k - n + 1, k))
    diff = e_low[0] - e_high[0]
    tol = max(th.equal, margin([e_low[1], e_high[1]], th.z, th.floor))
    equal = abs(diff) <= tol
    return Claim(
        "0.01 starts lower but is about equal (to 0.1) after ~100 epochs",
        f"epoch 1: lr=0.01 {_f(s_low)} vs lr=0.1 {_f(s_high)}; epochs {max(1, k - n + 1)}-{k}: "
        f"{_f(e_low[0])} vs {_f(e_high[0])} (diff {diff:+.3f}, tolerance {tol:.3f})",
        graded(starts_lower and equal, starts_lower or equal),
        f"holds if lower at epoch 1 (beyond the noise margin) and within max({th.equal:g}, "
        f"{th.z:g} SE) over epochs up to {k}; partly if one of the two",
        {"start_low": s_low, "start_high": s_high, "at_k_low": e_low[0],
         "at_k_high": e_high[0], "diff": diff, "tolerance": tol})


def _slowest(val: dict, epochs: int, th: Thresholds) -> Claim:
    n = last_n(epochs, th.early)
    early = {lr: mean_se(window(val[lr], 1, n)) for lr in RATES}
    order = rank_order({lr: v[0] for lr, v in early.items()}, higher_is_better=False)
    lowest, second = order[0], order[1]
    gap = early[second][0] - early[lowest][0]
    need = margin([early[lowest][1], early[second][1]], th.z, th.floor)
    shown = ", ".join(f"lr={lr:g} {_f(early[lr][0])}" for lr in RATES)
    return Claim(
        "0.001 is the slowest",
        f"mean val AUC over epochs 1-{n}: {shown}",
        graded(lowest == 0.001 and gap > need, lowest == 0.001),
        f"holds if lr=0.001 has the lowest early mean AUC, by more than max({th.z:g} SE, "
        f"{th.floor:g}); partly if lowest by less",
        {f"early_{lr:g}": early[lr][0] for lr in RATES} | {"gap": gap, "margin": need})


def _validation_same(val_fin: dict, train_fin: dict) -> Claim:
    by_val = rank_order({lr: v[0] for lr, v in val_fin.items()})
    by_train = rank_order({lr: v[0] for lr, v in train_fin.items()})
    text = " > ".join(f"{lr:g}" for lr in by_val)
    return Claim(
        "validation shows the same (as training)",
        f"rates by final val AUC: {text}; by final train AUC: "
        + " > ".join(f"{lr:g}" for lr in by_train),
        graded(by_val == by_train, by_val[0] == by_train[0]),
        "holds if the rates rank the same on train and validation AUC; partly if only the "
        "best agrees",
        {f"train_{lr:g}": train_fin[lr][0] for lr in RATES}
        | {f"val_{lr:g}": val_fin[lr][0] for lr in RATES})


def _best(fin: dict, th: Thresholds) -> Claim:
    order = rank_order({lr: v[0] for lr, v in fin.items()})
    best, runner = order[0], order[1]
    if best == 0.01:
        gap = fin[0.01][0] - fin[runner][0]
        need = margin([fin[0.01][1], fin[runner][1]], th.z, th.floor)
        verdict = graded(gap > need, True)
    else:
        gap = fin[0.01][0] - fin[best][0]
        need = margin([fin[0.01][1], fin[best][1]], th.z, th.floor)
        verdict = graded(False, -gap <= need)
    shown = ", ".join(f"lr={lr:g} {_f(fin[lr][0])}±{fin[lr][1]:.3f}" for lr in RATES)
    return Claim(
        "conclusion: 0.01 is the best rate",
        f"final val AUC (mean ± SE over seeds): {shown}",
        verdict,
        f"holds if lr=0.01 is best by more than max({th.z:g} SE, {th.floor:g}); partly if "
        "best by less, or within that margin of the best",
        {f"final_{lr:g}": fin[lr][0] for lr in RATES} | {"gap": gap, "margin": need})


def _keras(evidence: Evidence, val: dict, th: Thresholds) -> Claim:
    claim = "lrlab's curves lie inside the spread of Keras' runs (the brief's Keras code)"
    if "keras" not in evidence.tables:
        return Claim(claim, f"Keras not run: {evidence.settings.get('keras')}", "not run",
                     "needs Keras 3 with the torch backend")
    inside, total, diffs = 0, 0, {}
    for lr, ours, low, high, mid in _keras_bands(evidence.table("keras"), val):
        both_lost = ~np.isfinite(ours) & ~(np.isfinite(low) & np.isfinite(high))
        ok = (ours >= low - th.auc_tol) & (ours <= high + th.auc_tol)
        inside += int((ok | both_lost).sum())
        total += len(ours)
        diffs[lr] = float(np.nanmean(np.abs(ours - mid)))
    share = inside / total
    seeds = evidence.table("keras")["seed"].nunique()
    epochs = int(evidence.table("keras")["epoch"].max())
    shown = ", ".join(f"lr={lr:g} {d:.3f}" for lr, d in diffs.items())
    return Claim(
        claim,
        f"{inside} of {total} (rate, epoch) points of lrlab's median val AUC inside Keras' "
        f"min-max over {seeds} seeds (epochs 1-{epochs}, ±{th.auc_tol:g}); mean |lrlab - "
        f"Keras median|: {shown}",
        graded(share >= th.inside, share >= th.inside_part),
        f"holds if >= {th.inside:.0%} of points are inside; partly if >= {th.inside_part:.0%}",
        {"inside": float(inside), "total": float(total), "share": share}
        | {f"diff_{lr:g}": d for lr, d in diffs.items()})


def _keras_bands(keras: pd.DataFrame, val: dict):
    """Per rate: lrlab's median val AUC and Keras' min, max and median, epochs 1..E."""
    rows = keras[(keras["split"] == "val") & (keras["metric"] == "auc")]
    for lr in RATES:
        wide = rows[np.isclose(rows["lr"], lr)].pivot(index="epoch", columns="seed",
                                                      values="value").sort_index()
        ours = val[lr].reindex(wide.index).median(axis=1, skipna=False).to_numpy()
        values = wide.to_numpy(dtype=np.float64)
        yield (lr, ours, np.nanmin(values, axis=1), np.nanmax(values, axis=1),
               np.nanmedian(values, axis=1))


def figures(evidence: Evidence) -> list:
    """The brief's picture (seed 0: AUC per epoch, train and validation, per rate); the
    seed spread of every rate; lrlab inside Keras' spread."""
    from lrlab.report import curves_info, plot_curves, rate_colors

    run = evidence.run("lrlab")
    first = run.members.loc[run.members["seed"] == run.members["seed"].min(), "member"]
    colors = rate_groups(RATES)  # one colour per rate on the page
    out = [("ROC AUC per epoch, one seed per rate (the brief's picture)",
            plot_curves(curves_info(select(run, first.tolist()), "auc"),
                        colors=rate_colors(RATES)))]
    val = curves(run, "auc", "val")
    ours = band_info({f"lr={lr:g}": val[lr] for lr in RATES})
    out.append(((f"validation AUC: median and min-max over {run.members['seed'].nunique()} "
                "seeds"), plot_bands(ours, title="validation AUC per rate (lrlab seeds)",
                                    ylabel="ROC AUC", colors=colors)))
    if "keras" in evidence.tables:
        keras = evidence.table("keras")
        rows = keras[(keras["split"] == "val") & (keras["metric"] == "auc")]
        theirs = {f"lr={lr:g}": rows[np.isclose(rows["lr"], lr)].pivot(
            index="epoch", columns="seed", values="value") for lr in RATES}
        e = int(rows["epoch"].max())
        mine = {f"lr={lr:g}": val[lr].loc[:e] for lr in RATES}
        info = pd.concat([band_info(theirs, "keras"), band_info(mine, "lrlab")])
        out.append((("validation AUC: median and min-max over seeds, Keras' runs (solid) and "
                    "lrlab's (dashed)"),
                    plot_bands(info, title="lrlab inside Keras' spread", ylabel="ROC AUC",
                               colors=colors)))
    return out


def tables(evidence: Evidence) -> list:
    """Per rate: validation AUC at epochs 1, 5, 100 and at the end, mean over seeds."""
    run = evidence.run("lrlab")
    val = curves(run, "auc", "val")
    epochs = epochs_of(run)
    marks = sorted({1, min(5, epochs), min(100, epochs), epochs})
    rows = [{"lr": lr, **{f"val AUC epoch {e}": at(val[lr], e)[0] for e in marks},
             "final (mean of last 10%)": final(val[lr], THRESHOLDS.tail)[0],
             "SE": final(val[lr], THRESHOLDS.tail)[1]} for lr in RATES]
    return [("lrlab: validation AUC per rate (mean over seeds)", pd.DataFrame(rows))]


EXPERIMENT = Experiment(
    name="blobs-sgd", section="F1",
    summary="blobs, dense 2-50-3, SGD at 1, 0.1, 0.01, 0.001; AUC per epoch; beside "
            "the brief's Keras code",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables, needs=("Keras 3 for one row",))
