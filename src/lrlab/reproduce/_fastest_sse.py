"""``fastest-sse``: the brief's experiment F3, Wilson & Martinez' procedure end to end.

:func:`lrlab.search.fastest` on the digits task: phase 1 trains one epoch at rates a decade
apart from the same weights and example order and scores each by the training SSE summed
over that epoch; phase 2 walks to slower rates while the best holdout accuracy improves.
A third population trains every phase-1 rate for as long as phase 2 does, so the SSE per
rate after one epoch and after the last can be compared (the article's picture). W&M train
on-line (one example per step); the full size does too, the reduced size uses small batches.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lrlab.reproduce._claims import Claim, graded
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._measure import curves, final, merge
from lrlab.search import FASTEST_LRS, fastest, replay_fastest

__all__ = ["EXPERIMENT", "THRESHOLDS", "FastestSize", "Thresholds", "judge", "replay"]


@dataclass(frozen=True)
class FastestSize:
    """How much to train: the longest phase-2 run, its patience, the batch size, and the
    training examples used (``None``: all of digits' 1,078)."""

    max_epochs: int
    patience: int
    batch_size: int
    subset: int | None


SIZES = {
    "test": FastestSize(max_epochs=4, patience=2, batch_size=4, subset=300),
    "reduced": FastestSize(max_epochs=40, patience=8, batch_size=8, subset=None),
    "full": FastestSize(max_epochs=50, patience=10, batch_size=1, subset=None),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn F3's numbers into verdicts.

    Attributes:
        acc: an accuracy difference counts above this (0.003: about one of digits' 360
            validation images).
        tail: a curve's final value is its mean over this fraction of the last epochs.
    """

    acc: float = 0.003
    tail: float = 0.1


THRESHOLDS = Thresholds()


def train(ctx: Context) -> Evidence:
    """The procedure, then every phase-1 rate trained as long as phase 2."""
    size: FastestSize = ctx.knobs
    task = ctx.task("digits")
    if size.subset is not None:
        task = task.subset(size.subset, seed=0)
    with ctx.progress("fastest: procedure", task.monitor, task.higher_is_better) as callbacks:
        result = fastest(task, lrs=FASTEST_LRS, max_epochs=size.max_epochs,
                         patience=size.patience, batch_size=size.batch_size, device=ctx.device,
                         callbacks=callbacks)
    long = ctx.sweep("fastest: every phase-1 rate", task, lrs=list(FASTEST_LRS),
                     epochs=size.max_epochs, batch_size=size.batch_size)
    runs = {"phase1": result.evidence[0], "long": long}
    runs |= {f"phase2-{i}": run for i, run in enumerate(result.evidence[1:], start=1)}
    settings = {"lrs": list(FASTEST_LRS), "task": task.name, **asdict(size),
                "procedure_lr": result.lr, "procedure_stop_epoch": result.stop_epoch,
                "explanation": result.explanation}
    return Evidence("fastest-sse", ctx.size, settings, runs=runs)


def _phase2(evidence: Evidence) -> list:
    names = sorted((n for n in evidence.runs if n.startswith("phase2-")),
                   key=lambda n: int(n.split("-")[1]))
    return [evidence.runs[n] for n in names]


def replay(evidence: Evidence) -> dict:
    """The procedure's decisions recomputed from the records: phase 1's SSE table, the
    fastest rate, phase 2's holdout table and the walk."""
    r = replay_fastest(evidence.run("phase1"), _phase2(evidence),
                       patience=int(evidence.settings["patience"]))
    return {"sse": r.sse, "fastest": r.fastest_lr, "phase2": r.phase2, "walk": r.walk,
            "chosen": r.lr}


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """F3's claims, each decided from the records (see :class:`Thresholds`)."""
    r = replay(evidence)
    every = merge([evidence.run("long"), *_phase2(evidence)])
    return [_fastest_claim(r, every, th), _slower_pays(r, th), _sse_after(r, every, th),
            _overfits(r, every, th)]


def _per_rate(run, metric: str, split: str, how: str, th: Thresholds) -> dict[float, float]:
    """Per rate (first member of each): the final (tail mean) or best value."""
    out = {}
    for lr, table in curves(run, metric, split).items():
        column = table.iloc[:, 0]
        if how == "best":
            out[float(lr)] = float(column.max()) if column.notna().any() else math.nan
        else:
            out[float(lr)] = final(table.iloc[:, :1], th.tail)[0]
    return out


def _fastest_claim(r: dict, every, th: Thresholds) -> Claim:
    fast = r["fastest"]
    sse1 = dict(zip(r["sse"]["lr"], r["sse"]["sse"]))
    sse_end = _per_rate(every, "sse", "train", "final", th)
    acc = _per_rate(every, "accuracy", "val", "best", th)
    larger = [lr for lr in sorted(sse_end) if lr > fast]
    claim = ("the lowest one-epoch SSE marks the 'fastest' rate: every larger rate is slower "
             "and less accurate")
    shown = ", ".join(f"{lr:g}: {sse1.get(lr, math.nan):.4g}" for lr in sorted(sse1, reverse=True))
    if not larger:
        return Claim(claim, f"one-epoch SSE {shown}; no rate above the fastest ({fast:g})",
                     "not run", "needs a phase-1 rate larger than the fastest")
    # NaN (a diverged member) counts as higher SSE and lower accuracy
    worse = [lr for lr in larger if not sse_end[lr] <= sse_end[fast]
             and not acc[lr] >= acc[fast] - th.acc]
    last = ", ".join(f"{lr:g}: SSE {sse_end[lr]:.4g}, best acc {acc[lr]:.4f}"
                     for lr in [fast, *larger])
    return Claim(
        claim,
        f"one-epoch SSE {shown} -> fastest {fast:g}; after the last epoch {last}",
        graded(len(worse) == len(larger), bool(worse)),
        f"holds if every larger rate ends with a higher training SSE and a best holdout "
        f"accuracy lower by more than {th.acc:g}; partly if some do",
        {"fastest": fast, "larger": float(len(larger)), "worse": float(len(worse))}
        | {f"sse_end_{lr:g}": sse_end[lr] for lr in [fast, *larger]})


def _slower_pays(r: dict, th: Thresholds) -> Claim:
    table, chosen = r["phase2"], r["chosen"]
    fast = float(table.iloc[0]["lr"])  # where phase 2 started: the fastest rate
    acc = dict(zip(table["lr"], table["best_accuracy"]))
    gain = acc[chosen] - acc[fast]
    shown = ", ".join(f"{lr:.3g}: {a:.4f}" for lr, a in acc.items())
    return Claim(
        "going slower than the fastest rate improves holdout accuracy (until it no longer "
        "does)",
        f"phase 2 best holdout accuracy {shown}; chosen {chosen:.3g} vs fastest {fast:g}: "
        f"{gain:+.4f}",
        graded(chosen < fast and gain > th.acc, chosen < fast),
        f"holds if the walk chooses a slower rate whose best accuracy beats the fastest's by "
        f"more than {th.acc:g}; partly if slower but by less",
        {"fastest": fast, "chosen": chosen, "gain": gain})


def _sse_after(r: dict, every, th: Thresholds) -> Claim:
    sse_end = _per_rate(every, "sse", "train", "final", th)
    finite = {lr: v for lr, v in sse_end.items() if math.isfinite(v)}
    best = min(finite, key=lambda lr: (finite[lr], lr))
    fast = r["fastest"]
    shown = ", ".join(f"{lr:.3g}: {v:.4g}" for lr, v in sorted(finite.items(), reverse=True))
    return Claim(
        "after long training a rate slower than the one-epoch fastest has the lowest SSE "
        "(the article: 0.05 lowest after 200 epochs)",
        f"training SSE after the last epoch: {shown}; lowest at {best:.3g} (fastest {fast:g})",
        graded(best < fast, best == fast),
        "holds if the lowest final training SSE is at a rate below the fastest; partly if at "
        "the fastest",
        {"lowest_lr": best, "fastest": fast, "lowest_sse": finite[best]})


def _overfits(r: dict, every, th: Thresholds) -> Claim:
    chosen = r["chosen"]
    table = curves(every, "accuracy", "val")[chosen].iloc[:, 0].dropna()
    best_epoch, best = int(table.idxmax()), float(table.max())
    end = final(table.to_frame(), th.tail)[0]
    drop = best - end
    return Claim(
        "holdout accuracy rises, plateaus, then falls as the network overfits",
        f"lr={chosen:.3g}: best {best:.4f} at epoch {best_epoch} of {int(table.index.max())}, "
        f"final {end:.4f} ({-drop:+.4f})",
        graded(drop > th.acc, best_epoch < int(table.index.max())),
        f"holds if the final accuracy (mean of the last {th.tail:.0%} of epochs) is more than "
        f"{th.acc:g} below the best; partly if it only plateaus (best before the last epoch)",
        {"best": best, "best_epoch": float(best_epoch), "final": end, "drop": drop})


def figures(evidence: Evidence) -> list:
    """SSE per rate after one epoch and after the last; holdout accuracy of phase 2."""
    from lrlab.report import curves_info, plot_curves, plot_sse, rate_colors, sse_info

    every = merge([evidence.run("long"), *_phase2(evidence)])
    phase2 = merge(_phase2(evidence))
    colors = rate_colors(every.members["lr"])  # one colour per rate on the page
    return [("training SSE per rate after epoch 1 and after the last (Wilson & Martinez)",
             plot_sse(sse_info(every), colors=colors)),
            ("phase 2: accuracy per epoch at the fastest rate and slower ones",
             plot_curves(curves_info(phase2, "accuracy"), colors=colors))]


def tables(evidence: Evidence) -> list:
    """Phase 1's SSE per rate and phase 2's holdout stops, recomputed from the records."""
    r = replay(evidence)
    return [("phase 1: training SSE summed over one epoch", r["sse"].drop(columns="score")),
            ("phase 2: stopped by holdout accuracy", r["phase2"])]


EXPERIMENT = Experiment(
    name="fastest-sse", section="F3",
    summary="Wilson & Martinez' fastest rate by one-epoch SSE, then slower rates stopped "
            "by holdout accuracy (digits)",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables)
