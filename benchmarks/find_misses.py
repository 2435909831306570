"""`lrlab find` on the new-user scenarios, one seed at a time, against that seed's grid.

For each scenario of ``new_user.py`` and each seed: the range test as ``lrlab find --seed S``
runs it (``range_test(task, seeds=[S], extend=True)``), then the suggestion beside a
``--grid``-rate log grid of the scenario's range, every rate trained for the full epochs from
that seed (``lrlab.sweep(task, lrs=..., seeds=[S])``). Regret: points of the best validation
accuracy below the grid's best rate, or % excess validation loss. Each trained rate's score
is kept in ``--cache`` (a JSON file; a member's training does not depend on the others in its
population), so a rerun after a change of the finder trains only the rates it newly picks.

    cd benchmarks && PYTHONPATH=../src:. python find_misses.py --seeds 0,1,2 --grid 13 \
        --cache /tmp/find_misses.json [--only text,hftext]

``--tables`` instead prints the pace (``RangeTestResult.pace``: the validation accuracy up to
where the loss turns up) of the finder-quality tables' classifiers as ``lrlab find`` runs them
(validated, ``extend=True``), SGD and Adam, beside the pace over every step of the test (how
it was counted before) and the warnings' kinds: no grid, no training.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import warnings

import numpy as np
from new_user import SCENARIOS, _regret

import lrlab


def _load(path: str) -> dict:
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def _save(path: str, cache: dict) -> None:
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(cache, f, indent=0, sort_keys=True)
        os.replace(path + ".tmp", path)


def run(name: str, seed: int, grid: int, cache: dict, path: str) -> dict:
    """The find of ``name`` on ``seed`` and its regret against the seed's grid."""
    import pandas as pd

    make, optimizer, (low, high), *more = SCENARIOS[name]
    rule = {"optimizer": optimizer} | ({"hparams": more[0]} if more else {})
    test = lrlab.search.range_test(make(), **rule, seeds=[seed], extend=True)
    found = test.suggestion.lr
    rates = {float(f"{v:.3g}") for v in np.geomspace(low, high, grid)}
    wanted = rates | ({found} if math.isfinite(found) else set()) | set(test.to_try)
    key = f"{name}|{seed}"
    have = cache.setdefault(key, {"scores": {}})
    todo = sorted(r for r in wanted if repr(r) not in have["scores"])
    if todo:
        swept = lrlab.sweep(make(), lrs=todo, seeds=[seed], **rule)
        score = swept.summary().groupby("lr")[f"best_val_{swept.monitor}"].mean()
        for lr in todo:
            have["scores"][repr(lr)] = float(score[lr])
        have["higher"] = bool(swept.higher_is_better)
        _save(path, cache)
    score = pd.Series({float(k): v for k, v in have["scores"].items()}).sort_index()
    higher = have["higher"]
    on_grid = score[[r for r in score.index if r in rates]]
    best_lr = float(on_grid.idxmax() if higher else on_grid.idxmin())
    best = float(score[best_lr])
    tried = [_regret(score, lr, best, higher) for lr in test.to_try]
    return {"scenario": name, "seed": seed, "found": found,
            "regret": _regret(score, found, best, higher), "kinds": test.kinds,
            "warned": bool(test.warnings) or not math.isfinite(found),
            "pace": test.pace, "best": best_lr, "score": best,
            "unit": "pt" if higher else "%", "of three": min(tried) if tried else math.nan}


def tables(seeds: list[int]) -> None:
    """The paces of the finder-quality tables' classifiers (see the module)."""
    from finder_tasks import FINDER_TASKS, UNSEEN_TASKS

    print("| task | rule | seed | suggestion | pace | pace over every step | kinds |")
    print("| :-- | :-- | --: | --: | --: | --: | :-- |")
    for name, make in {**FINDER_TASKS, **UNSEEN_TASKS}.items():
        if make().monitor == "loss":
            continue
        for rule in ("sgd", "adam"):
            for seed in seeds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = lrlab.search.range_test(make(), optimizer=rule, seeds=[seed],
                                                extend=True)
                every = math.nan
                if r.val_accuracy is not None and math.isfinite(r.pace):
                    every = ((float(np.nanmax(r.val_accuracy)) - r.chance) / (1 - r.chance)
                             * r.training_steps / len(r.lrs))
                print(f"| {name} | {rule} | {seed} | {r.suggestion.lr:.3g} | {r.pace:.2f} | "
                      f"{every:.2f} | {', '.join(r.kinds)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma list of scenarios")
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--grid", type=int, default=13, help="grid rates (log-spaced)")
    parser.add_argument("--cache", default="", help="JSON file of the rates' scores")
    parser.add_argument("--tables", action="store_true",
                        help="the finder-quality classifiers' paces instead (no grid)")
    args = parser.parse_args()
    if args.tables:
        tables([int(s) for s in args.seeds.split(",")])
        return
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    seeds = [int(s) for s in args.seeds.split(",")]
    cache = _load(args.cache)
    print("| scenario | seed | find | regret | warned (kinds) | best of to_try | pace "
          "| grid best (score) |")
    print("| :-- | --: | --: | --: | :-- | --: | --: | --: |")
    for name in names:
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = run(name, seed, args.grid, cache, args.cache)
            miss = r["regret"] > 5
            print(f"| {name} | {seed} | {r['found']:.3g} | {r['regret']:.1f} {r['unit']}"
                  f"{' **miss**' if miss and not r['warned'] else ''} | "
                  f"{'yes' if r['warned'] else 'no'} ({', '.join(r['kinds'])}) | "
                  f"{r['of three']:.1f} | {r['pace']:.2f} | {r['best']:.3g} ({r['score']:.4g}) |",
                  flush=True)


if __name__ == "__main__":
    main()
