"""How long a race a short training needs before its scores rank the rates.

``auto``'s race trains each candidate for a share of the full training (15% at the default
budget, less where the range test took its share) and ranks the rates by their best
validation score so far. On a short training that share is a few dozen optimizer steps. This
script asks what a longer race would have seen: every rate of a ``new_user.py`` scenario's
grid (``--grid`` log-spaced rates over its span) trains for the full epochs from each seed
(weights and order as the scenario's grid trains them), and for each epoch ``e`` the race
that stopped there, placed perfectly (every grid rate raced, no range test), picks the rate
with the best validation score up to epoch ``e`` (no ties, no rules). Its regret is read
against the full training's scores (each rate's best over all epochs), as ``new_user.py``
reads a pick's. A race of ``e`` epochs of five rates costs ``5 e / (16 E)`` of a 16-rate
grid (``E`` the full training's epochs): what ``auto`` would pay for it before its range test.

Prints per scenario one row per epoch: the steps a rate trained, that compute, the picks and
their regrets per seed, the mean and the worst; then the full training's best rate per seed
and the three rates that, taken on every seed without a race, lose least on average.

Run: ``cd benchmarks && PYTHONPATH=../src:. nice -n 10 python race_length.py --only
"bars-cnn,mixer adamw" --seeds 0,1,2,3,4``.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from _common import command_line, machine, markdown_table
from new_user import _regret, _scenario, scenario_names

import lrlab
from lrlab.search._common import examples, plan

#: The candidates of ``auto``'s race at its defaults, for its compute.
CANDIDATES = 5


def curves(name: str, seeds: list[int], grid: int) -> tuple:
    """Per seed, a table (epochs x rates) of the best validation score up to each epoch,
    whether higher is better, the scenario's floor, the full training's epochs and its
    steps an epoch."""
    make, rule, span, schedule, floor = _scenario(name)
    rates = sorted({float(f"{v:.3g}") for v in np.geomspace(*span, grid)})
    task = make()
    swept = lrlab.sweep(task, lrs=rates, seeds=seeds, **rule,
                        schedules=list(schedule.values()) or ["constant"])
    curve = swept.curve(swept.monitor)
    higher = swept.higher_is_better
    tables = {}
    for seed in seeds:
        columns = {lr: f"lr={lr:g} seed={seed}" for lr in rates}
        table = curve[[columns[lr] for lr in rates]].set_axis(rates, axis=1)
        # a diverged member's later epochs are missing: its worst score stands for them
        worst = table.min().min() if higher else table.max().max()
        table = table.fillna(worst)
        tables[seed] = table.cummax() if higher else table.cummin()
    p = plan("auto", task, subset=None, epochs=None, optimizer=rule["optimizer"], seed=seeds[0],
             callbacks=(), settings={})
    per_epoch = math.ceil(examples(p.task) / p.batch_size)
    return tables, higher, floor, task.epochs, per_epoch


def race_picks(tables: dict, higher: bool, floor: float = 0.0) -> list[tuple]:
    """Per epoch ``e`` of ``tables`` (seed -> best score so far, epochs x rates), the rate a
    race stopped after ``e`` epochs picks on each seed (its best score so far) and that
    pick's regret against the full training (the last row): ``(e, picks, regrets)``."""
    seeds = list(tables)
    out = []
    for e in tables[seeds[0]].index:
        picks, regrets = [], []
        for seed in seeds:
            final = tables[seed].iloc[-1]
            best = float(final.max() if higher else final.min())
            now = tables[seed].loc[e]
            lr = float(now.idxmax() if higher else now.idxmin())
            picks.append(lr)
            regrets.append(_regret(final, lr, best, higher, floor))
        out.append((e, picks, regrets))
    return out


def fixed_rates(tables: dict, higher: bool, floor: float = 0.0) -> list[tuple]:
    """No race: each rate taken on every seed, ``(mean regret, worst regret, rate)``, the
    least mean first."""
    out = []
    for lr in tables[next(iter(tables))].columns:
        regrets = []
        for table in tables.values():
            final = table.iloc[-1]
            best = float(final.max() if higher else final.min())
            regrets.append(_regret(final, lr, best, higher, floor))
        out.append((float(np.mean(regrets)), max(regrets), float(lr)))
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", required=True, help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--grid", type=int, default=13, help="grid rates (log-spaced)")
    args = parser.parse_args()
    names = scenario_names(parser, args.only)
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore")
    print(f"Command: `{command_line()}`  \nMachine: {machine()}\n")
    for name in names:
        tables, higher, floor, epochs, per_epoch = curves(name, seeds, args.grid)
        rows = []
        for e, picks, regrets in race_picks(tables, higher, floor):
            cost = 100 * CANDIDATES * e / (16 * epochs)
            rows.append([f"{e}", f"{e * per_epoch}", f"{cost:.1f}",
                         ", ".join(f"{lr:g}" for lr in picks),
                         ", ".join(f"{r:.1f}" for r in regrets),
                         f"{np.mean(regrets):.1f}", f"{max(regrets):.1f}"])
        unit = "pt" if higher else "%"
        print(f"### {name} ({epochs} epochs of {per_epoch} steps; regret in {unit})\n")
        print(markdown_table(["epochs raced", "steps", "% of a grid (5 rates)",
                              "picks (seeds " + ",".join(map(str, seeds)) + ")",
                              "regrets", "mean", "worst"], rows))
        bests = [f"{lr:g}" for lr in race_picks(tables, higher, floor)[-1][1]]
        print(f"\nThe full training's best rate per seed: {', '.join(bests)}")
        print("One rate for every seed, no race (mean / worst regret): " + "; ".join(
            f"{lr:g} {m:.1f} / {w:.1f}" for m, w, lr in fixed_rates(tables, higher, floor)[:3])
            + "\n", flush=True)


if __name__ == "__main__":
    main()
