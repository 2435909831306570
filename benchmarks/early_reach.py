"""How far ``auto``'s races had trained when they stopped, and whether that tells the misses.

Reads the races ``race_rows.py --json`` wrote (one JSON line per task, rule and seed: every
raced rate's row, the pick, its warnings) and the regret of each pick: a finder-quality
cache's ``rows.json`` (or ``rows-momentum.json``; its ``lrlab auto`` rows, matched by task,
rule family and seed, where the pick is the same rate) or a ``new_user.py --cache`` grid
file (``NAME sSEED`` -> rate -> score). For each race it prints the pick's ``last`` (its
race's last epoch's mean training loss as a share of the untrained model's), the regret and
the warnings' kinds; then, for each threshold, the runs ``early_race`` would warn on among
the misses (regret over 2 points, or 5% on a loss) that no other line warned, and among the
good picks: those no other line warned (newly warned) and those already warned.
``early_race`` itself is left out of the kinds (the races may have been run with it), and it
says nothing after a line of ``search._auto.SAYS_LESS``.

Usage::

    cd benchmarks && PYTHONPATH=../src:. python race_rows.py deep-tanh --optimizer momentum \\
        --seeds 0,1,2,3,4 --json /tmp/races.jsonl
    python early_reach.py /tmp/races.jsonl --rows /tmp/fq/rows-momentum.json \\
        --grids /tmp/grid.json --thresholds 0.7,0.75,0.8,0.85
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from lrlab.search._auto import EARLY, SAYS_LESS


def family(rule: str) -> str:
    """What a rows file's rows are keyed by: ``adam`` for the Adam family, else the rule."""
    return "adam" if rule.startswith("adam") else rule


def regret_of(race: dict, rows: dict, grids: dict) -> tuple[float, bool]:
    """The pick's regret (``nan`` when no source scores it) and whether it is a loss's (%)."""
    name = race["task"]
    if name.startswith("new_user:"):
        grid = grids.get(f"{name.split(':', 1)[1]} s{race['seed']}")
        if grid is None:
            return math.nan, False
        higher = bool(grid["higher"])
        scores = {float(k): v for k, v in grid.items() if k != "higher"}
        best = max(scores.values()) if higher else min(scores.values())
        mine = next((v for k, v in scores.items() if math.isclose(k, race["lr"], rel_tol=1e-3)),
                    None)
        if mine is None:
            return math.nan, not higher
        return (100 * (best - mine) if higher else 100 * (mine - best) / best), not higher
    row = rows.get((name, family(race["optimizer"]), race["seed"]))  # (see main)
    if row is None or not math.isclose(row["lr"], race["lr"], rel_tol=1e-3):
        return math.nan, bool(row and row["regression"])
    return row["regret"], bool(row["regression"])


def last_share(race: dict) -> float:
    """The pick's ``last`` (or the nearest raced rate's: an unraced pick's evidence)."""
    table = [r for r in race["table"] if r.get("last") is not None]
    if not table:
        return math.nan
    row = min(table, key=lambda r: abs(math.log(r["lr"] / race["lr"])))
    return float(row["last"])


def tally(runs: list[tuple], threshold: float) -> dict[str, list[str]]:
    """Which runs ``early_race`` warns on at ``threshold``, by what each pick was: ``runs``
    as :func:`main` reads them (race, last, regret, loss, other kinds)."""
    out: dict[str, list[str]] = {
        "misses unwarned": [], "caught": [], "good unwarned": [], "newly warned": [],
        "good already warned, warned again": [], "unscored, newly warned": []}
    for race, last, regret, loss, kinds in runs:
        fires = last > threshold and not set(kinds) & set(SAYS_LESS)
        tag = f"{race['task']} {race['optimizer']} s{race['seed']} ({last:.3f})"
        if not math.isfinite(regret):
            if fires and not kinds:
                out["unscored, newly warned"].append(tag)
            continue
        if regret > (5.0 if loss else 2.0):
            if not kinds:
                out["misses unwarned"].append(tag)
                if fires:
                    out["caught"].append(tag)
        elif not kinds:
            out["good unwarned"].append(tag)
            if fires:
                out["newly warned"].append(tag)
        elif fires:
            out["good already warned, warned again"].append(tag)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("races", nargs="+", type=Path, help="race_rows.py --json files")
    parser.add_argument("--rows", action="append", type=Path, default=[],
                        help="a finder_quality.py rows file (repeat for several)")
    parser.add_argument("--grids", action="append", type=Path, default=[],
                        help="a new_user.py --cache grid file (repeat for several)")
    parser.add_argument("--thresholds", default=f"0.7,0.75,{EARLY:g},0.85",
                        help=f"comma list (auto's: {EARLY:g})")
    args = parser.parse_args(argv)
    rows: dict = {}
    for path in args.rows:  # rows-momentum.json: its SGD family trained with momentum
        rule = path.stem.split("-", 1)[1] if "-" in path.stem else "sgd"
        for r in json.loads(path.read_text()):
            if r["finder"].startswith("lrlab auto"):
                key = "adam" if r["family"] == "adam" else rule
                rows[(r["task"], key, r["seed"])] = r
    grids: dict = {}
    for path in args.grids:
        grids.update(json.loads(path.read_text()))
    runs = []
    for path in args.races:
        for line in path.read_text().splitlines():
            race = json.loads(line)
            regret, loss = regret_of(race, rows, grids)
            kinds = [k for k in race["confidence"]["warning_kinds"] if k != "early_race"]
            runs.append((race, last_share(race), regret, loss, kinds))
    print(f"{'task':28} {'rule':9} seed {'pick':>9} {'last':>6} {'regret':>8}  warnings")
    for race, last, regret, loss, kinds in sorted(runs, key=lambda r: -r[1] if math.isfinite(r[1]) else 1):
        unit = "%" if loss else "pt"
        print(f"{race['task']:28} {race['optimizer']:9} {race['seed']:4} {race['lr']:9.3g} "
              f"{last:6.3f} {regret:6.1f}{unit:2}  {', '.join(kinds) or '-'}")
    print()
    for threshold in (float(v) for v in args.thresholds.split(",")):
        out = tally(runs, threshold)
        print(f"last > {threshold:g}: " + "; ".join(f"{k} {len(v)}" for k, v in out.items()))
        for k in ("caught", "newly warned", "unscored, newly warned"):
            if out[k]:
                print(f"  {k}: {', '.join(out[k])}")


if __name__ == "__main__":
    main()
