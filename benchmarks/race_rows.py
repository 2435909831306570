"""What ``auto``'s race saw: every raced rate's row, as the pick read it, and the pick.

For each seed, :func:`lrlab.search.auto` runs on a finder-quality task (``finder_tasks.py``'s,
default or unseen, or a built-in) or a ``new_user:NAME`` scenario, and this prints the race's
table: per rate its best validation score, whether it was stable (and, after two epochs or
more, stuck above the untrained model's losses: ``stuck_above``), its first and last epoch's
mean training loss as a share of the untrained model's and its validation loss (a longer
race's row, where the stable rates trained on, replaces the race's), then the pick, the
kinds of its warnings and, with ``--explain``, its explanation. With ``--cache`` (a
``finder_quality.py`` cache) the pick's regret against that seed's oracle grid.

Usage::

    cd benchmarks && PYTHONPATH=../src:. nice -n 10 python race_rows.py gru --seeds 3,5
    cd benchmarks && PYTHONPATH=../src:. nice -n 10 python race_rows.py lstm --seeds 8 \\
        --cache /tmp/fin/un --explain
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import pandas as pd
from finder_quality import GRIDS, _family, load, regression

from lrlab import search
from lrlab.search import _auto

COLUMNS = ["lr", "score", "stable", "stuck", "first", "last", "vloss"]


def race_table(make, seed: int, **rule) -> tuple:
    """``auto``'s result and its race's table (``_Race.table``) for one seed."""
    seen = {}
    confidence = _auto._Race.confidence

    def keep(race, lr, extra):  # the race as the pick was read from it
        seen["race"] = race
        return confidence(race, lr, extra)

    _auto._Race.confidence = keep
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = search.auto(make(), seed=seed, **rule)
    finally:
        _auto._Race.confidence = confidence
    race = seen["race"]
    return result, race.table().sort_values("lr", ascending=False), race


def dump(name: str, rule: dict, seed: int, result, table: pd.DataFrame, race) -> dict:
    """One seed's race as plain values (``--json``): the table's every column, the pick, its
    confidence, the race's length and walk, and the second-seed check's population."""
    def plain(frame: pd.DataFrame) -> list[dict]:
        return json.loads(frame.to_json(orient="records"))

    checks = [p for p in race.populations if p not in race.races and p not in race.longer]
    return {"task": name, "optimizer": rule["optimizer"], "seed": seed, "lr": result.lr,
            "confidence": result.confidence.to_dict(), "table": plain(table),
            "checks": [plain(race.scored(p)) for p in checks], "epochs": race.epochs,
            "horizon": race.horizon, "walk": race.walk, "chance": race.chance,
            "start": list(race.start), "bottom": result.bottom,
            "candidates": list(result.candidates), "refined": list(result.refined),
            "explanation": result.explanation}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", help="a finder-quality task (gru, lstm, rnn, ...) or new_user:NAME")
    parser.add_argument("--seeds", default="0", help="comma list")
    parser.add_argument("--optimizer", help="the update rule (default: the task's)")
    parser.add_argument("--cache", type=Path, help="a finder_quality.py cache: print regrets")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--json", type=Path, help="append each seed's race (every column of "
                        "its table, the pick, its confidence) to this JSON-lines file")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    if args.task.startswith("new_user:"):
        import new_user

        make, rule, _, schedule, _ = new_user._scenario(args.task.split(":", 1)[1])
        rule = {**rule, **schedule}
        task_name, loss = None, False
    else:
        task, own = load(args.task, None)
        make, rule = (lambda: task), {"optimizer": own}
        task_name, loss = task.name, regression(task)
    if args.optimizer:
        rule["optimizer"] = args.optimizer
    for seed in (int(s) for s in args.seeds.split(",")):
        result, table, race = race_table(make, seed, **rule)
        shown = table[[c for c in COLUMNS if c in table]]
        print(f"## {args.task} {rule['optimizer']} seed {seed}: untrained losses "
              f"{race.start[0]:.4g} (training), {race.start[1]:.4g} (validation); chance "
              f"{race.chance:.4g}; the last race {race.horizon} epoch(s)")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        line = f"pick {result.lr:.3g}; warnings: {', '.join(result.confidence.kinds) or 'none'}"
        if args.cache and task_name:
            family = _family(rule["optimizer"])
            path = args.cache / f"{task_name}-s{seed}-{family}.json"
            oracle = {float(k): v for k, v in json.loads(path.read_text()).items()}
            grid = [oracle[g] for g in GRIDS[family] if g in oracle]
            best = min(grid) if loss else max(grid)
            mine = oracle.get(result.lr)
            if mine is None:
                line += "; the pick is not in the cache (finder_quality.py --redo trains it)"
            elif loss:
                line += f"; regret {100 * (mine - best) / best:.1f}% (grid best {best:.4g})"
            else:
                line += f"; regret {100 * (best - mine):.1f} points (grid best {best:.4g})"
        print(line)
        if args.explain:
            print(result.explanation)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(dump(args.task, rule, seed, result, table, race)) + "\n")
        print()


if __name__ == "__main__":
    main()
