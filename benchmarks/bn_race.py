"""`lrlab auto` on BatchNorm nets, its races scored three ways: ``running``, on the running
statistics PyTorch's evaluation mode reads (``norm_batches=None``: before session 12);
``auto``, the default (a race whose every rate sat at chance so runs again on BatchNorm
statistics recomputed from training batches, ``_Race.rescore``); ``every``, every race on
recomputed statistics (``norm_batches=10``).

For each scenario of ``new_user.py`` and each seed: the picks, each one's regret against
that seed's grid (every rate trained for the full epochs, the same training whichever way
the races were scored), the warnings' kinds, ``auto``'s compute as a share of a 16-rate
grid's (every rate trained for the full epochs) and the seconds ``auto`` took.

Run: ``cd benchmarks && PYTHONPATH=../src:. nice -n 10 python bn_race.py --only "mobilenet
nesterov,audio momentum" --seeds 0,1,2 --grid 13 [--ways running,auto,every] [--cache
FILE]`` (``--cache``: the grid's scores, in ``new_user.py --cache``'s format, shared with it).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from new_user import _grid_best, _regret, _scenario, _seed_scores, scenario_names

import lrlab

#: how each way sets the races' scoring (``auto``'s settings)
WAYS = {"running": {"norm_batches": None}, "auto": {}, "every": {"norm_batches": 10}}


def race_ways(name: str, seed: int, grid: int, cache: str | None, ways: list[str]) -> dict:
    """``auto`` from ``seed`` on scenario ``name``, its races scored each of ``ways``,
    beside the seed's ``grid``-rate grid."""
    make, rule, span, schedule, floor = _scenario(name)
    out: dict = {"scenario": name, "seed": seed}
    results, epochs = {}, make().epochs  # (the full training's epochs)
    for way in ways:
        extra = WAYS[way]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[way] = lrlab.search.auto(make(), seed=seed, **rule, **schedule, **extra)
        out[f"{way} s"] = time.perf_counter() - start
    rates = {float(f"{v:.3g}") for v in np.geomspace(*span, grid)}
    mine, higher = _seed_scores(name, seed, rates | {r.lr for r in results.values()}, cache)
    score = pd.Series(mine)
    best_lr, best = _grid_best(score, rates, higher)
    for way, r in results.items():
        out[way] = r.lr
        out[f"{way} regret"] = _regret(score, r.lr, best, higher, floor)
        out[f"{way} kinds"] = ", ".join(r.confidence.kinds) or "no"
        out[f"{way} compute"] = r.compute / (16 * epochs)
    out |= {"grid best": best_lr, "best score": best, "unit": "pt" if higher else "%"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", required=True, help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--grid", type=int, default=13, help="grid rates (log-spaced)")
    parser.add_argument("--cache", default=None, help="a JSON file keeping the grids' scores")
    parser.add_argument("--ways", default="running,auto,every",
                        help="comma list of running, auto, every")
    args = parser.parse_args()
    ways = [w for w in args.ways.split(",") if w]
    if not ways or any(w not in WAYS for w in ways):
        parser.error(f"--ways takes a comma list of {', '.join(WAYS)}")
    names = scenario_names(parser, args.only)
    print("| scenario | seed | "
          + " | ".join(f"{w}: pick | regret | kinds | compute | s" for w in ways)
          + " | grid best (score) |")
    print("| :-- | --: | " + " | ".join("--: | --: | :-- | --: | --:" for _ in ways) + " | --: |")
    for name in names:
        for seed in (int(v) for v in args.seeds.split(",")):
            r = race_ways(name, seed, args.grid, args.cache, ways)
            cells = [f"{r[w]:.3g} | {r[f'{w} regret']:.1f} {r['unit']} | {r[f'{w} kinds']} | "
                     f"{100 * r[f'{w} compute']:.1f}% | {r[f'{w} s']:.0f}" for w in ways]
            print(f"| {name} | {seed} | {' | '.join(cells)} | "
                  f"{r['grid best']:.3g} ({r['best score']:.4g}) |", flush=True)


if __name__ == "__main__":
    main()
