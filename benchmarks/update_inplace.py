"""The population's in-place rule step (``UpdateRule.apply``) against the pure update.

Two measurements, each interleaved over ``--reps`` repetitions, CPU seconds of this
process on one intra-op thread, minimum / median:

* **update alone** (``--sizes``): one rule step over a ``(K, P)`` flat tensor, the pure
  ``update`` plus the add against ``apply``, for each ``K x P``: where the per-member calls
  of ``apply`` start to pay (the population's ``IN_PLACE_MIN``);
* **whole steps** (``--rules``): ``Population.step`` on the MLP of
  ``benchmarks/rules_throughput.py`` (784-256-10, batch 100) at K = ``--k``, the in-place
  path against the pure one (the population's switch turned off), per member-step.

To compare two source trees (the gradient-layout change), run this under each tree's
``PYTHONPATH`` in alternation.

Usage::

    python benchmarks/update_inplace.py [--rules sgd,adam] [--sizes 32x303,16x203530]
        [--k 16] [--steps 10] [--reps 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
from _common import min_median, timed_cpu
from rules_throughput import batch, mlp

from lrlab.metrics import cross_entropy
from lrlab.optim import RULES
from lrlab.population import Population


def _hparams(rule: str, k: int) -> dict[str, torch.Tensor]:
    values = {"lr": 1e-3, **RULES[rule].defaults}
    return {n: torch.full((k,), float(v)) for n, v in values.items()
            if not (n == "weight_decay" and v == 0)}


def update_alone(rule: str, k: int, p: int) -> dict[str, Callable[[], None]]:
    """The pure update + add and the in-place step over one ``(K, P)`` tensor."""
    r, hp = RULES[rule], _hparams(rule, k)
    grad = torch.randn(k, p) * 1e-2
    flats = {v: torch.randn(k, p) * 0.05 for v in ("pure", "in place")}
    states = {v: r.init([f]) for v, f in flats.items()}

    def pure() -> None:
        (u,), states["pure"] = r.update([grad], states["pure"], [flats["pure"]], hp)
        flats["pure"].add_(u)

    def in_place() -> None:
        states["in place"] = r.apply([grad], states["in place"], [flats["in place"]], hp, None)
    return {"pure": pure, "in place": in_place}


def whole_steps(rule: str, k: int, steps: int) -> dict[str, Callable[[], None]]:
    x, y = batch()
    out = {}
    for variant in ("pure", "in place"):
        pop = Population(mlp(), rule, {"lr": [1e-3] * k})
        pop._in_place = pop._in_place and variant == "in place"

        def run(pop: Population = pop) -> None:
            for _ in range(steps):
                pop.step(x, y, cross_entropy)
        out[variant] = run
    return out


def interleaved(variants: dict[str, Callable[[], None]], reps: int, per: float
                ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {v: [] for v in variants}
    for fn in variants.values():
        fn()  # warm-up
    for _ in range(reps):
        for name, fn in variants.items():
            sample, _ = timed_cpu(fn)
            times[name].append(sample.cpu / per * 1e3)
    return times


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default="sgd,momentum,adagrad,rmsprop,adam,rprop,adam_hd")
    p.add_argument("--sizes", default="32x303,256x303,16x32768,16x65536,16x203530",
                   help="K x P shapes for the update alone ('' to skip)")
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rules = [r for r in a.rules.split(",") if RULES[r].apply is not None]
    for rule in rules:
        for shape in filter(None, a.sizes.split(",")):
            k, size = map(int, shape.split("x"))
            t = interleaved(update_alone(rule, k, size), a.reps, 1)
            print(f"update alone | {rule} | K={k} P={size} | "
                  + " | ".join(f"{v}: {min_median(x, ' ms', 3)}" for v, x in t.items()),
                  flush=True)
    for rule in rules:
        t = interleaved(whole_steps(rule, a.k, a.steps), a.reps, a.k * a.steps)
        print(f"step per member | {rule} | K={a.k} | "
              + " | ".join(f"{v}: {min_median(x, ' ms', 3)}" for v, x in t.items()),
              file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
