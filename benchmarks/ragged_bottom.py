"""How far each scenario's range test scatters at its bottom, against how far it fell.

``lrlab find``'s range test (as ``new_user.py`` runs it: 100 steps, no validation, extended)
on each ``new_user.py`` scenario and seed; per curve: the noise about the trend up to the
bottom (as a share of the starting level: the ``noisy_loss`` rule), the scatter at the
bottom (:func:`~lrlab.search._suggest.scatter`) over the fall (``ragged_bottom`` from 1),
the suggestion and the warnings' kinds under the working tree's lrlab.

Run (from ``benchmarks/``)::

    PYTHONPATH=../src:. python ragged_bottom.py [--only NAME,...] [--seeds 0,1,2] [--curves FILE]

``--curves`` keeps each curve (rates and losses) in a JSON file, so a rerun reads the rules
again without training (a curve depends on the scenario and the seed only).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import new_user
import numpy as np

import lrlab
from lrlab.search._readings import (
    ADAPTIVE_RULES,
    BOUNDED_RULES,
    DEFAULT_RULES,
    LOSS_RULES,
    describe,
)
from lrlab.search._suggest import NOISY, scatter

#: the readings' rules a range test on a task reads with (``_task_range.task_rules``)
RULES = {"default": DEFAULT_RULES, "adaptive": ADAPTIVE_RULES, "loss": LOSS_RULES,
         "bounded": BOUNDED_RULES}


def curve(name: str, seed: int) -> dict:
    """The range test's rates and training losses on scenario ``name`` from ``seed``."""
    make, rule, _, _, _ = new_user._scenario(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = lrlab.search.range_test(make(), **rule, seed=seed, steps=100, validate=False,
                                       extend=True)
    return {"lrs": [float(v) for v in test.lrs], "losses": [float(v) for v in test.losses],
            "kinds": list(test.kinds), "suggestion": float(test.suggestion.lr),
            "rules": next(k for k, v in RULES.items() if v is test.rules)}


class Curves:
    """The probes' command line (``--only``, ``--seeds``, ``--curves``) and the curves kept.

    ``get(name, seed)`` gives the kept curve or runs :func:`curve` (an ``error`` entry where
    the scenario cannot run on this tree) and keeps it in the ``--curves`` file.
    """

    def __init__(self, doc: str) -> None:
        parser = argparse.ArgumentParser(description=doc.split("\n")[0])
        parser.add_argument("--only", default="", help="comma list of scenarios (default: all)")
        parser.add_argument("--seeds", default="0", help="comma list of seeds")
        parser.add_argument("--curves", default=None, help="a JSON file keeping the curves")
        args = parser.parse_args()
        self.names = new_user.scenario_names(parser, args.only)
        self.seeds = [int(s) for s in args.seeds.split(",")]
        self.path = Path(args.curves) if args.curves else None
        self.known = (json.loads(self.path.read_text())
                      if self.path and self.path.exists() else {})

    def get(self, name: str, seed: int) -> dict:
        k = f"{name} s{seed}"
        if k not in self.known:
            try:
                self.known[k] = curve(name, seed)
            except Exception as e:  # noqa: BLE001 (a scenario this tree cannot run)
                self.known[k] = {"error": f"{type(e).__name__}: {e}"[:200]}
            if self.path:
                self.path.write_text(json.dumps(self.known))
        return self.known[k]


def main() -> None:
    curves = Curves(__doc__)
    print("| scenario | seed | noise / level | scatter / fall | suggestion | kinds |")
    print("| :-- | --: | --: | --: | --: | :-- |")
    for name in curves.names:
        for seed in curves.seeds:
            c = curves.get(name, seed)
            if "error" in c:
                print(f"| {name} | {seed} | {c['error']} | | | |", flush=True)
                continue
            rules = RULES[c["rules"]]
            d = describe(np.array(c["lrs"]), np.array(c["losses"]), rules)
            if d is None or not d.clear:
                print(f"| {name} | {seed} | no clear descent | | {c['suggestion']:.3g} "
                      f"| {', '.join(c['kinds']) or 'no'} |", flush=True)
                continue
            print(f"| {name} | {seed} | {d.noise / abs(d.level):.3f}"
                  f"{' (noisy)' if d.noise > NOISY * abs(d.level) else ''} | "
                  f"{scatter(d, rules) / d.drop:.2f} | {c['suggestion']:.3g} | "
                  f"{', '.join(c['kinds']) or 'no'} |", flush=True)


if __name__ == "__main__":
    main()
