"""``range-test``: the brief's experiment F5, Leslie Smith's range test and what it implies.

On the digits task, :func:`lrlab.search.find_lr` trains a few epochs while the rate rises
*linearly* from ``1e-7`` (the brief's example minimum) to a maximum, with several seeds
(different example orders) read on the median curve of validation accuracy: ``min_lr`` where
accuracy starts to rise, ``max_lr`` where it stops improving or turns ragged, and the cycle
``max_lr / 3 .. max_lr`` it implies. Then one population trains, from the same weights and
order: constant rates on a grid, the constant ``max_lr``, one-cycle peaking at ``max_lr``
from ``max_lr / 3`` and Smith's triangle between ``max_lr / 3`` and ``max_lr``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lrlab.reproduce._claims import Claim, graded, margin
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._figures import band_info, plot_bands
from lrlab.reproduce._measure import curves, final
from lrlab.search import RangeTestResult, find_lr
from lrlab.train import Member

__all__ = ["EXPERIMENT", "THRESHOLDS", "RangeSize", "Thresholds", "judge", "range_result"]

#: The constant rates the cycle is compared with (plus ``max_lr`` itself).
GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class RangeSize:
    """How much to train: the range test's steps, end rate and seeds; then epochs, seeds."""

    steps: int
    end: float
    test_seeds: int
    epochs: int
    seeds: int
    start: float = 1e-7


