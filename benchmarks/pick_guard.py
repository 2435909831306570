"""Which of ``new_user.py``'s picks a change to lrlab moved, and whether each move was good.

A regression guard for changes that move ``lrlab auto``'s or ``lrlab find``'s pick: the
picks alone (the rate and the warnings' kinds of each finder, per scenario and seed, the
calls ``new_user.py`` makes) are recorded for two source trees without training a grid;
then only the moved picks are judged, each scenario's ``--grid``-rate grid trained from that
seed under the working tree's lrlab (``new_user.py --seeds``'s ``--cache`` file, so rates
trained before are not trained again) and the old and the new pick scored against it.

Run (from ``benchmarks/``; a tree is a folder holding ``src/lrlab``, e.g. ``git archive
COMMIT src | tar -x -C DIR``; the scenarios are this folder's, in both trees)::

    python pick_guard.py record TREE RECORDS.json [--only NAME,...] [--seeds 0,1]
    python pick_guard.py compare OLD.json NEW.json [--judge GRID.json] [--grid 13]

``record`` runs in a fresh interpreter on ``TREE/src`` and adds to ``RECORDS.json`` what it
lacks (an interrupted run goes on where it stopped). ``compare`` prints every pick that moved
(its rate, or only its warnings' kinds) and with ``--judge`` each moved rate's regret before
and after (accuracy points below the grid's best, or percent excess loss), a verdict and the
CLI command that reproduces the new pick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The regret a move may add before it is reported as worse: accuracy points, percent.
WORSE = {"pt": 2.0, "%": 5.0}
#: A move that changes the regret by less than this is "same" (points, percent).
SAME = {"pt": 0.5, "%": 1.0}
FINDERS = ("auto", "find")


def key(name: str, seed: int) -> str:
    """A record's key, as ``new_user.py --cache`` keys its grids: ``"NAME sSEED"``."""
    return f"{name} s{seed}"


def parse_key(text: str) -> tuple[str, int]:
    """``key``'s inverse."""
    name, seed = text.rsplit(" s", 1)
    return name, int(seed)


def pick(make, rule: dict, schedule: dict, seed: int) -> dict:
    """auto's and find's picks on a fresh task from ``make`` as ``new_user.py`` makes them
    (``_finders``), no grid: rates, the warnings' kinds (find's ``no rate`` where it gave
    none), auto's compute (% of a 16-rate grid) and each one's wall seconds."""
    import new_user

    start = time.perf_counter()
    result, seconds, test, found, _, _ = new_user._finders(make, rule, schedule, (1.0, 1.0), 1,
                                                           seed=seed)
    return {"auto": result.lr, "auto kinds": list(result.confidence.kinds), "find": found,
            # auto's compute as new_user.py counts it: % of a 16-rate grid's member-epochs
            "auto compute": round(100 * result.compute / (16 * make().epochs), 2),
            "find kinds": list(test.kinds) if math.isfinite(found) else ["no rate"],
            "auto s": round(seconds, 1),
            "find s": round(time.perf_counter() - start - seconds, 1)}


def record(out: Path, names: list[str], seeds: list[int]) -> None:
    """Adds to ``out`` the picks of every scenario of ``names`` and seed it lacks, writing
    after each; a scenario that fails in this tree is recorded as its error."""
    import new_user

    import lrlab

    known = json.loads(out.read_text()) if out.exists() else {}
    known.setdefault("meta", {"lrlab": str(Path(lrlab.__file__).parent)})
    for name in names:
        for seed in seeds:
            if key(name, seed) in known:
                continue
            make, rule, _, schedule, _ = new_user._scenario(name)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    known[key(name, seed)] = pick(make, rule, schedule, seed)
            except Exception as e:  # noqa: BLE001 (a scenario this tree cannot run: its error)
                known[key(name, seed)] = {"error": f"{type(e).__name__}: {e}"[:300]}
            print(key(name, seed), known[key(name, seed)], flush=True)
            out.write_text(json.dumps(known, indent=1))


def _same_rate(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9)


