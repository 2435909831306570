"""What ``auto``'s advice on a race ranked by a loss buys: its pick's neighbours, trained.

On a task ranked by its validation loss (``finder_quality.py``'s regressions) ``auto``'s race
reads 15% of the epochs, and its ``short_on_loss`` warning says to train the pick and the
rates a quarter decade either side for the full epochs and keep the lowest validation loss
(its "no clear descent" line says half a decade either side). This script trains those rates
for every seed and rule family, from the seed's weights and order, scores each as
``finder_quality.py`` scores a pick (lowest validation loss over the epochs) and reports the
regret of the pick alone, of the best of the quarter-decade three, of the half-decade three
and of all five, against the seed's 16-rate oracle (the table's; the rates trained here are
kept in the same cache as extra rates and do not change it).

``--scan FAMILY:RATE`` also trains, per seed, 11 rates 1% apart around ``RATE`` (that
family) and reports the spread of their regrets: how far one training's outcome moves when
the rate moves by less than any finder can place it.

Usage (``auto``'s picks come from ``finder_quality.py``'s cache: run it first)::

    cd benchmarks && nice -n 10 python finder_quality.py --tasks regression --cache DIR
    nice -n 10 python loss_advice.py --cache DIR [--tasks regression] [--seeds 5]
        [--scan sgd:0.215] [--write ../docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from _common import command_line, machine, markdown_table, now, write_section
from finder_quality import DEFAULT, GRIDS, cache_file, load, regret, scores

#: The pick's neighbours, in quarter decades (-2 .. 2: half a decade either side).
QUARTERS = (-2, -1, 0, 1, 2)
#: What each row reads: the rates of ``QUARTERS`` it keeps the best of.
READINGS = {"pick alone": (0,), "best of pick +- 1/4 decade": (-1, 0, 1),
            "best of pick +- 1/2 decade": (-2, 0, 2), "best of all five": QUARTERS}


def around(lr: float) -> list[float]:
    """The rates :data:`QUARTERS` quarter decades from ``lr`` (3 significant digits).

    Example:
        >>> around(0.105)
        [0.0332, 0.059, 0.105, 0.187, 0.332]
    """
    return [float(f"{lr * 10 ** (k / 4):.3g}") for k in QUARTERS]


def auto_pick(cache: Path, task: str, seed: int, family: str) -> float:
    """``auto``'s pick with ``family``'s rule from ``finder_quality.py``'s cache."""
    path = cache_file(cache, task, seed, "picks")
    if not path.exists():
        sys.exit(f"{path} is missing: run finder_quality.py --tasks {task} --cache {cache} first")
    name = DEFAULT if family == "sgd" else f"{DEFAULT} (adam)"
    return next(float(p["lr"]) for p in json.loads(path.read_text()) if p["finder"] == name)


def run_one(task, seed: int, family: str, cache: Path) -> dict:
    """One task, seed and family: the pick's five rates and their regrets."""
    lr = auto_pick(cache, task.name, seed, family)
    rates = around(lr)
    table = scores(cache, task, seed, family, rates)
    oracle = min(v for k, v in table.items() if k in GRIDS[family] and math.isfinite(v))
    return {"lr": lr, "rates": rates, "regrets": [regret(task, oracle, table[r]) for r in rates]}


def scan(task, seed: int, family: str, centre: float, cache: Path) -> list[float]:
    """The regrets of 11 rates 1% apart around ``centre`` (4 significant digits)."""
    rates = [float(f"{centre * (1 + k / 100):.4g}") for k in range(-5, 6)]
    table = scores(cache, task, seed, family, rates)
    oracle = min(v for k, v in table.items() if k in GRIDS[family] and math.isfinite(v))
    return [regret(task, oracle, table[r]) for r in rates]


def best_of(run: dict, quarters: tuple[int, ...]) -> float:
    return min(run["regrets"][QUARTERS.index(k)] for k in quarters)


def report(results: dict, scans: dict, seeds: int) -> str:
    """The Markdown section (``results``: per (task, family) the :func:`run_one` outputs)."""
    per_seed, summary = [], []
    for (name, family), runs in results.items():
        for seed, run in enumerate(runs):
            per_seed.append([name, family, str(seed), f"{run['lr']:.3g}",
                             *(f"{r:.3g}: {g:.1f}" for r, g in zip(run["rates"], run["regrets"]))])
        for reading, quarters in READINGS.items():
            got = [best_of(r, quarters) for r in runs]
            summary.append([name, family, reading, f"{np.mean(got):.1f}", f"{max(got):.1f}",
                            str(sum(g > 5 for g in got))])
    parts = [
        "## What `auto`'s advice on a loss-ranked race buys: the pick's neighbours, trained",
        f"Command: `{command_line()}`  \nMachine: {machine()}  \nRun: {now()}",
        (f"{seeds} seeds per task and rule family: `auto`'s pick (from `finder_quality.py`'s "
         "cache) and the rates a quarter and half a decade either side, each trained for the "
         "full epochs from the seed's weights and order, scored by the lowest validation loss "
         "over the epochs; regret: percent excess over the seed's 16-rate oracle (the "
         "table's). `short_on_loss` says to train the quarter-decade three."),
        markdown_table(["task", "family", "reading", "mean %", "worst %", "over 5%"], summary),
        markdown_table(["task", "family", "seed", "pick", "-1/2 decade", "-1/4", "pick",
                        "+1/4", "+1/2"], per_seed),
    ]
    if scans:
        rows = [[name, family, f"{centre:.3g}", str(seed), f"{min(g):.1f}",
                 f"{float(np.median(g)):.1f}", f"{max(g):.1f}", str(sum(x > 5 for x in g))]
                for (name, family, centre, seed), g in scans.items()]
        parts += [("11 rates 1% apart around one rate (from -5% to +5%), per seed, each "
                   "trained for the full epochs: regret against the seed's oracle."),
                  markdown_table(["task", "family", "around", "seed", "best", "median",
                                  "worst", "over 5% of 11"], rows)]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="regression")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--scan", default=None, help="FAMILY:RATE, e.g. sgd:0.215")
    parser.add_argument("--write", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results: dict = {}
    scans: dict = {}
    for name in args.tasks.split(","):
        task, _ = load(name, None)
        for family in GRIDS:
            for seed in range(args.seeds):
                out = run_one(task, seed, family, args.cache)
                results.setdefault((name, family), []).append(out)
                print(f"{name} {family} s{seed}: pick {out['lr']:.3g}, "
                      + " ".join(f"{r:.3g}:{g:.1f}" for r, g in zip(out["rates"], out["regrets"])),
                      file=sys.stderr)
        if args.scan:
            family, centre = args.scan.split(":")
            for seed in range(args.seeds):
                got = scan(task, seed, family, float(centre), args.cache)
                scans[(name, family, float(centre), seed)] = got
                print(f"{name} {family} s{seed} around {centre}: "
                      + " ".join(f"{g:.1f}" for g in got), file=sys.stderr)
    text = report(results, scans, args.seeds)
    print(text)
    if args.write:
        write_section(args.write, "loss_advice", text)


if __name__ == "__main__":
    main()
