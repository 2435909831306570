"""Whether ``new_user.py``'s scenarios give the same records from the same seed: ``auto`` and
the range test as ``lrlab find`` runs it, twice in this process with torch's, Python's and
NumPy's global random states disturbed before each, and once in a fresh interpreter with
another ``PYTHONHASHSEED``; each run's result as a digest of everything it returned but wall
seconds (the pick, the race's scores, the explanation, the range test's losses, the warnings).

Run (from ``benchmarks/``)::

    python same_seed.py --only "infonce,vae" [--seed 0] [--no-fresh]

Prints one row per scenario: the picks, and ``same`` or where the digests differed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def _digest(*parts: object) -> str:
    return hashlib.sha1("\n".join(map(str, parts)).encode()).hexdigest()[:12]


def once(name: str, seed: int) -> dict:
    """auto's and find's picks on scenario ``name`` from ``seed``, and a digest of each."""
    import new_user

    import lrlab

    make, rule, _, schedule, _ = new_user._scenario(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = lrlab.search.auto(make(), seed=seed, **rule, **schedule)
        test = lrlab.search.range_test(make(), **rule, seed=seed, steps=100, validate=False,
                                       extend=True)
    scores = auto.scores.drop(columns=[c for c in auto.scores if "time" in str(c)])
    rt = auto.range_test
    return {"auto": auto.lr, "find": test.suggestion.lr,
            "auto digest": _digest(auto.lr, scores.to_csv(float_format="%.17g"),
                                   auto.explanation, rt.losses.tolist(),
                                   auto.confidence.kinds),
            "find digest": _digest(test.suggestion.lr, test.lrs.tolist(), test.losses.tolist(),
                                   test.warnings)}


def _disturb(n: int) -> None:
    """Draw ``n`` values from each global random state (a user's earlier code)."""
    torch.rand(n)
    np.random.rand(n)
    for _ in range(n):
        random.random()


def fresh(name: str, seed: int) -> dict:
    """:func:`once` in a new interpreter (another hash seed)."""
    env = {**os.environ, "PYTHONHASHSEED": "4242", "OMP_NUM_THREADS": "1"}
    code = ("import json, sys, torch; torch.set_num_threads(1); import same_seed; "
            "print(json.dumps(same_seed.once(sys.argv[1], int(sys.argv[2]))))")
    done = subprocess.run([sys.executable, "-c", code, name, str(seed)], cwd=HERE, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", required=True, help="comma list of new_user.py scenarios")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fresh", action="store_true", help="skip the fresh interpreter")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| scenario | seed | auto | find | same in one process | same in a fresh one |")
    print("| :-- | --: | --: | --: | :-- | :-- |")
    for name in args.only.split(","):
        runs = []
        for n in (3, 11):
            _disturb(n)
            runs.append(once(name, args.seed))
        other = None if args.no_fresh else fresh(name, args.seed)

        def same(a: dict, b: dict) -> str:
            moved = [k for k in ("auto digest", "find digest") if a[k] != b[k]]
            return "same" if not moved else "differ: " + ", ".join(
                f"{k.split()[0]} {a[k.split()[0]]:.3g} vs {b[k.split()[0]]:.3g}" for k in moved)

        first = runs[0]
        print(f"| {name} | {args.seed} | {first['auto']:.3g} | {first['find']:.3g} | "
              f"{same(first, runs[1])} | {'-' if other is None else same(first, other)} |",
              flush=True)


if __name__ == "__main__":
    main()
