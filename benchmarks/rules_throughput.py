"""What each lrlab update rule costs per member-epoch, against the fastest ``torch.optim``
implementation of the same rule, on the same MLP.

For each rule, interleaved, ``--reps`` times:

* **torch**: one ``nn.Sequential`` MLP (784-256-10, the ``mnist-mlp`` shape), a training
  step of forward, cross-entropy, backward and ``opt.step()``, with the ``torch.optim`` twin
  of the rule (``UpdateRule.torch_name``) built ``foreach=True`` and, where torch has one
  on the CPU, ``fused=True``; the faster of the two is the reference. Rules without a twin
  are timed against the torch rule they extend (sgd_hd, dog: SGD; adam_hd, prodigy,
  dadapt_adam: Adam; delta_bar_delta, sf_sgd: SGD with momentum; sf_adamw: AdamW), a
  floor rather than a twin;
* **lrlab**: a :class:`~lrlab.population.Population` of K members of the same MLP, one
  ``pop.step`` per step (forward, backward, the rule, the divergence check), cost divided by
  K; K = 1 (one network, as torch) and K = ``--k`` (the population's use); with
  ``--compile``, also K = ``--k`` with ``compile=True`` (forward and update through
  ``torch.compile``/inductor; its first steps, which compile, are timed apart).

An "epoch" is ``--steps`` steps on one fixed random batch of 100 (the data does not change
the cost). Figures: the minimum and median over repetitions of the process's CPU seconds
per member-epoch (one intra-op thread). The ratio is lrlab's minimum over torch's minimum.

Usage::

    python benchmarks/rules_throughput.py [--rules adam,sgd] [--reps 5] [--steps 20]
        [--k 16] [--compile] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import (
    command_line,
    machine,
    markdown_table,
    min_median,
    now,
    timed_cpu,
    write_section,
)

from lrlab import tasks
from lrlab.metrics import cross_entropy
from lrlab.optim import RULES
from lrlab.population import Population

SECTION = "rules_throughput"
SIZES = [784, 256, 10]
BATCH = 100
#: rules without a torch.optim twin: the torch rule timed beside them, and its options
FLOORS = {"sgd_hd": ("SGD", {}), "adam_hd": ("Adam", {}),
          "delta_bar_delta": ("SGD", {"momentum": 0.9}), "prodigy": ("Adam", {}),
          "dadapt_adam": ("Adam", {}), "dog": ("SGD", {}), "sf_sgd": ("SGD", {"momentum": 0.9}),
          "sf_adamw": ("AdamW", {})}
TORCH_OPTIONS = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}


def mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return tasks.mlp(SIZES)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.randn(BATCH, SIZES[0], generator=g),
            torch.randint(0, SIZES[-1], (BATCH,), generator=g))


def torch_epoch(name: str, options: dict, impl: str, steps: int) -> Callable[[], None] | None:
    """One epoch of a plain loop with ``torch.optim.NAME(..., foreach/fused=True)``, or
    ``None`` where torch has no such implementation."""
    model, (x, y) = mlp(), batch()
    try:
        opt = getattr(torch.optim, name)(model.parameters(), lr=1e-3, **options,
                                         **{impl: True})
        model(x).sum().backward()
        opt.step()  # raises here when the implementation does not exist on the CPU
    except (RuntimeError, TypeError, ValueError):
        return None

    def epoch() -> None:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return epoch


def lrlab_epoch(rule: str, k: int, steps: int, compile: bool = False) -> Callable[[], None]:
    options = {"compile": True} if compile else {}  # (older lrlab has no compile option)
    pop, (x, y) = Population(mlp(), rule, {"lr": [1e-3] * k}, **options), batch()

    def epoch() -> None:
        for _ in range(steps):
            pop.step(x, y, cross_entropy)
    return epoch


def measure(rule: str, k: int, steps: int, reps: int, compile: bool) -> dict[str, list[float]]:
    """CPU seconds per member-epoch of every variant of ``rule``, interleaved."""
    twin = RULES[rule].torch_name
    name, options = (twin, TORCH_OPTIONS.get(rule, {})) if twin else FLOORS[rule]
    variants: dict[str, tuple[Callable[[], None], int]] = {}
    for impl in ("foreach", "fused"):
        epoch = torch_epoch(name, options, impl, steps)
        if epoch is not None:
            variants[f"torch {impl}"] = (epoch, 1)
    variants["lrlab K=1"] = (lrlab_epoch(rule, 1, steps), 1)
    variants[f"lrlab K={k}"] = (lrlab_epoch(rule, k, steps), k)
    if compile:
        variants[f"lrlab K={k} compiled"] = (lrlab_epoch(rule, k, steps, compile=True), k)
    times: dict[str, list] = {v: [] for v in variants}
    for label, (epoch, _) in variants.items():
        warm, _ = timed_cpu(epoch)  # warm-up (and compilation)
        times[f"{label} warm-up"] = [warm.wall]  # inductor compiles in worker processes
    for _ in range(reps):
        for label, (epoch, members) in variants.items():
            sample, _ = timed_cpu(epoch)
            times[label].append(sample.cpu / members)
    times["reference"] = [f"torch.optim.{name}" + ("" if twin else " (no twin: a floor)")]
    return times


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default=",".join(RULES), help="comma list (default: all)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="steps per epoch")
    p.add_argument("--k", type=int, default=16, help="the population's size")
    p.add_argument("--compile", action="store_true",
                   help="also time the population with compile=True (slow to compile)")
    p.add_argument("--write", type=Path, metavar="MD", help=f"replace the {SECTION} section")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for rule in a.rules.split(","):
        t = measure(rule, a.k, a.steps, a.reps, a.compile)
        reference = t.pop("reference")[0]
        torch_best = min(min(v) for lab, v in t.items()
                         if lab.startswith("torch") and not lab.endswith("warm-up"))
        cells = [f"`{rule}`", reference]
        for label in ("torch foreach", "torch fused", "lrlab K=1", f"lrlab K={a.k}"):
            v = t.get(label)
            cells.append("—" if v is None else min_median([x * 1e3 for x in v], " ms", 1))
        for label in ("lrlab K=1", f"lrlab K={a.k}"):
            cells.append(f"{min(t[label]) / torch_best:.2f}x")
        if a.compile:
            compiled = t[f"lrlab K={a.k} compiled"]
            cells += [min_median([x * 1e3 for x in compiled], " ms", 1),
                      f"{min(compiled) / torch_best:.2f}x",
                      f"{t[f'lrlab K={a.k} compiled warm-up'][0]:.1f} s"]
        rows.append(cells)
        print(" | ".join(cells), file=sys.stderr, flush=True)
    text = "\n\n".join([
        "## Update rules: cost per member-epoch against torch.optim",
        f"Produced by `{command_line()}` on {now()}.",
        f"Machine: {machine()}; shared with other jobs while it ran.",
        (f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {a.steps} steps an epoch; CPU "
         "seconds of this process per member-epoch, minimum / median of "
         f"{a.reps} interleaved repetitions. Ratio: lrlab's minimum over the faster torch "
         "implementation's minimum (1.2x is the target)."),
        markdown_table(["rule", "torch reference", "torch foreach", "torch fused",
                        "lrlab K=1", f"lrlab K={a.k} (per member)", "K=1 / torch",
                        f"K={a.k} / torch",
                        *([f"K={a.k} compiled", "compiled / torch", "compile (first epoch, wall)"]
                          if a.compile else [])], rows),
    ]) + "\n"
    print(text)
    if a.write is not None:
        write_section(a.write, SECTION, text)


if __name__ == "__main__":
    main()