SIZES = {
    "test": RangeSize(steps=40, end=3.0, test_seeds=2, epochs=3, seeds=2),
    "reduced": RangeSize(steps=200, end=3.0, test_seeds=3, epochs=30, seeds=3),
    "full": RangeSize(steps=400, end=3.0, test_seeds=5, epochs=60, seeds=5),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn F5's numbers into verdicts.

    Attributes:
        z, floor: a difference of mean final validation accuracies counts beyond ``z``
            standard errors of the seeds' spread and beyond ``floor`` (0.003: about one of
            digits' 360 validation images).
        tail: a curve's final value is its mean over this fraction of the last epochs.
        span: the range test gives a usable range when ``max_lr >= span * min_lr``.
    """

    z: float = 2.0
    floor: float = 0.003
    tail: float = 0.1
    span: float = 3.0


THRESHOLDS = Thresholds()


def _loss(task):
    def loss(outputs, targets):  # the task's own per-sample loss, averaged over the batch
        return task.loss(outputs.unsqueeze(0), targets).mean()
    return loss


def train(ctx: Context) -> Evidence:
    """The range test (several seeds, median curve), then one population of constants and
    cycles at the range it implies."""
    size: RangeSize = ctx.knobs
    task = ctx.task("digits")
    ctx.say(f"range test: {size.test_seeds} runs of {size.steps} steps, rate rising linearly "
            f"from {size.start:g} to {size.end:g}")
    model = task.init_model(0)
    result = find_lr(model, _loss(task), (task.train.x, task.train.y), start=size.start,
                     end=size.end, steps=size.steps, mode="linear",
                     val_data=(task.val.x, task.val.y), batch_size=task.batch_size,
                     seeds=size.test_seeds)
    top, low = result.max_lr.lr, result.cycle.lower
    settings = {"task": task.name, **asdict(size), "grid": list(GRID), "min_lr": result.min_lr.lr,
                "max_lr": top, "cycle": [low, result.cycle.upper]}
    evidence = Evidence("range-test", ctx.size, settings, tables={"range": _tidy(result)})
    if not math.isfinite(top):
        ctx.say("range test: no max_lr could be read; the cycle is not trained")
        return evidence
    evidence.runs["training"] = ctx.fit("range test: constant vs cycles", task,
                                        _members(top, low, size), epochs=size.epochs)
    return evidence


def _members(top: float, low: float, size: RangeSize) -> list[Member]:
    """Constants on the grid and at ``max_lr``; one-cycle and the triangle from ``low``."""
    half = size.epochs / 8
    specs = [(lr, "constant", f"constant {lr:.3g}") for lr in GRID]
    specs += [(top, "constant", "constant max_lr"),
              (top, f"onecycle:div_factor={top / low:.6g}", "one-cycle"),
              (top, f"cyclic:lo={low:.6g},half_period={half:g}", "cyclical")]
    return [Member(lr=lr, seed=seed, schedule=sched, label=f"{label} seed={seed}")
            for lr, sched, label in specs for seed in range(size.seeds)]


def _tidy(result: RangeTestResult) -> pd.DataFrame:
    """The median curve (``seed = -1``) and each run's, step by step."""
    frames = []
    for seed, run in [(-1, result), *zip(result.seeds, result.runs)]:
        frames.append(pd.DataFrame({
            "seed": seed, "step": np.arange(len(run.lrs)), "lr": run.lrs, "loss": run.losses,
            "val_loss": run.val_loss, "val_accuracy": run.val_accuracy}))
    return pd.concat(frames, ignore_index=True)


def range_result(evidence: Evidence) -> RangeTestResult:
    """The range test rebuilt from its saved curves: the same readings, recomputed."""
    table = evidence.table("range")

    def build(rows: pd.DataFrame, **kw) -> RangeTestResult:
        return RangeTestResult.build(rows["lr"].to_numpy(), rows["loss"].to_numpy(),
                                     val_accuracy=rows["val_accuracy"].to_numpy(),
                                     val_loss=rows["val_loss"].to_numpy(), mode="linear", **kw)

    seeds = sorted(int(s) for s in table["seed"].unique() if s >= 0)
    runs = tuple(build(table[table["seed"] == s]) for s in seeds)
    return build(table[table["seed"] == -1], runs=runs, seeds=tuple(seeds))


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """F5's claims, each decided from the records (see :class:`Thresholds`)."""
    result = range_result(evidence)
    claims = [_readable(result, th)]
    if "training" not in evidence.runs:
        why = "no max_lr could be read, so nothing was trained at it"
        return claims + [Claim(c, why, "not run", "needs a max_lr reading") for c in _AFTER]
    groups = _groups(evidence)
    fin = {name: final(table, th.tail) for name, table in groups.items()}
    consts = {n: v for n, v in fin.items() if n.startswith("constant ") and n != "constant max_lr"}
    best = max(consts, key=lambda n: consts[n][0])
    median = float(np.median([v[0] for v in consts.values()]))
    claims.append(_compare(_AFTER[0], "constant max_lr", fin, best, median, th))
    claims += [_compare(_AFTER[i], name, fin, best, median, th)
               for i, name in ((1, "one-cycle"), (2, "cyclical"))]
    return claims


_AFTER = ("max_lr (where accuracy stops improving) is a good initial rate",
          ("one-cycle over the implied range (max_lr / 3 .. max_lr) trains as well as the best "
          "constant rate"),
          "a cyclical rate over the implied range trains as well as the best constant rate")


def _readable(result: RangeTestResult, th: Thresholds) -> Claim:
    lo, hi = result.min_lr.lr, result.max_lr.lr
    both = math.isfinite(lo) and math.isfinite(hi)
    wide = both and hi >= th.span * lo
    return Claim(
        "the accuracy-vs-rate plot shows where accuracy starts to rise (min) and where it "
        "stops improving or turns ragged (max); max / 3 .. max is a cycle",
        f"median of {len(result.runs) or 1} runs: min_lr {lo:.3g}, max_lr {hi:.3g} "
        f"({result.max_lr.why}); cycle {result.cycle.lower:.3g}..{result.cycle.upper:.3g}",
        graded(wide, math.isfinite(lo) or math.isfinite(hi)),
        f"holds if both readings exist and max_lr >= {th.span:g} x min_lr; partly if only one "
        "exists or the range is narrower",
        {"min_lr": lo, "max_lr": hi, "cycle_lower": result.cycle.lower})


def _compare(claim: str, name: str, fin: dict, best: str, median: float,
             th: Thresholds) -> Claim:
    gap = fin[best][0] - fin[name][0]
    need = margin([fin[best][1], fin[name][1]], th.z, th.floor)
    return Claim(
        claim,
        f"final val accuracy (mean ± SE): {name} {fin[name][0]:.4f}±{fin[name][1]:.4f}; best "
        f"{best} {fin[best][0]:.4f}±{fin[best][1]:.4f}; median constant {median:.4f}",
        graded(gap <= need, fin[name][0] > median),
        f"holds if at most max({th.z:g} SE, {th.floor:g}) below the best constant rate on the "
        "grid (or above it); partly if above the grid's median",
        {"final": fin[name][0], "best_constant": fin[best][0], "median_constant": median,
         "gap": gap, "margin": need})


def _groups(evidence: Evidence, metric: str = "accuracy") -> dict[str, pd.DataFrame]:
    """Seed tables per member kind (``constant 0.1``, ``constant max_lr``, ``one-cycle``...)."""
    run = evidence.run("training")
    members = run.members.assign(kind=run.members["label"].str.replace(r" seed=\d+$", "",
                                                                        regex=True))
    run = type(run)(task=run.task, monitor=run.monitor, higher_is_better=run.higher_is_better,
                    config=run.config, records=run.records, members=members)
    return curves(run, metric, "val", by=("kind",))


def figures(evidence: Evidence) -> list:
    """The range test's curve with its readings; the cycles against the constants."""
    from lrlab.report import plot_range_test, range_test_info

    out = [(("range test: loss and validation accuracy against the rate (linear ramp), with "
            "the readings"), plot_range_test(range_test_info(range_result(evidence))))]
    if "training" in evidence.runs:
        for metric in ("accuracy", "loss"):
            out.append(((f"validation {metric}: constants, one-cycle and cyclical (mean and "
                        "min-max over seeds)"),
                        plot_bands(band_info(_groups(evidence, metric), mid="mean"),
                                   title=f"validation {metric}", ylabel=metric,
                                   log=metric == "loss")))
    return out


def tables(evidence: Evidence) -> list:
    """The readings; per member kind, final validation accuracy and loss."""
    result = range_result(evidence)
    readings = pd.DataFrame([(n, r.lr, r.why) for n, r in result.suggestions().items()],
                            columns=["reading", "lr", "why"])
    out = [("range test readings (median curve)", readings)]
    if "training" in evidence.runs:
        acc, loss = _groups(evidence, "accuracy"), _groups(evidence, "loss")
        rows = [{"member": n, "final val accuracy": final(acc[n], 0.1)[0],
                 "SE": final(acc[n], 0.1)[1], "final val loss": final(loss[n], 0.1)[0]}
                for n in acc]
        out.append(("final values (mean over seeds)", pd.DataFrame(rows)))
    return out


EXPERIMENT = Experiment(
    name="range-test", section="F5",
    summary="Smith's range test (linear ramp), its min/max reading and cycle, then "
            "one-cycle at that range vs constant rates (digits)",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables)