def moved(old: dict, new: dict) -> list[dict]:
    """The picks that differ between two records files, per scenario, seed and finder, in
    ``new``'s order: the rate (``rate moved``) or only the warnings' kinds; a scenario that
    failed in one tree and not in the other is a move with a nan rate there (``error``)."""
    rows = []
    for k, b in new.items():
        if k == "meta" or k not in old:
            continue
        a = old[k]
        for finder in FINDERS:
            ra = a.get(finder, math.nan) if "error" not in a else math.nan
            rb = b.get(finder, math.nan) if "error" not in b else math.nan
            ka = a.get(f"{finder} kinds", ["error"])
            kb = b.get(f"{finder} kinds", ["error"])
            errored = ("error" in a) != ("error" in b)
            if _same_rate(ra, rb) and sorted(ka) == sorted(kb) and not errored:
                continue
            name, seed = parse_key(k)
            rows.append({"scenario": name, "seed": seed, "finder": finder, "old": ra,
                         "new": rb, "old kinds": ka, "new kinds": kb,
                         "rate moved": not _same_rate(ra, rb),
                         "error": b.get("error") or a.get("error") if errored else None})
    return rows


def verdict(old_regret: float, new_regret: float, unit: str) -> str:
    """``better``, ``worse`` or ``same`` (a change within ``SAME``'s noise) of a move from a
    pick of ``old_regret`` to one of ``new_regret`` (in ``unit``: ``pt`` or ``%``); a move that
    adds more than ``WORSE`` is ``WORSE`` (upper case: the one to report)."""
    delta = new_regret - old_regret
    if abs(delta) < SAME[unit]:
        return "same"
    if delta < 0:
        return "better"
    return "WORSE" if delta > WORSE[unit] else "worse"


def judge(row: dict, score: dict[float, float], higher: bool, grid: set[float],
          floor: float = 0.0) -> dict:
    """``row`` (from :func:`moved`) with each pick's regret against the best of ``grid``
    among ``score`` (per rate: the best validation score from the row's seed; it must hold
    the grid's rates and both picks), the unit and the verdict."""
    import new_user
    import pandas as pd

    s = pd.Series(score)
    best_lr, best = new_user._grid_best(s, grid, higher)
    unit = "pt" if higher else "%"
    old = new_user._regret(s, row["old"], best, higher, floor)
    new = new_user._regret(s, row["new"], best, higher, floor)
    return row | {"old regret": old, "new regret": new, "unit": unit, "grid best": best_lr,
                  "verdict": verdict(old, new, unit)}


def command(name: str, seed: int, finder: str) -> str:
    """The ``lrlab`` command (run from ``benchmarks/``) that makes ``finder``'s pick on a
    scenario from ``seed``, as ``new_user.py`` calls it."""
    import new_user

    make, rule, _, schedule, _ = new_user._scenario(name)
    words = ["cd benchmarks && PYTHONPATH=../src:. lrlab", finder, "--task",
             f"{make.__module__}:{make.__name__}", "--optimizer", rule["optimizer"]]
    for k, v in rule.get("hparams", {}).items():
        if k in ("momentum", "weight_decay", "beta1", "beta2", "eps"):
            words += [f"--{k.replace('_', '-')}", f"{v:g}"]
        else:
            words += ["--hp", f"{k}={v:g}"]
    if "clip_grad_norm" in rule:
        words += ["--clip-grad-norm", f"{rule['clip_grad_norm']:g}"]
    if finder == "auto" and schedule:  # find's rising rate reads the schedule's peak alone
        words += ["--schedule", f"'{schedule['schedule']}'"]
    return " ".join(words + ["--seed", str(seed)])


