"""Which range tests fall only to the loss of predicting the classes' shares.

``lrlab find``'s range test (as ``new_user.py`` runs it, :func:`ragged_bottom.curve`) on each
``new_user.py`` scenario and seed, read against the scenario's
:func:`~lrlab.search._task_range.prior_loss` (plain cross-entropy classifiers only): the
start level over the loss of uniform predictions ``ln K``, the noise over the level, the
prior, the trend's bottom and how far below the prior it fell in noise units. A clear
descent less than ``clear`` (3) noise units below the prior is read as flat there
(:func:`~lrlab.search._readings.describe`) where the loss starts near uniform predictions
(under ``NEAR`` x ``ln K``) and is not noisy: "reached" says which curves that moves.

Run (from ``benchmarks/``)::

    PYTHONPATH=../src:. python prior_reach.py [--only NAME,...] [--seeds 0,1,2] [--curves FILE]

``--curves`` is ``ragged_bottom.py``'s file (the curves the extended test ended on; kept
and reused, so a rerun reads them again without training).
"""

from __future__ import annotations

import math
import warnings

import new_user
import numpy as np
from ragged_bottom import RULES, Curves

from lrlab.search._readings import describe
from lrlab.search._suggest import NOISY
from lrlab.search._task_range import NEAR, _shares


def main() -> None:
    curves = Curves(__doc__)
    print("| scenario | seed | level / ln K | noise / level | prior | bottom | below prior / "
          "noise | clear | reached |")
    print("| :-- | --: | --: | --: | --: | --: | --: | :-- | :-- |")
    for name in curves.names:
        make = new_user._scenario(name)[0]
        for seed in curves.seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prior, classes = _shares(make(), seed)
            if math.isnan(prior):
                continue
            c = curves.get(name, seed)
            if "error" in c:
                print(f"| {name} | {seed} | {c['error']} | | | | | | |", flush=True)
                continue
            rules = RULES[c["rules"]]
            x, y = np.array(c["lrs"]), np.array(c["losses"])
            d, p = describe(x, y, rules), describe(x, y, rules, prior)
            bottom = float(d.trend[d.best])
            near = d.level <= NEAR * math.log(classes) and d.noise <= NOISY * abs(d.level)
            print(f"| {name} | {seed} | {d.level / math.log(classes):.2f} | "
                  f"{d.noise / abs(d.level):.3f} | {prior:.3g} | {bottom:.3g} | "
                  f"{(prior - bottom) / d.noise:.1f} | {'yes' if d.clear else 'no'} | "
                  f"{'**yes**' if near and d.clear and not p.clear else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
