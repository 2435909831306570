"""How long the ``lrlab`` command takes to start: ``lrlab --help``, ``lrlab tasks``, and a
one-epoch sweep (which must import torch), each in a fresh interpreter.

Each command runs as ``python -m lrlab ...`` with ``PYTHONPATH`` pointing at a source tree;
``--baseline SRC`` times a second tree (say, an older commit's ``src``, from ``git archive``)
in the same run, interleaved with this one: tree A, tree B, tree A, ... so both see the same
load on a shared machine.

* **warm**: the usual start, with Python's bytecode caches in place;
* **cold**: ``PYTHONPYCACHEPREFIX`` set to a new empty folder, so no compiled bytecode is
  found for lrlab or any library it imports (the first start after an install that wrote no
  ``.pyc`` files). The OS file cache is not dropped: on a shared machine one cannot.

Each figure is the minimum and the median over the repetitions, wall seconds and the child
process's CPU seconds (user + system, from ``getrusage``).

Usage::

    python benchmarks/startup.py [--reps 7] [--cold-reps 2] [--baseline OLD/src]
        [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import command_line, machine, markdown_table, min_median, now, write_section

SECTION = "startup"
HERE = Path(__file__).resolve().parent.parent / "src"
COMMANDS = {
    "lrlab --help": ["--help"],
    "lrlab tasks": ["tasks"],
    "lrlab sweep blobs --lrs 0.1 --epochs 1 -q": ["sweep", "blobs", "--lrs", "0.1", "--epochs",
                                                   "1", "-q"],
}
TARGETS = {"lrlab --help": 0.5, "lrlab tasks": 1.0}


def run_once(src: Path, args: list[str], *, cold: bool, db: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m lrlab ARGS`` with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "LRLAB_DB": str(db)}
    with tempfile.TemporaryDirectory() as cache:
        if cold:
            env["PYTHONPYCACHEPREFIX"] = cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lrlab", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7, help="warm repetitions per command and tree")
    p.add_argument("--cold-reps", type=int, default=2, help="cold repetitions (0: none)")
    p.add_argument("--baseline", type=Path, help="another source tree to time alongside")
    p.add_argument("--write", type=Path, metavar="MD", help=f"replace the {SECTION} section")
    a = p.parse_args(argv)
    trees = {"this tree": HERE, **({"baseline": a.baseline.resolve()} if a.baseline else {})}
    times: dict[tuple, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cold, reps in ((False, a.reps), (True, a.cold_reps)):
            for name, args in COMMANDS.items():
                run_once(HERE, args, cold=False, db=Path(tmp) / "w.db")  # file cache warm
                for rep in range(reps):
                    for tree, src in trees.items():
                        t = run_once(src, args, cold=cold, db=Path(tmp) / f"{rep}.db")
                        times.setdefault((name, cold, tree), []).append(t)
                        print(f"{name} {'cold' if cold else 'warm'} {tree}: "
                              f"{t[0]:.2f} s wall, {t[1]:.2f} s CPU", file=sys.stderr)
    rows = []
    for (name, cold, tree), values in times.items():
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        target = TARGETS.get(name)
        rows.append([f"`{name}`", "cold" if cold else "warm", tree, str(len(values)),
                     min_median(walls), min_median(cpus),
                     "—" if target is None else f"< {target} s"])
    text = "\n\n".join([
        "## Start-up: the lrlab command in a fresh interpreter",
        f"Produced by `{command_line()}` on {now()}.",
        f"Machine: {machine()}; shared with other jobs while it ran.",
        "Each cell: minimum / median over the repetitions. Warm: bytecode caches in place; "
        "cold: `PYTHONPYCACHEPREFIX` set to an empty folder, so nothing is precompiled "
        "(the OS file cache is not dropped). CPU: the child's user + system seconds."
        + (f" Baseline: `{a.baseline}`." if a.baseline else ""),
        markdown_table(["command", "start", "tree", "runs", "wall (min / median)",
                        "CPU (min / median)", "target"], rows),
    ]) + "\n"
    print(text)
    if a.write is not None:
        write_section(a.write, SECTION, text)


if __name__ == "__main__":
    main()
