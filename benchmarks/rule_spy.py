"""Which ``auto`` runs reach a rule: run ``auto`` on ``new_user.py`` scenarios with the rule's
helpers in ``lrlab.search._auto`` wrapped, and print per run whether the rule acted. Cheaper
than ``pick_guard.py`` (no second tree, no grid) for a change that moves only the runs that
reach it: run it on the tree before the change.

Run: ``cd benchmarks && PYTHONPATH=../src:. python rule_spy.py lone-after-move
"mlm adamw,vit adamw" --seeds 0,1,2``. Spies:

- ``lone-after-move``: the race moved down because it learned only at its lowest rate
  (``moved_down``) and ``lone`` then answered a rate (the pick went to a lone learner's lower
  neighbour).
- ``rounded-placement``: a race with a clear descent learned nothing and stayed at its
  placement, and the placement rounds up (3 digits) to a raced rate (one the unrounded cap
  left out).
- ``tie-walk``: the race's last pick (``_Race.pick``) learned and its best rate had a tie
  (within the noise) below or above it: the steps each rate raced, the best, the ties either
  side, the pick; with ``--judge GRID.json`` (``new_user.py --cache``'s file) each one's
  score on the seed's grid (log-linear between its rates). ``--out FILE`` keeps one JSON
  line per run.
- ``race-top``: an SGD-like race placed without a clear descent learned, its first pick was
  its highest rate, the largest the range test reached, that test ended without diverging,
  and ``assess`` warned ``highest_searched`` on it (what ``auto`` asks before
  ``moved_above`` moves the race up a decade).
- ``tie-kept``: an adaptive race's pick kept its best where its tie would have walked down,
  by a rule the adjacent-rate hold did not have: a raced rate above the best (within half a
  decade) tied it with a rate between them outside the tie (``Choice.held`` names a rate
  that is not the next one up), or the race was capped at a clear descent's placement
  (``_Race.unwalked``). Run it on the tree with those rules: a run it does not reach picks
  as before.
- ``caught-up``: ``caught_up`` was asked (an SGD-like race ranked by a share that learned)
  and found a raced rate a quarter decade below the pick; prints both rates' training loss
  at the race's end as a share of the untrained model's (``last``) and whether it moved the
  pick (REACHED).
- ``look-again``: a race of one epoch trained rates it found unstable on one more epoch
  (``_Race.look_again``; run it on a tree that has it): the rates looked at and those that
  came back; for a race that learned nothing, its unstable rates (``_Race.shaky``), which
  ``lengthen`` looks at where the budget allows. auto stops there (the rest of the run is
  not needed to know the reach), and a scenario whose race is longer than one epoch is not
  run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import warnings
from pathlib import Path

import new_user

import lrlab
import lrlab.search._auto as auto_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spy", choices=["lone-after-move", "rounded-placement", "tie-walk",
                                        "caught-up", "race-top", "tie-kept", "look-again"])
    parser.add_argument("only", help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    parser.add_argument("--judge", help="tie-walk: new_user.py --cache's grid file")
    parser.add_argument("--out", help="tie-walk: append one JSON line per run here")
    parser.add_argument("--fq-cache", help="tie-walk: finder_quality.py caches (comma list), whose Adam "
                        "oracle grids judge the runs of its tasks, named fq:TASK in ONLY "
                        "(auto under Adam, as finder_quality.py runs it)")
    args = parser.parse_args()
    seen: dict = {}
    grids = json.loads(Path(args.judge).read_text()) if args.judge else {}
    moved_down, lone, candidates = (auto_module.moved_down, auto_module.lone,
                                    auto_module.candidate_rates)

    def down(*a, **k):
        out = moved_down(*a, **k)
        seen["down"] = seen.get("down") or bool(out)
        return out

    def alone(*a, **k):
        out = lone(*a, **k)
        if math.isfinite(out):
            seen["lone"] = out
        return out

    def placed(bottom, reached, count):
        out = candidates(bottom, reached, count)
        seen.setdefault("placement", (bottom, out))
        return out

    caught = auto_module.caught_up

    def caught_spy(table, lr, **k):
        out = caught(table, lr, **k)
        lrs, last = table["lr"].to_numpy(float), table.get("last")
        below = [v for v in lrs if lr / auto_module.CAUGHT_UP_REACH <= v < lr / (1 + 1e-9)]
        if below and last is not None:
            mine = float(last[abs(lrs - lr) <= 1e-9 * lr].iloc[0])
            other = float(last[lrs == max(below)].iloc[0])
            seen["caught"] = (lr, max(below), mine, other, out)
        return out

    picked = auto_module._Race.pick

    def last_pick(race):
        choice = picked(race)
        seen["walk"] = _walk(race, choice)
        seen.setdefault("first", _top(race, choice, seen.get("test")))
        if getattr(race, "unwalked", ()):
            seen.setdefault("kept", []).append(f"capped: {race.unwalked[1]:.3g} -> "
                                               f"{race.unwalked[0]:.3g}")
        if choice.held:
            lrs = sorted(v for v in race.table()["lr"].to_numpy(float)
                         if v <= race.cap * (1 + 1e-9))
            above = [v for v in lrs if v > choice.best_lr * (1 + 1e-9)]
            if above and not math.isclose(above[0], choice.held[0]):
                seen.setdefault("kept", []).append(
                    f"held by {choice.held[0]:.3g} over {above[0]:.3g}: {choice.held[1]:.3g} "
                    f"-> {choice.best_lr:.3g}")
        return choice

    tested = auto_module._range_test

    def test_spy(*a, **k):
        seen["test"] = tested(*a, **k)
        return seen["test"]
    looker = getattr(auto_module._Race, "look_again", None)

    def look(race, choice, allowed):
        shaky = [float(v) for v in race.shaky()["lr"]]
        out = looker(race, choice, allowed)
        # a race that learned nothing looks in ``lengthen`` (where the budget allows): its
        # unstable rates are the reach
        seen["looked"] = (list(race.looked) or ([] if choice.learned else shaky),
                          race.recovered, out)
        raise _Seen

    auto_module.moved_down, auto_module.lone, auto_module.candidate_rates = down, alone, placed
    auto_module._Race.pick = last_pick
    auto_module.caught_up = caught_spy
    auto_module._range_test = test_spy
    if args.spy == "look-again":
        auto_module._Race.look_again = look
    for name in args.only.split(","):
        if name.startswith("fq:"):  # a finder-quality task under Adam
            import finder_quality

            def make(name=name):
                return finder_quality.load(name[3:], None)[0]
            rule, schedule = {"optimizer": "adam"}, {}
        else:
            make, rule, _, schedule, _ = new_user._scenario(name)
        if args.spy == "look-again" and (short := auto_module.short_run(make().epochs, 0.15)[0]) > 1:
            print(f"{name}: a race of {short} epochs, not reached", flush=True)
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            seen.clear()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    result = lrlab.search.auto(make(), seed=seed, **rule, **schedule)
                except _Seen:
                    result = None
            if args.spy == "look-again":
                looked, back, out = seen.get("looked", ([], [], None))
                print(f"{name} s{seed}: looked at {looked}, came back {back}, pick then "
                      f"{out.lr if out else None}{', REACHED' if looked else ''}", flush=True)
                continue
            if args.spy == "lone-after-move":
                hit = bool(seen.get("down")) and "lone" in seen
                what = f"moved down {bool(seen.get('down'))}, lone {seen.get('lone')}"
            elif args.spy == "tie-walk":
                walk = seen["walk"] | {"scenario": name, "seed": seed, "final": result.lr,
                                       "bottom": result.bottom,
                                       "kinds": list(result.confidence.kinds)}
                grid = grids.get(f"{name} s{seed}")
                for cache in (args.fq_cache.split(",") if name.startswith("fq:")
                              and args.fq_cache else []):
                    if os.path.exists(path := f"{cache}/{name[3:]}-s{seed}-adam.json"):
                        with open(path) as f:
                            grid = json.load(f) | {"higher": make().num_classes is not None}
                if grid:
                    walk["grid"] = {k: _on_grid(grid, walk[k]) for k in ("best", "pick", "final")}
                    walk["grid"] |= {f"up {v:.3g}": _on_grid(grid, v) for v in walk["above"]}
                    walk["grid best"] = _grid_best(grid)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(walk) + "\n")
                hit = walk["learned"] and bool(walk["below"] or walk["above"])
                what = (f"{walk['steps']} steps, best {walk['best']:.3g}, ties below "
                        f"{walk['below']}, above {walk['above']}, race pick {walk['pick']:.3g}"
                        + (f", grid {walk['grid']} (best {walk['grid best']})" if grid else ""))
            elif args.spy == "tie-kept":
                hit = bool(seen.get("kept"))
                what = "; ".join(seen.get("kept", [])) or "no tie kept by the new rules"
            elif args.spy == "caught-up":
                lr, low, mine, other, out = seen.get("caught", (math.nan,) * 5)
                hit = math.isfinite(out)
                what = (f"caught_up asked at {lr:.3g} over {low:.3g}: last {mine:.4f} / "
                        f"{other:.4f}" if math.isfinite(lr) else "caught_up not asked")
            elif args.spy == "race-top":
                hit, what = seen["first"]
            else:
                bottom, rates = seen["placement"]
                stayed = "stayed where the range test placed it" in result.explanation
                hit = stayed and float(f"{bottom:.3g}") > bottom and float(f"{bottom:.3g}") in rates
                what = f"placement {bottom:.6g}, stayed {stayed}"
            print(f"{name} s{seed}: pick {result.lr:.3g}, {what}{', REACHED' if hit else ''}",
                  flush=True)


class _Seen(Exception):
    """Raised by the ``look-again`` spy once it has seen what it asks (auto stops)."""


def _walk(race, choice) -> dict:
    """The race's pick and the rates within the noise of its best either side (``tie-walk``)."""
    t = race.table().sort_values("lr")
    t = t[t["lr"] <= race.cap * (1 + 1e-9)]
    steps = race.epochs * math.ceil(auto_module.examples(race.task) / race.p.batch_size)
    out = {"steps": steps, "best": choice.best_lr, "pick": choice.lr, "learned": choice.learned
           and math.isfinite(choice.best_lr), "below": [], "above": [], "walk": race.walk,
           "ceiling": race.ceiling, "monitor": race.monitor,
           "table": {f"{v:.6g}": float(s) for v, s in zip(t["lr"], t["score"])}}
    if not out["learned"]:
        return out
    ok = set(choice.learned)
    best = float(t.loc[t["lr"] == choice.best_lr, "score"].iloc[0])
    noise = race.noise(best)
    lrs = [float(v) for v in t["lr"]]
    scores = dict(zip(lrs, t["score"].to_numpy(float)))
    for side, seq in (("below", sorted((v for v in lrs if v < choice.best_lr), reverse=True)),
                      ("above", sorted(v for v in lrs if v > choice.best_lr))):
        for v in seq:  # the tie's run either side of the best, as choose walks it
            if v not in ok or abs(scores[v] - best) > noise:
                break
            out[side].append(v)
    return out


