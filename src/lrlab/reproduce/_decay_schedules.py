"""``decay-schedules``: the brief's experiment F4, decay schedules side by side on one task.

One population on the digits task (MLP 64-64-10, SGD, batch 32), every member starting at
the same rate ``lr0`` from the same weights and example order (per seed): a constant rate;
step, exponential and 1/t decay, each falling 100x over training (the brief's rule of
thumb); exponential decay by 10x and 1000x to test that rule; Smith's cyclical rate
(triangle between ``lr0 / 4`` and ``lr0``, four cycles) and one-cycle (peak ``lr0``).
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
from lrlab.reproduce._measure import curves, epochs_of, final

__all__ = ["EXPERIMENT", "THRESHOLDS", "DecaySize", "Thresholds", "formula_rates", "judge",
           "schedules"]

#: The names the claims use for each member's schedule.
NAMES = ("constant", "step", "exponential", "1/t", "exp 10x", "exp 1000x", "cyclical",
         "one-cycle")


@dataclass(frozen=True)
class DecaySize:
    """How much to train: epochs, seeds, and the shared starting rate."""

    epochs: int
    seeds: int
    lr0: float = 0.5


SIZES = {
    "test": DecaySize(epochs=4, seeds=2),
    "reduced": DecaySize(epochs=40, seeds=3),
    "full": DecaySize(epochs=100, seeds=5),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn F4's numbers into verdicts.

    Attributes:
        z, floor: a difference of mean final validation losses counts beyond ``z`` standard
            errors of the seeds' spread and beyond ``floor``.
        tail: a curve's final value is its mean over this fraction of the last epochs.
        rtol: the recorded rates match the formulas within this relative error (float32).
    """

    z: float = 2.0
    floor: float = 0.002
    tail: float = 0.1
    rtol: float = 1e-5


THRESHOLDS = Thresholds()


