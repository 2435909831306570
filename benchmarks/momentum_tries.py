"""What `lrlab find`'s rates to try under heavy-ball momentum are worth, read from a
``finder_quality.py --rule momentum`` cache: per task and seed, the suggestion s, the rates
its warning named (``result.to_try``, cached with the picks), the best of those as trained
for the full epochs, and the best of the three the warning named before they stepped half a
decade at most (s (1 - m), s, 2s): the regret of each against the 16-rate grid's best.

The three are among the rates named now, so one cache scores both without training again.

    cd benchmarks && PYTHONPATH=../src:. python momentum_tries.py CACHE [--rule momentum]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from finder_quality import (
    GRIDS,
    TASKS,
    TRIES,
    cache_file,
    load,
    regression,
    regret,
)


def rows(cache: Path, rule: str, m: float) -> list[dict]:
    """One row per task and seed whose picks hold the rates to try."""
    out = []
    for name in TASKS:
        task = None
        for path in sorted(cache.glob(f"{name}-s*-picks-{rule}.json")):
            seed = int(path.name.removeprefix(f"{name}-s").split("-")[0])
            pick = next((p for p in json.loads(path.read_text())
                         if p["finder"] == TRIES and p["tries"]), None)
            if pick is None:
                continue
            s, tries = float(pick["lr"]), pick["tries"]
            task = task or load(name, None)[0]
            table = {float(k): v for k, v in
                     json.loads(cache_file(cache, name, seed, "sgd", rule).read_text()).items()}
            lower = min if regression(task) else max
            grid = {lr: table[lr] for lr in GRIDS["sgd"] if math.isfinite(table[lr])}
            oracle = lower(grid.values())
            # a task ranked by its loss names s, 2s, 4s under any rule: the same before
            old = [lr for lr in tries if math.isclose(lr, s * (1 - m)) or lr >= s * (1 - 1e-9)]

            def best(lrs: list[float], lower=lower, table=table, task=task,
                     oracle=oracle) -> float:
                scored = [table[float(lr)] for lr in lrs]
                fine = [v for v in scored if math.isfinite(v)]
                return regret(task, oracle, lower(fine) if fine else None)

            out.append({"task": name, "seed": seed, "s": s, "tries": tries,
                        "old": best(old), "new": best(tries),
                        "regression": regression(task)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--rule", default="momentum")
    parser.add_argument("--momentum", type=float, default=0.9)
    args = parser.parse_args()
    found = rows(args.cache, args.rule, args.momentum)
    print("| task | seed | s | rates named | best of s(1-m), s, 2s | best of the rates named |")
    print("| :-- | --: | --: | :-- | --: | --: |")
    for r in found:
        unit = "%" if r["regression"] else ""
        print(f"| {r['task']} | {r['seed']} | {r['s']:.3g} | "
              f"{', '.join(f'{lr:.3g}' for lr in r['tries'])} | {r['old']:.1f}{unit} | "
              f"{r['new']:.1f}{unit} |")
    for loss in (False, True):
        part = [r for r in found if r["regression"] == loss]
        if part:
            for key in ("old", "new"):
                values = np.array([r[key] for r in part])
                print(f"{'regression' if loss else 'accuracy'} {key}: mean {values.mean():.2f}, "
                      f"worst {values.max():.1f} ({len(part)} runs)")


if __name__ == "__main__":
    main()
