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
"""

from __future__ import annotations

import argparse
import math
import warnings

import new_user

import lrlab
import lrlab.search._auto as auto_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spy", choices=["lone-after-move", "rounded-placement"])
    parser.add_argument("only", help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    args = parser.parse_args()
    seen: dict = {}
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

    auto_module.moved_down, auto_module.lone, auto_module.candidate_rates = down, alone, placed
    for name in args.only.split(","):
        make, rule, _, schedule, _ = new_user._scenario(name)
        for seed in (int(s) for s in args.seeds.split(",")):
            seen.clear()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = lrlab.search.auto(make(), seed=seed, **rule, **schedule)
            if args.spy == "lone-after-move":
                hit = bool(seen.get("down")) and "lone" in seen
                what = f"moved down {bool(seen.get('down'))}, lone {seen.get('lone')}"
            else:
                bottom, rates = seen["placement"]
                stayed = "stayed where the range test placed it" in result.explanation
                hit = stayed and float(f"{bottom:.3g}") > bottom and float(f"{bottom:.3g}") in rates
                what = f"placement {bottom:.6g}, stayed {stayed}"
            print(f"{name} s{seed}: pick {result.lr:.3g}, {what}{', REACHED' if hit else ''}",
                  flush=True)


if __name__ == "__main__":
    main()
