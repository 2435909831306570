"""Where `lrlab auto`'s compute goes on a ``new_user.py`` scenario: the range test, the race,
a moved or retrained race, the refinement, the second-seed check and a longer race, each as a
percent of a 16-rate grid trained in full (the member-epochs ``auto`` counts in
``AutoResult.compute``, divided by ``16 x epochs``), beside the full training's steps.

Each race's share is read from ``auto``'s own account (``_Race.cost`` before and after each
``run``, ``check`` and ``lengthen``), the range test's as the rest of ``compute``: nothing
here recomputes the plan. A vectorised population trains its rates side by side, so its
wall time is below the sum of its members'; the account is in member-epochs all the same.

Prints one row per scenario and seed (``T``: steps of the full training; the pieces; the
total; the pick), then the largest total per scenario.

Run: ``cd benchmarks && PYTHONPATH=../src:. nice -n 10 python short_compute.py --only
"few-steps,dropout adam,unet" --seeds 0,1,2``.
"""

from __future__ import annotations

import argparse
import math
import warnings

from new_user import _scenario, scenario_names

import lrlab.search._auto as auto_module
from lrlab.search import auto
from lrlab.search._common import examples

PIECES = ("test", "race", "moved", "refinement", "check", "longer")


def pieces(name: str, seed: int) -> tuple[dict[str, float], float, int]:
    """``auto``'s compute on ``name`` from ``seed`` by piece (% of a 16-rate grid), its pick
    and the full training's steps."""
    make, rule, _, schedule, _ = _scenario(name)
    log: list[tuple[str, list[float], float]] = []
    race = auto_module._Race
    run, check, lengthen = race.run, race.check, race.lengthen

    def account(label, method):
        def wrapped(self, *args):
            before = self.cost
            out = method(self, *args)
            rates = list(args[0]) if label == "run" and args else []
            log.append((label, rates, self.cost - before))
            return out
        return wrapped

    race.run, race.check = account("run", run), account("check", check)
    race.lengthen = account("longer", lengthen)
    try:
        result = auto(make(), seed=seed, **rule, **schedule)
    finally:
        race.run, race.check, race.lengthen = run, check, lengthen
    task = make()
    grid = 16 * task.epochs
    share = {k: 0.0 for k in PIECES}
    for i, (label, rates, cost) in enumerate(log):
        if label == "run":  # the first race, the refinement, or a race moved / trained again
            label = ("race" if i == 0 else "refinement"
                     if rates and rates == list(result.refined) else "moved")
        share[label] += 100 * cost / grid
    share["test"] = 100 * result.compute / grid - sum(share.values())
    steps = task.epochs * math.ceil(examples(task) / task.batch_size)
    return share, result.lr, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", required=True, help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    names = scenario_names(parser, args.only)
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore")
    print("| scenario | seed | T | " + " | ".join(PIECES) + " | total | pick |")
    print("| :-- | --: | --: | " + " | ".join("--:" for _ in PIECES) + " | --: | --: |")
    worst: dict[str, float] = {}
    for name in names:
        for seed in seeds:
            share, lr, steps = pieces(name, seed)
            total = sum(share.values())
            worst[name] = max(worst.get(name, 0.0), total)
            print(f"| {name} | {seed} | {steps} | "
                  + " | ".join(f"{share[k]:.1f}" if share[k] else "" for k in PIECES)
                  + f" | {total:.1f} | {lr:.3g} |", flush=True)
    print("largest total per scenario: "
          + ", ".join(f"{n} {v:.1f}%" for n, v in worst.items()))


if __name__ == "__main__":
    main()