def _top(race, choice, test) -> tuple[bool, str]:
    """Whether the first race reached ``race-top``'s rule, and what it saw, in words."""
    t = race.table().sort_values("lr")
    reached, top = float(test.lrs[-1]), float(t["lr"].max())
    edge = ""
    if choice.learned and math.isclose(choice.lr, top):
        c = auto_module.assess(t, choice.lr, higher_is_better=race.higher, chance=race.chance,
                               monitor=race.monitor, n=race.n, binomial=race.binomial)
        edge = ",".join(k for k in c.kinds if k.endswith("_searched"))
    clear = auto_module.placement(test)[1]
    hit = (race.walk == "up" and not clear and choice.learned and math.isclose(choice.lr, top)
           and math.isclose(top, reached, rel_tol=1e-3) and not test.stopped_early
           and edge == "highest_searched")
    return hit, (f"first pick {choice.lr:.3g} (learned {bool(choice.learned)}), top raced "
                 f"{top:.3g}, test reached {reached:.3g} (stopped {test.stopped_early}, "
                 f"clear {clear}), "
                 f"edge {edge or '-'}")


def _on_grid(grid: dict, lr: float) -> float:
    """A seed's grid score at ``lr``, log-linear between its rates (``nan`` outside them)."""
    pts = sorted((float(k), v) for k, v in grid.items() if k != "higher" and v is not None
                 and math.isfinite(v))
    for (a, sa), (b, sb) in itertools.pairwise(pts):
        if a <= lr <= b:
            w = math.log(lr / a) / math.log(b / a) if b > a else 0.0
            return round(sa + w * (sb - sa), 4)
    return math.nan


def _grid_best(grid: dict) -> tuple[float, float]:
    pts = [(float(k), v) for k, v in grid.items() if k != "higher" and v is not None
           and math.isfinite(v)]
    lr, score = (max if grid.get("higher", True) else min)(pts, key=lambda p: p[1])
    return lr, round(score, 4)


if __name__ == "__main__":
    main()
