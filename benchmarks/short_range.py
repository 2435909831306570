"""Where `lrlab auto`'s range test places the race when it runs fewer steps: the placement
(:func:`lrlab.search._auto.placement`: the loss trend's bottom, an adaptive rule's scaled
down, or a tenth of the largest rate reached without a clear descent) of the test ``auto``
runs on a ``new_user.py`` scenario, at each of several step counts, from each seed.

Each test ramps over all of the 100-step test's eight decades (1e-7 to 10) in fewer steps:
what such a cut would cost the placement against the 100-step test (session 13's cuts;
``auto`` itself keeps the 100-step pace and trims the ramp's bottom instead,
:func:`lrlab.search._auto.range_steps`).

Prints one row per scenario and seed (``steps: placement``, a ``*`` where the test showed no
clear descent), then per step count the median distance from
the 100-step placement in decades, the runs within half a decade of it and the runs that
lost its clear descent (``auto``'s explanation names the steps it planned).

Run: ``cd benchmarks && PYTHONPATH=../src:. nice -n 10 python short_range.py --only
"few-steps,rowgru adam" --seeds 0,1,2 [--steps 100,60,40,25]``.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from new_user import _scenario, scenario_names

from lrlab.search import range_test
from lrlab.search._auto import placement
from lrlab.search._common import plan


def place(name: str, seed: int, steps: int) -> tuple[float, bool]:
    """The placement of ``auto``'s range test of ``steps`` steps (one seed) on ``name``."""
    make, rule, *_ = _scenario(name)
    settings = {k: v for k, v in rule.items() if k == "clip_grad_norm"}
    p = plan("auto", make(), subset=None, epochs=None, optimizer=rule["optimizer"], seed=seed,
             callbacks=(), settings=settings)
    test = range_test(p.task, optimizer=rule["optimizer"], hparams=rule.get("hparams") or {},
                      seed=seed, steps=steps, batch_size=p.batch_size, validate=False,
                      clip_grad_norm=settings.get("clip_grad_norm"))
    return placement(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", required=True, help="comma list of new_user.py scenarios")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default="100,60,40,25",
                        help="step counts; the first is the reference")
    args = parser.parse_args()
    names = scenario_names(parser, args.only)
    seeds = [int(s) for s in args.seeds.split(",")]
    counts = [int(s) for s in args.steps.split(",")]
    warnings.simplefilter("ignore")
    found: dict[int, list[tuple[float, bool]]] = {s: [] for s in counts}
    for name in names:
        for seed in seeds:
            row = [place(name, seed, s) for s in counts]
            for s, r in zip(counts, row):
                found[s].append(r)
            print(f"{name} s{seed}: " + ", ".join(
                f"{s}: {b:.3g}{'' if clear else '*'}" for s, (b, clear) in zip(counts, row)),
                flush=True)
    ref = found[counts[0]]
    for s in counts[1:]:
        lost = sum(c0 and not c for (_, c0), (_, c) in zip(ref, found[s]))
        dec = [math.log10(b / b0) for (b0, c0), (b, c) in zip(ref, found[s]) if c or not c0]
        print(f"{s} steps: median {np.median(dec):+.2f} decades from {counts[0]}, "
              f"{sum(abs(d) <= 0.5 for d in dec)} of {len(ref)} within half a decade, "
              f"{lost} lost the clear descent")


if __name__ == "__main__":
    main()
