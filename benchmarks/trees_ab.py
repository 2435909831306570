"""The same sweep (or ``auto``) timed on several source trees, in fresh processes, interleaved.

For "what did this change gain": each repetition runs every tree once, one after another
(tree A, tree B, ..., then again), each in a fresh interpreter with ``PYTHONPATH`` set to
that tree's ``src``, one intra-op thread, and reports the CPU seconds of the timed
``lrlab.sweep`` (after a 2-rate warm-up in the same process), minimum / median per tree.
With ``--auto NAME,...`` it times ``lrlab.search.auto`` on those ``new_user.py`` scenarios
instead (seed 0, the scenario's rule and schedule; no warm-up: each call pays the same
first-call costs), CPU seconds beside wall seconds, and the pick, which must not differ.
Get a tree of an older commit with ``git archive <commit> src | tar -x -C /tmp/<name>``.

Usage::

    python benchmarks/trees_ab.py /tmp/base /tmp/new [--task blobs] [--ks 1,32]
        [--epochs 100] [--reps 3] [--subset N] [--data-dir DIR]
    cd benchmarks && python trees_ab.py /tmp/base /tmp/new --auto deep-cnn,bn-cnn [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from _common import min_median

CHILD = """
import sys, time, torch
import numpy as np
torch.set_num_threads(1)
from lrlab._malloc import keep_freed_memory
keep_freed_memory()
from lrlab import sweep
from lrlab.tasks import get_task
task, ks, epochs, subset, data_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
    int(sys.argv[4]), sys.argv[5]
t = get_task(task, data_dir=data_dir, download=False) if task.startswith("mnist") \\
    else get_task(task)
if subset:
    t = t.subset(subset, seed=0)
sweep(t, lrs=[0.1, 0.01], epochs=1, device="cpu")
for k in [int(v) for v in ks.split(",")]:
    lrs = [float(r) for r in np.geomspace(1e-3, 1.0, k)]
    start = time.process_time()
    sweep(t, lrs=lrs, epochs=epochs, device="cpu")
    print(k, time.process_time() - start)
"""

AUTO = """
import sys, time, warnings, torch
torch.set_num_threads(1)
warnings.simplefilter("ignore")
from lrlab._malloc import keep_freed_memory
keep_freed_memory()
import new_user
from lrlab.search import auto
make, rule, _, schedule, _ = new_user._scenario(sys.argv[1])
task = make()
cpu, wall = time.process_time(), time.perf_counter()
result = auto(task, seed=0, **rule, **schedule)
print(time.process_time() - cpu, time.perf_counter() - wall, result.lr)
"""


def time_auto(trees: list[Path], names: list[str], reps: int) -> None:
    """``--auto``: each scenario's ``auto`` per tree, interleaved: CPU and wall seconds."""
    here = Path(__file__).resolve().parent
    seconds: dict[tuple[str, Path], list[tuple[float, float, str]]] = {}
    for _ in range(reps):
        for name in names:
            for tree in trees:
                env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{here}",
                       "OMP_NUM_THREADS": "1"}
                out = subprocess.run([sys.executable, "-c", AUTO, name], env=env, check=True,
                                     capture_output=True, text=True, cwd=here).stdout
                cpu, wall, lr = out.split()[-3:]
                seconds.setdefault((name, tree), []).append((float(cpu), float(wall), lr))
    print(f"auto, seed 0, min / median of {reps} (CPU seconds; wall seconds; picks):")
    for (name, tree), rows in seconds.items():
        print(f"  {name}  {tree}: CPU {min_median([r[0] for r in rows])}; wall "
              f"{min_median([r[1] for r in rows])}; picks {sorted({r[2] for r in rows})}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="+", type=Path, help="folders holding a src/lrlab")
    p.add_argument("--task", default="blobs")
    p.add_argument("--ks", default="1,32")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--subset", type=int, default=0, help="training examples (0: all)")
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--auto", default="", help="time auto on these new_user.py scenarios")
    a = p.parse_args(argv)
    if a.auto:
        time_auto(a.trees, a.auto.split(","), a.reps)
        return
    seconds: dict[tuple[Path, int], list[float]] = {}
    for _ in range(a.reps):
        for tree in a.trees:
            env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, "-c", CHILD, a.task, a.ks, str(a.epochs),
                                  str(a.subset), a.data_dir], env=env, check=True,
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                k, cpu = line.split()
                seconds.setdefault((tree, int(k)), []).append(float(cpu))
    print(f"{a.task}, {a.epochs} epochs, CPU seconds of the sweep, min / median of {a.reps}:")
    for (tree, k), values in seconds.items():
        print(f"  {tree}  K={k}: {min_median(values)}")


if __name__ == "__main__":
    main()
