"""How much of a rate's score is the seed's luck: a few rates, each trained for the full
epochs on many seeds.

On nets that wait on a plateau before they learn (a recurrent memory with SGD), which rate
leaves the plateau over a full training changes from seed to seed, and from one CPU's
rounding to another's: the finder-quality table's per-seed oracle is then the luckiest of
16 draws. This script trains ``--rates`` on a finder-quality task (``finder_tasks.py``'s,
default or unseen, or a built-in) from each of ``--seeds`` seeds (weights and order, as
``finder_quality.py``'s oracles; a ``new_user:NAME`` scenario of ``new_user.py`` trains as
that script's grid does) and prints, per rate, the mean, the worst and the best of its
best validation scores (regression: lowest validation loss), and on how many seeds it
reached the top (within 5 points of the best score any rate reached on that seed; a loss:
within 5% of the best, counted above the scenario's perfect-model loss where it has one).

Usage::

    cd benchmarks && PYTHONPATH=../src:. nice -n 10 python seed_lottery.py lstm \\
        --rates 0.316,0.562,1,1.78 --seeds 10
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import command_line, machine, markdown_table
from finder_quality import best_scores, load, regression


def _scenario(name: str, rates: list[float],
              seeds: list[int]) -> tuple[np.ndarray, bool, float]:
    """A ``new_user.py`` scenario's best validation scores, one row per seed, whether a
    lower score is better and a perfect model's loss (the scenario's floor; 0 unless its
    loss goes below zero)."""
    import new_user

    import lrlab

    make, rule, _, schedule, floor = new_user._scenario(name)  # as new_user.run's grid trains
    swept = lrlab.sweep(make(), lrs=rates, seeds=seeds, **rule,
                        schedules=list(schedule.values()) or ["constant"])
    table = swept.summary().pivot_table(index="seed", columns="lr",
                                        values=f"best_val_{swept.monitor}")
    return table.loc[seeds, rates].to_numpy(float), not swept.higher_is_better, floor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", help="a finder-quality task (lstm, rnn, gru, ...)")
    parser.add_argument("--rates", required=True, help="comma list of rates")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    seeds = list(range(args.seeds))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.task.startswith("new_user:"):
            table, lower, floor = _scenario(args.task.split(":", 1)[1], rates, seeds)
        else:
            task, rule = load(args.task, args.data_dir)
            lower, floor = regression(task), 0.0
            table = np.array([[best_scores(task, rates, rule, s)[r] for r in rates]
                              for s in seeds])
    for s, row in zip(seeds, table):
        print(f"seed {s}: " + ", ".join(f"{r:g} {v:.4f}" for r, v in zip(rates, row)), flush=True)
    best = table.min(1, keepdims=True) if lower else table.max(1, keepdims=True)
    # a loss within 5% of the best, counted above a perfect model's (a Poisson loss goes
    # below zero, where best x 1.05 would lie below the best)
    top = table - floor <= (best - floor) * 1.05 if lower else table >= best - 0.05
    worst = table.max(0) if lower else table.min(0)
    luckiest = table.min(0) if lower else table.max(0)
    rows = [[f"{r:g}", f"{m:.4f}", f"{w:.4f}", f"{b:.4f}", f"{int(t)} of {len(seeds)}"]
            for r, m, w, b, t in zip(rates, table.mean(0), worst, luckiest, top.sum(0))]
    print(f"\nCommand: `{command_line()}`  \nMachine: {machine()}\n")
    print(markdown_table(["rate", "mean", "worst", "best", "at the top"], rows))


if __name__ == "__main__":
    main()
