"""``auto`` with Adam on tasks ranked by a loss: its tie walk down paced or not.

With an adaptive rule ``auto``'s race gives a tie to the lower rate (``choose(walk="down")``);
on a race ranked by a loss the walk stops at a lower rate whose validation loss fell less
than the best's in the race's last epoch by more than the tie's band (``paced=True``). For
each scenario and seed ``auto`` runs as it is and with the walk unpaced (``choose`` wrapped
with ``paced=False``, the walk before the rule); where the picks differ, both picks and a
grid of thirds of a decade train for the full epochs from that seed as one population, each
scored by its best validation loss, as percent excess over the grid's best.

Run from benchmarks/ (``PYTHONPATH=../src:.``)::

    python paced_walk.py --seeds 0,1,2 "user_shapes3:siren 1e-6 1e-2" ...

A scenario is ``module:function low high [optimizer]`` (default optimizer adam).
"""

from __future__ import annotations

import argparse
import importlib
import math

import numpy as np

import lrlab
from lrlab.search import _auto


def _pick(make, optimizer: str, seed: int, paced: bool) -> float:
    original = _auto.choose

    def unpaced(*args, **kw):
        return original(*args, **{**kw, "paced": False})

    if not paced:
        _auto.choose = unpaced
    try:
        return lrlab.search.auto(make(), optimizer=optimizer, seed=seed).lr
    finally:
        _auto.choose = original


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--seeds", default="0,1")
    a = ap.parse_args()
    print("| scenario | seed | unpaced walk | excess | auto (paced) | excess | grid best |")
    print("| :-- | --: | --: | --: | --: | --: | --: |")
    for spec in a.scenarios:
        parts = spec.split()
        module, name = parts[0].split(":")
        low, high = float(parts[1]), float(parts[2])
        optimizer = parts[3] if len(parts) > 3 else "adam"
        make = getattr(importlib.import_module(module), name)
        for seed in (int(s) for s in a.seeds.split(",")):
            before, after = (_pick(make, optimizer, seed, p) for p in (False, True))
            if math.isclose(before, after):
                print(f"| {name} {optimizer} | {seed} | {before:.3g} | | same | | |", flush=True)
                continue
            grid = {float(f"{g:.3g}") for g in
                    np.geomspace(low, high, round(3 * math.log10(high / low)) + 1)}
            swept = lrlab.sweep(make(), lrs=sorted(grid | {before, after}), seeds=[seed],
                                optimizer=optimizer)
            score = swept.summary().groupby("lr")["best_val_loss"].min()
            best_lr = min(grid, key=lambda g: score[g])
            best = float(score[best_lr])
            print(f"| {name} {optimizer} | {seed} | {before:.3g} | "
                  f"{100 * (score[before] / best - 1):+.1f}% | {after:.3g} | "
                  f"{100 * (score[after] / best - 1):+.1f}% | {best_lr:.3g} |", flush=True)


if __name__ == "__main__":
    main()