def schedules(epochs: int, lr0: float) -> dict[str, str]:
    """Each member's schedule, as ``--schedule`` writes it, by the claims' name."""
    every = max(1, epochs // 4)
    return {"constant": "constant", "step": f"step:every={every},decay=100",
            "exponential": "exp:decay=100", "1/t": "inv:decay=100",
            "exp 10x": "exp:decay=10", "exp 1000x": "exp:decay=1000",
            "cyclical": f"cyclic:lo={lr0 / 4:g},half_period={epochs / 8:g}",
            "one-cycle": "onecycle"}


def train(ctx: Context) -> Evidence:
    """One population: the schedules x seeds, all from ``lr0``."""
    size: DecaySize = ctx.knobs
    task = ctx.task("digits")
    specs = schedules(size.epochs, size.lr0)
    run = ctx.sweep("schedules", task, lrs=[size.lr0], schedules=list(specs.values()),
                    seeds=list(range(size.seeds)), epochs=size.epochs)
    steps = math.ceil(len(task.train) / task.batch_size)
    return Evidence("decay-schedules", ctx.size,
                    {"task": task.name, **asdict(size), "schedules": specs,
                     "steps_per_epoch": steps}, runs={"schedules": run})


def formula_rates(name: str, lr0: float, epochs: int, steps_per_epoch: int,
                  every: int) -> np.ndarray | None:
    """The rate at the last step of each epoch by the brief's formulas (float64), for the
    100x decays: ``lr0 * exp(-k t)``, ``lr0 / (1 + k t)``, ``lr0 * f ** floor(t / N)``, with
    ``k`` or ``f`` such that the last step's rate is ``lr0 / 100``; ``None`` for the others."""
    last = epochs * steps_per_epoch - 1
    t = np.arange(1, epochs + 1, dtype=np.float64) * steps_per_epoch - 1
    if name == "exponential":
        return lr0 * np.exp(-math.log(100) / max(last, 1) * t)
    if name == "1/t":
        return lr0 / (1 + 99 / max(last, 1) * t)
    if name == "step":
        n = every * steps_per_epoch
        return lr0 * (100 ** (-1 / math.floor(last / n))) ** np.floor(t / n)
    return None


def _groups(evidence: Evidence, metric: str, split: str = "val") -> dict[str, pd.DataFrame]:
    """The seed table of each schedule, by the claims' name."""
    run = evidence.run("schedules")
    by_spec = curves(run, metric, split, by=("schedule",))
    return {name: by_spec[spec] for name, spec in evidence.settings["schedules"].items()}


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """F4's claims, each decided from the records (see :class:`Thresholds`)."""
    loss = _groups(evidence, "loss")
    fin = {name: final(table, th.tail) for name, table in loss.items()}
    return [_formulas(evidence, th), _hundred(fin, th), _beats_constant(fin, th),
            _smith("cyclical", fin, th), _smith("one-cycle", fin, th)]


def _formulas(evidence: Evidence, th: Thresholds) -> Claim:
    s = evidence.settings
    rates = _groups(evidence, "lr", "train")
    every = max(1, int(s["epochs"]) // 4)
    errors, ratios = {}, {}
    for name in ("step", "exponential", "1/t"):
        want = formula_rates(name, float(s["lr0"]), int(s["epochs"]), int(s["steps_per_epoch"]),
                             every)
        got = rates[name].to_numpy(dtype=np.float64)
        errors[name] = float(np.max(np.abs(got - want[:, None]) / want[:, None]))
        ratios[name] = float(s["lr0"] / np.median(got[-1]))
    ok = all(e <= th.rtol for e in errors.values())
    close = all(abs(r / 100 - 1) <= 0.01 for r in ratios.values())
    shown = ", ".join(f"{n}: max rel. error {errors[n]:.1e}, lr0/last {ratios[n]:.4g}"
                      for n in errors)
    return Claim(
        "step, exponential (lr0 exp(-kt)) and 1/t (lr0 / (1 + kt)) decay by ~100x over "
        "training",
        f"recorded rate at each epoch's last step vs the formulas: {shown}",
        graded(ok and close, ok or close),
        f"holds if every recorded rate matches its formula within {th.rtol:g} (relative) and "
        "lr0 / final rate is 100 within 1%; partly if one of the two",
        {f"error_{n}": e for n, e in errors.items()} | {f"ratio_{n}": r for n, r in
                                                        ratios.items()})


def _shown(fin: dict, names) -> str:
    return ", ".join(f"{n} {fin[n][0]:.4f}±{fin[n][1]:.4f}" for n in names)


def _hundred(fin: dict, th: Thresholds) -> Claim:
    names = ("exp 10x", "exponential", "exp 1000x")
    best = min(names, key=lambda n: fin[n][0])
    gap = fin["exponential"][0] - fin[best][0]
    need = margin([fin["exponential"][1], fin[best][1]], th.z, th.floor)
    beaten = [n for n in names if n != "exponential"
              and fin[n][0] - fin["exponential"][0] > margin([fin[n][1], fin["exponential"][1]],
                                                             th.z, th.floor)]
    return Claim(
        "a total decay of about 100x over training is a good rule of thumb",
        f"final val loss (mean ± SE): {_shown(fin, names)} (exponential decay by 10x, 100x, "
        "1000x)",
        graded(gap <= need, bool(beaten)),
        f"holds if 100x is best or within max({th.z:g} SE, {th.floor:g}) of the best; partly "
        "if it beats 10x or 1000x by that margin",
        {"final_10x": fin["exp 10x"][0], "final_100x": fin["exponential"][0],
         "final_1000x": fin["exp 1000x"][0], "gap": gap, "margin": need})


def _beats_constant(fin: dict, th: Thresholds) -> Claim:
    names = ("step", "exponential", "1/t")
    c = fin["constant"]
    better = [n for n in names
              if c[0] - fin[n][0] > margin([c[1], fin[n][1]], th.z, th.floor)]
    return Claim(
        "decaying the rate (step, exponential, 1/t) ends better than a constant rate",
        f"final val loss (mean ± SE): {_shown(fin, ('constant', *names))}; better than "
        f"constant: {', '.join(better) or 'none'}",
        graded(len(better) == len(names), bool(better)),
        f"holds if all three end below constant by more than max({th.z:g} SE, {th.floor:g}); "
        "partly if some do",
        {f"final_{n}": fin[n][0] for n in ("constant", *names)} | {"better": float(len(better))})


def _smith(name: str, fin: dict, th: Thresholds) -> Claim:
    decays = ("step", "exponential", "1/t")
    best = min(decays, key=lambda n: fin[n][0])
    gap = fin[name][0] - fin[best][0]
    need = margin([fin[name][1], fin[best][1]], th.z, th.floor)
    beats = [n for n in decays if fin[n][0] - fin[name][0] > margin([fin[n][1], fin[name][1]],
                                                                     th.z, th.floor)]
    return Claim(
        f"{'cyclical rates (Smith) train' if name == 'cyclical' else 'one-cycle (Smith) trains'} as well as "
        "the best decay schedule",
        f"final val loss: {name} {fin[name][0]:.4f}±{fin[name][1]:.4f}, best decay "
        f"({best}) {fin[best][0]:.4f}±{fin[best][1]:.4f}",
        graded(gap <= need, bool(beats)),
        f"holds if it ends at or below the best decay schedule plus max({th.z:g} SE, "
        f"{th.floor:g}); partly if it beats one of them by that margin",
        {"final": fin[name][0], "best_decay": fin[best][0], "gap": gap, "margin": need})


def figures(evidence: Evidence) -> list:
    """The rate of each schedule per epoch; validation loss and accuracy, seeds' spread."""
    from lrlab.report import plot_schedules, schedule_info

    out = [("the rate at each epoch's last step, per schedule",
            plot_schedules(schedule_info(evidence.run("schedules")), log=True))]
    for metric, what in (("loss", "validation cross-entropy"),
                         ("accuracy", "validation accuracy")):
        groups = _groups(evidence, metric)
        out.append((f"{what} per schedule: mean and min-max over seeds",
                    plot_bands(band_info(groups, mid="mean"), title=f"{what} per schedule",
                               ylabel=metric, log=metric == "loss")))
    return out


def tables(evidence: Evidence) -> list:
    """Per schedule: its spec, final validation loss and accuracy (mean ± SE over seeds)."""
    loss, acc = _groups(evidence, "loss"), _groups(evidence, "accuracy")
    rows = []
    for name, spec in evidence.settings["schedules"].items():
        (l_mean, l_se), (a_mean, a_se) = final(loss[name], 0.1), final(acc[name], 0.1)
        rows.append({"schedule": name, "spec": spec, "final val loss": l_mean, "SE": l_se,
                     "final val accuracy": a_mean, "SE ": a_se})
    epochs = epochs_of(evidence.run("schedules"))
    return [(f"final values (mean of the last 10% of {epochs} epochs, over seeds)",
             pd.DataFrame(rows))]


EXPERIMENT = Experiment(
    name="decay-schedules", section="F4",
    summary="constant vs step vs exponential vs 1/t (and cyclical, one-cycle) in one "
            "population (digits)",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables)
