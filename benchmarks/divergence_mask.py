"""What the accelerator's way of masking diverged members would cost on the CPU.

A population on a GPU applies the divergence mask with ``torch.where`` every step, so that
no step waits for the device; the CPU instead reads one boolean back per step and skips the
masking while every member is alive (reading costs nothing there). Both give the same bits
(``tests/population/test_device_path.py``). This measures, side by side in one process and
interleaved, the step time of both on the CPU, to decide whether the CPU should keep its
read: ``Population._check_on_host`` is set to ``True`` (the CPU's way) or ``False``.

Workload: the brief's blobs network (2-50-3, ReLU), SGD, batch 50, K = 1 and 32 members,
one intra-op thread; ``--steps`` steps after 20 warm-up steps, ``--reps`` repetitions.

Usage::

    python benchmarks/divergence_mask.py [--steps 1500] [--reps 5] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _common import command_line, machine, markdown_table, now, write_section
from torch import nn

from lrlab.metrics import cross_entropy
from lrlab.population import Population

SECTION = "divergence_mask"


def step_time(host_check: bool, k: int, steps: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per step."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3))
    pop = Population(model, "sgd", {"lr": torch.logspace(-3, 0, k).tolist()})
    pop._check_on_host = host_check
    x, y = torch.randn(50, 2), torch.randint(0, 3, (50,))
    for _ in range(20):
        pop.step(x, y, cross_entropy)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        pop.step(x, y, cross_entropy)
    return ((time.perf_counter() - wall) / steps * 1e6,
            (time.process_time() - cpu) / steps * 1e6)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for k in (1, 32):
        got: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.reps):
            for host_check in (True, False):
                got[host_check].append(step_time(host_check, k, args.steps))
        cells = []
        for host_check in (True, False):
            walls = [w for w, _ in got[host_check]]
            cpus = [c for _, c in got[host_check]]
            cells.append(f"{min(walls):,.0f} / {statistics.median(walls):,.0f} "
                         f"({statistics.median(cpus):,.0f} CPU)")
        ratio = min(w for w, _ in got[False]) / min(w for w, _ in got[True])
        rows.append([str(k), *cells, f"{ratio:.2f}x"])
        print(rows[-1], flush=True)
    table = markdown_table(["K", "host check: us/step min / median", "always where",
                            "always where / host check (min)"], rows)
    body = "\n".join([
        "## Divergence mask on the CPU: one host read per step against always masking", "",
        f"Produced by `{command_line()}` on {now()}.", "", f"Machine: {machine()}.", "",
        ("blobs network (2-50-3), SGD, batch 50; interleaved repetitions; microseconds per "
         "step, the process's CPU microseconds per step in brackets (median)."), "", table, "",
        ("The CPU keeps its host read (`Population._check_on_host`); accelerators always "
         "mask, which gives the same bits and never waits for the device.")])
    print(body)
    if args.write:
        write_section(args.write, SECTION, body)


if __name__ == "__main__":
    main()
