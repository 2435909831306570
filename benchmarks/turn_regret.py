"""Where a full training's good rates lie against ``auto``'s range test: each oracle grid
rate's regret by its distance from the bottom of the range test's loss trend (the turn).

``auto`` places its race from its range test's turn; a race ranks its rates after a share of
the training, and a short race favours the rates that gain fast at first. This script asks
what the full training says about the turn, with no race: per task and seed of a
``finder_quality.py`` cache it runs ``auto``'s range test exactly as ``auto`` would (its
seeds and steps; the race is not run) and reads the turn, then sets each grid rate of that
seed's oracle (the family's 16 rates, trained for the full epochs) against it. It prints,
per task, each seed's turn and best grid rate, and the grid rates' regret by their ratio to
the turn (below 0.1x, 0.1-0.3x, 0.3-1x, 1x up to a quarter decade past, a quarter to half a
decade past, beyond): the mean regret of the rates in each band and how many of them miss
issue 13's line (2 accuracy points, 5% excess loss on a regression); then every task
together. Runs without a clear descent have no turn and are left out (counted).

With ``--hindsight`` it prints instead what one fixed grid rate achieves on each task (the
rate chosen knowing every seed's grid): each rate's mean and worst regret over the seeds,
beside ``lrlab auto``'s picks as the cache holds them. No training, only the cache.

Usage::

    cd benchmarks && PYTHONPATH=../src:. nice -n 10 python turn_regret.py --cache /tmp/lead/fqd \\
        --family adam [--tasks gru,lstm] [--seeds 5] [--first-seed 0]
    cd benchmarks && PYTHONPATH=../src:. python turn_regret.py --cache DIR --family adam \\
        --tasks gru --seeds 10 --hindsight
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

import numpy as np
from finder_quality import GRIDS, TASKS, _family, cache_file, load, regression
from finder_tasks import UNSEEN_TASKS

from lrlab import search
from lrlab.search import _auto

#: the bands of a grid rate's ratio to the turn (upper edges); past the last: beyond
BANDS = (0.1, 10 ** -0.5, 1.0, _auto.PAST_BOTTOM, 10 ** 0.5 * 1.01)
NAMES = ("<0.1x", "0.1-0.3x", "0.3-1x", "1-1.78x", "1.78-3.2x", ">3.2x")
#: issue 13's line: accuracy points, percent excess loss
LINE = {False: 2.0, True: 5.0}


class _Placed(Exception):
    """Raised once ``auto``'s range test is read: the race is not run."""


def turn(task, seed: int, optimizer: str) -> tuple[float, bool]:
    """``auto``'s range test on ``task`` from ``seed``: its trend bottom (the turn; for an
    adaptive rule the race's placement over the rules' ``place``) and whether it showed a
    clear descent."""
    seen = {}
    placement = _auto.placement

    def read(test):
        bottom, clear = placement(test)
        seen.update(turn=bottom / test.rules.place, clear=clear)
        raise _Placed

    _auto.placement = read
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.auto(task, optimizer=optimizer, seed=seed)
    except _Placed:
        pass
    finally:
        _auto.placement = placement
    return seen["turn"], seen["clear"]


def regrets(cache: Path, name: str, seed: int, family: str, loss: bool) -> dict[float, float]:
    """Each grid rate's regret on one seed (points, or % excess loss)."""
    path = cache_file(cache, name, seed, family)
    oracle = {float(k): v for k, v in json.loads(path.read_text()).items()}
    grid = {g: oracle[g] for g in GRIDS[family] if g in oracle}
    best = min(grid.values()) if loss else max(grid.values())
    return {g: (100 * (v - best) / best if loss else 100 * (best - v)) for g, v in grid.items()}


def _auto_pick(cache: Path, name: str, seed: int, family: str) -> float:
    picks = json.loads(cache_file(cache, name, seed, "picks").read_text())
    label = "lrlab auto" + (" (adam)" if family == "adam" else "")
    return next((p["lr"] for p in picks if p["finder"] == label), math.nan)


def hindsight(cache: Path, names: list[str], seeds: list[int], family: str) -> None:
    for name in names:
        loss = regression(load(name, None)[0])
        unit = "%" if loss else "pt"
        rows = [regrets(cache, name, s, family, loss) for s in seeds]
        print(f"## {name} ({family}), seeds {seeds[0]}-{seeds[-1]}: regret ({unit}) per seed")
        for g in GRIDS[family]:
            r = [row[g] for row in rows]
            if min(r) > 20 * LINE[loss]:
                continue
            print(f"{g:<9.3g} mean {np.mean(r):6.2f} worst {max(r):6.1f} | "
                  + " ".join(f"{v:5.1f}" for v in r))
        picks = []
        for s in seeds:
            lr = _auto_pick(cache, name, s, family)
            oracle = {float(k): v for k, v in json.loads(
                cache_file(cache, name, s, family).read_text()).items()}
            grid = [oracle[g] for g in GRIDS[family] if g in oracle]
            best = min(grid) if loss else max(grid)
            v = oracle.get(lr, math.nan)
            picks.append((lr, 100 * (v - best) / best if loss else 100 * (best - v)))
        print("auto      " + " ".join(f"{lr:.3g} ({r:.1f})" for lr, r in picks))
        print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--family", default="adam", choices=("sgd", "adam"))
    parser.add_argument("--tasks", help="comma list (default: every task the cache holds)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--hindsight", action="store_true")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    names = (args.tasks.split(",") if args.tasks else
             [n for n in (*TASKS, *UNSEEN_TASKS)
              if all(cache_file(args.cache, n, s, args.family).exists() for s in seeds)])
    if args.hindsight:
        hindsight(args.cache, names, seeds, args.family)
        return
    bands = {True: [[] for _ in NAMES], False: [[] for _ in NAMES]}
    for name in names:
        task, own = load(name, None)
        if args.family == "adam" and _family(own) != "adam":
            own = "adam"
        elif args.family == "sgd":
            own = "sgd"
        loss = regression(task)
        per = [[] for _ in NAMES]
        flat = 0
        print(f"## {name} ({own})")
        for s in seeds:
            t, clear = turn(load(name, None)[0], s, own)
            r = regrets(args.cache, name, s, args.family, loss)
            best = min(r, key=r.get)
            print(f"seed {s}: turn {t:.3g}{'' if clear else ' (no clear descent)'}, "
                  f"best grid rate {best:.3g} ({best / t:.2g}x the turn)")
            if not clear:
                flat += 1
                continue
            for g, v in r.items():
                per[int(np.searchsorted(BANDS, g / t))].append(v)
        for k, name_ in enumerate(NAMES):
            bands[loss][k] += per[k]
        print(_bands(per, loss) + (f"; {flat} seed(s) without a clear descent" if flat else ""))
        print()
    for loss, per in bands.items():
        if any(per):
            print(f"## every task ({'regression, %' if loss else 'accuracy, points'})")
            print(_bands(per, loss))


def _bands(per: list[list[float]], loss: bool) -> str:
    out = []
    for name, v in zip(NAMES, per):
        if v:
            over = sum(x > LINE[loss] for x in v)
            out.append(f"{name}: median {np.median(v):.1f} ({over}/{len(v)} over)")
    return "; ".join(out)


if __name__ == "__main__":
    main()
