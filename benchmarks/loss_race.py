"""``auto``'s race on a task ranked by its validation loss, read against the full training.

(``--metric accuracy``: on a task ranked by its validation accuracy, the same read in accuracy
points below the grid's best, the race's reading its best accuracy within the race's epochs.)

For each seed: ``lrlab.search.auto`` runs as a user would, then every rate it raced and a
grid of thirds of a decade are trained for the task's full epochs as one population from
the same seed (a member's steps do not depend on the population, so each raced rate's
first epochs are its race, bit for bit with SGD). Printed per rate: its race reading (best
validation loss within the race's epochs, its last epoch's fall, the last epoch's mean
training loss) beside its full training's best validation loss and that best's excess
over the grid's best. Then a few readings of the race, each choosing among the raced
rates, scored like the pick.

Run from benchmarks/ (``PYTHONPATH=../src:.``)::

    python loss_race.py finder_tasks:regression sgd 0,1,2,3,4 1e-4 10
    python loss_race.py user_shapes3:triplet sgd 0,1,2 1e-2 100
    python loss_race.py user_shapes3:siren adam 0,1,2 1e-6 1e-2
    python loss_race.py user_shapes3:resmlp adamw 0,1,2 1e-5 0.1 --weight-decay 0.01
    python loss_race.py finder_tasks:deep_tanh momentum 0,1,2 1e-3 1 --metric accuracy
"""

from __future__ import annotations

import argparse
import importlib
import math

import numpy as np

from lrlab import search
from lrlab.search._common import plan


def _curve(records, member: int, split: str, metric: str = "loss") -> np.ndarray:
    r = records[(records.member == member) & (records.split == split)
                & (records.metric == metric)].sort_values("epoch")
    return r["value"].to_numpy(float)


def _best(v: np.ndarray, metric: str = "loss") -> float:
    """The best value of a curve: its lowest loss, or its highest accuracy (0 if none)."""
    v = v[np.isfinite(v)]
    if metric == "accuracy":
        return float(v.max()) if len(v) else 0.0
    return float(v.min()) if len(v) else math.inf


def run(spec: str, optimizer: str, seed: int, low: float, high: float,
        hparams: dict, metric: str = "loss") -> dict:
    module, name = spec.split(":")
    make = getattr(importlib.import_module(module), name)
    task = make()
    kw = {"hparams": hparams} if hparams else {}
    result = search.auto(task, optimizer=optimizer, seed=seed, **kw)
    raced = sorted(float(x) for x in result.scores["lr"])
    grid = [float(f"{g:.3g}") for g in
            np.geomspace(low, high, round(3 * math.log10(high / low)) + 1)]
    rates = sorted(set(raced) | set(grid))
    p = plan("auto", task, subset=None, epochs=None, optimizer=optimizer, seed=seed,
             callbacks=(), settings=dict(kw))
    full = p.train(rates, epochs=p.epochs, task=p.task)
    lrs = full.members["lr"].to_numpy(float)
    val = {float(lr): _curve(full.records, m, "val", metric) for m, lr in enumerate(lrs)}
    train = {float(lr): _curve(full.records, m, "train") for m, lr in enumerate(lrs)}
    return {"name": name, "optimizer": optimizer, "seed": seed, "pick": result.lr,
            "raced": raced, "grid": grid, "h": result.race_epochs, "epochs": p.epochs,
            "val": val, "train": train, "metric": metric}


def show(r: dict) -> None:
    h, val, train, metric = r["h"], r["val"], r["train"], r.get("metric", "loss")
    acc = metric == "accuracy"
    best_lr = (max if acc else min)(r["grid"], key=lambda g: _best(val[g], metric))
    best = _best(val[best_lr], metric)
    unit = " points" if acc else "%"

    def excess(lr: float) -> float:
        """Below the grid's best: accuracy points, or percent excess loss."""
        b = _best(val[lr], metric)
        return 100 * (best - b) if acc else 100 * (b / best - 1)

    print(f"{r['name']} {r['optimizer']} seed {r['seed']}: auto {r['pick']:.3g} "
          f"({excess(r['pick']):+.1f}{unit}), grid best {best_lr:.3g} ({best:.4g}), "
          f"race {h} of {r['epochs']} epochs")
    for lr in sorted(val):
        v, t = val[lr], train[lr]
        tag = ("R" if lr in r["raced"] else " ") + ("*" if math.isclose(lr, r["pick"]) else " ")
        if len(v) <= h or not np.isfinite(v[:h]).all():
            print(f"  {tag} {lr:<9.3g} diverged by epoch {len(v)}")
            continue
        fall = v[h - 2] - v[h - 1] if h > 1 else math.nan
        at = int(np.nanargmax(v) if acc else np.nanargmin(v)) + 1
        print(f"  {tag} {lr:<9.3g} race: best {_best(v[:h], metric):.4g}, last "
              f"{'rise' if acc else 'fall'} {-fall if acc else fall:+.4g}, train "
              f"{t[h - 1]:.4g} | full: best {_best(v, metric):.4g} ({excess(lr):+.1f}{unit}) "
              f"at epoch {at}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", help="module:function returning a Task (finder_tasks:regression)")
    ap.add_argument("optimizer")
    ap.add_argument("seeds", help="comma-separated, e.g. 0,1,2")
    ap.add_argument("low", type=float, help="the grid's lowest rate")
    ap.add_argument("high", type=float, help="the grid's highest rate")
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--metric", choices=("loss", "accuracy"), default="loss",
                    help="what the task is ranked by (accuracy: points below the grid's best)")
    a = ap.parse_args()
    hp = {"weight_decay": a.weight_decay} if a.weight_decay is not None else {}
    for s in a.seeds.split(","):
        show(run(a.task, a.optimizer, int(s), a.low, a.high, hp, a.metric))


if __name__ == "__main__":
    main()