def _judge_all(rows: list[dict], grid_rates: int, cache: Path) -> list[dict]:
    """Each row whose rate moved, judged against its scenario's grid from its seed (trained
    where ``cache`` lacks a rate, as ``new_user.py --seeds --cache`` trains it)."""
    import new_user
    import numpy as np

    judged = []
    for row in rows:
        if not row["rate moved"]:
            continue
        name, seed = row["scenario"], row["seed"]
        _, _, span, _, floor = new_user._scenario(name)
        grid = {float(f"{v:.3g}") for v in np.geomspace(*span, grid_rates)}
        lrs = grid | {r for r in (row["old"], row["new"]) if math.isfinite(r)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score, higher = new_user._seed_scores(name, seed, lrs, str(cache))
        judged.append(judge(row, score, higher, grid, floor))
    return judged


def _table(rows: list[dict], judged: list[dict]) -> list[str]:
    by = {(j["scenario"], j["seed"], j["finder"]): j for j in judged}
    lines = [("| scenario | seed | finder | old pick (kinds) | new pick (kinds) | regret old "
              "-> new | verdict |"), "| :-- | --: | :-- | :-- | :-- | :-- | :-- |"]
    for r in rows:
        j = by.get((r["scenario"], r["seed"], r["finder"]))
        regret = (f"{j['old regret']:.1f} -> {j['new regret']:.1f} {j['unit']}" if j else
                  "(kinds only)" if not r["rate moved"] else "(not judged)")
        lines.append(f"| {r['scenario']} | {r['seed']} | {r['finder']} | {r['old']:.3g} "
                     f"({', '.join(r['old kinds']) or 'none'}) | {r['new']:.3g} "
                     f"({', '.join(r['new kinds']) or 'none'}) | {regret} | "
                     f"{j['verdict'] if j else ''} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record the picks of one source tree")
    r.add_argument("tree", type=Path, help="a folder holding src/lrlab")
    r.add_argument("records", type=Path, help="the JSON file to add to")
    r.add_argument("--only", default="", help="comma list of scenarios (default: all)")
    r.add_argument("--seeds", default="0,1")
    c = sub.add_parser("compare", help="list the picks that moved between two records")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--judge", type=Path, default=None, metavar="GRID.json",
                   help="train the moved picks' grids (new_user.py --cache's file) and judge")
    c.add_argument("--grid", type=int, default=13, help="grid rates (log-spaced)")
    a = p.parse_args(argv)
    if a.cmd == "record":
        # absolute: the child runs in benchmarks/, where a relative path would name nothing
        # and the installed lrlab would be recorded in its place
        src = a.tree.resolve() / "src"
        if not (src / "lrlab").is_dir():
            p.error(f"{a.tree} holds no src/lrlab; give a folder made by "
                    "'git archive COMMIT src | tar -x -C DIR'")
        env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}",
               "OMP_NUM_THREADS": "1"}
        code = ("import sys, torch, pick_guard; torch.set_num_threads(1); "
                "pick_guard.record(pick_guard.Path(sys.argv[1]), sys.argv[2].split(','), "
                "[int(s) for s in sys.argv[3].split(',')])")
        import new_user

        names = new_user.scenario_names(p, a.only)
        child = [sys.executable, "-c", code, str(a.records.resolve()), ",".join(names), a.seeds]
        sys.exit(subprocess.run(child, env=env, cwd=HERE, check=False).returncode)
    old, new = (json.loads(f.read_text()) for f in (a.old, a.new))
    rows = moved(old, new)
    judged = _judge_all(rows, a.grid, a.judge) if a.judge else []
    both = [k for k in new if k != "meta" and k in old]
    alone = len((set(old) ^ set(new)) - {"meta"})
    print(f"{len(rows)} picks moved ({sum(r['rate moved'] for r in rows)} rates, the rest "
          f"their warnings' kinds), {len(both) * len(FINDERS) - len(rows)} the same, over "
          f"{len(both)} scenario-seeds ({alone} in one file only)")
    print("\n".join(_table(rows, judged)))
    for j in judged:
        if j["verdict"] == "WORSE":
            print(f"WORSE: {j['scenario']} s{j['seed']} {j['finder']} {j['old']:.3g} -> "
                  f"{j['new']:.3g}: {command(j['scenario'], j['seed'], j['finder'])}")


if __name__ == "__main__":
    main()
