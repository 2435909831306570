"""An adaptive rule's range test on a task ranked by its loss: halfway down or the bottom / 2.

For each ``new_user.py`` scenario ranked by its loss (a regression; others are skipped) and
each seed: the range test as ``lrlab find --seed S`` runs it (``range_test(task, seeds=[S],
extend=True)``), read two ways on the same curve: the classifiers' adaptive rule
(``ADAPTIVE_RULES``: halfway down the descent, at most the turn-up / 4; before the check
against lower rates) and what ``find`` suggests on a loss (``LOSS_RULES``: the bottom / 2, at
most the turn-up / 4; after that check), each beside a ``--grid``-rate log grid, every rate
trained for the full epochs from that seed. Regret: % excess validation loss over the grid's
best (above a perfect model's loss where the loss goes below zero, as ``new_user.py``).
``--optimizer`` trains a scenario under another rule than its own (its grid then spans
``--span``); scores are kept in ``--cache`` (``find_misses.py``'s format), so a rerun trains
only rates it has not trained.

``--tables FQ,UN`` instead reads the finder-quality caches' rows (``finder_quality.py``'s
``--cache`` of the default and the unseen table, after a ``--redo "lrlab find"``): for every
``find`` run on a task ranked by its loss (SGD and Adam), the suggestion s and the best of s,
2s and 4s (what its warning says to train), each rate trained for the full epochs from the
run's seed as the oracles are (into that cache), regret against the run's oracle.

    cd benchmarks && PYTHONPATH=../src:. python loss_reading.py \\
        --only "siren adam,resmlp adamw,raw-targets adam" --seeds 0,1,2 --cache /tmp/lr.json
    cd benchmarks && PYTHONPATH=../src:. python loss_reading.py --optimizer adam \\
        --only regression,huber,forecast,quantile,poisson,triplet --cache /tmp/lr.json
    cd benchmarks && PYTHONPATH=../src:. python loss_reading.py --tables /tmp/fq,/tmp/un
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import pandas as pd
from find_misses import _load, _save
from new_user import SCENARIOS, _regret, _scenario

import lrlab
from lrlab.search import ADAPTIVE_RULES, suggest


def run(name: str, seed: int, rule: dict, span: tuple[float, float], grid: int,
        floor: float, cache: dict, path: str, schedule: dict | None = None) -> dict | None:
    """The two readings of ``name``'s test on ``seed`` and their regret (None: not a loss)."""
    make = SCENARIOS[name][0]
    test = lrlab.search.range_test(make(), **rule, seeds=[seed], extend=True, validate=False)
    if test.monitor != "loss":
        return None
    found = test.suggestion.lr
    halfway = suggest(test.lrs, test.losses, rules=ADAPTIVE_RULES,
                      diverged=test.stopped_early).lr
    rates = {float(f"{v:.3g}") for v in np.geomspace(*span, grid)}
    wanted = rates | {r for r in (found, halfway) if math.isfinite(r)}
    key = f"{name}|{rule['optimizer']}|{seed}"
    have = cache.setdefault(key, {"scores": {}})
    todo = sorted(r for r in wanted if repr(r) not in have["scores"])
    if todo:
        swept = lrlab.sweep(make(), lrs=todo, seeds=[seed], **rule,  # as new_user's grid
                            schedules=list((schedule or {}).values()) or ["constant"])
        score = swept.summary().groupby("lr")[f"best_val_{swept.monitor}"].mean()
        for lr in todo:
            have["scores"][repr(lr)] = float(score[lr])
        _save(path, cache)
    score = pd.Series({float(k): v for k, v in have["scores"].items()}).sort_index()
    on_grid = score[[r for r in score.index if r in rates]]
    best_lr = float(on_grid.idxmin())
    best = float(score[best_lr])
    return {"halfway": halfway, "found": found, "best": best_lr, "score": best,
            "before": _regret(score, halfway, best, False, floor),
            "after": _regret(score, found, best, False, floor), "why": test.suggestion.why}


def tables(caches: list[str]) -> None:
    """s alone and the best of s, 2s, 4s on the finder-quality tables' loss-ranked runs."""
    import json
    from pathlib import Path

    from finder_quality import FIND, load, regression, regret, scores

    print("| task | rule | seed | s | regret | best of s, 2s, 4s |")
    print("| :-- | :-- | --: | --: | --: | --: |")
    alone, three = [], []
    for cache in map(Path, caches):
        tasks = {}
        for row in json.loads((cache / "rows.json").read_text()):
            if not row["finder"].startswith(FIND) or not row.get("regression"):
                continue
            name, seed, family, s = row["task"], row["seed"], row["family"], row["lr"]
            task = tasks.setdefault(name, load(name, None)[0])
            assert regression(task)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                known = scores(cache, task, seed, family, [s, 2 * s, 4 * s])
            each = [regret(task, row["oracle"], known[float(lr)]) for lr in (s, 2 * s, 4 * s)]
            alone.append(each[0])
            three.append(min(each))
            print(f"| {name} | {family} | {seed} | {s:.3g} | {each[0]:.1f} % | {min(each):.1f} % |",
                  flush=True)
    for what, values in (("s alone", alone), ("best of three", three)):
        v = np.array(values)
        print(f"\n{what}: mean {v.mean():.1f} %, worst {v.max():.1f} %, over 5%: "
              f"{int((v > 5).sum())} of {len(v)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma list of scenarios")
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--optimizer", default="", help="train under this rule, not the scenario's")
    parser.add_argument("--span", default="1e-5,1", help="the grid's range under --optimizer")
    parser.add_argument("--grid", type=int, default=16, help="grid rates (log-spaced)")
    parser.add_argument("--cache", default="", help="JSON file of the rates' scores")
    parser.add_argument("--tables", default="", help="finder-quality caches, comma list")
    args = parser.parse_args()
    if args.tables:
        tables(args.tables.split(","))
        return
    cache = _load(args.cache)
    print("| scenario | rule | seed | halfway (before) | regret | find (after) | regret "
          "| grid best (loss) |")
    print("| :-- | :-- | --: | --: | --: | --: | --: | --: |")
    for name in args.only.split(","):
        _, rule, span, schedule, floor = _scenario(name)
        if args.optimizer:
            rule, schedule = {"optimizer": args.optimizer}, {}
            low, high = (float(v) for v in args.span.split(","))
            span = (low, high)
        for seed in (int(s) for s in args.seeds.split(",")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = run(name, seed, rule, span, args.grid, floor, cache, args.cache, schedule)
            if r is None:
                print(f"| {name} | {rule['optimizer']} | {seed} | not ranked by its loss | | | | |")
                break
            print(f"| {name} | {rule['optimizer']} | {seed} | {r['halfway']:.3g} | "
                  f"{r['before']:.1f} % | {r['found']:.3g} | {r['after']:.1f} % | "
                  f"{r['best']:.3g} ({r['score']:.4g}) |", flush=True)


if __name__ == "__main__":
    main()
