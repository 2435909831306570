"""Threads chosen by work size: a small sweep with the CLI's choice (one thread) against
torch's default (every core), side by side, interleaved, wall and CPU seconds.

Run: nice -n 10 python benchmarks/threads.py [REPS]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

COMMAND = ["-m", "lrlab", "sweep", "blobs", "--lrs", "1,0.1,0.01,0.001", "--epochs", "50",
           "-q"]


def _once(threads: str | None, db: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *COMMAND, "--db", db], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(reps: int = 3) -> None:
    cores = str(os.cpu_count())
    runs: dict[str, list[tuple[float, float]]] = {"chosen (1 thread)": [],
                                                   f"default ({cores} threads)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(reps):
            for name, threads in zip(runs, (None, cores)):
                runs[name].append(_once(threads, os.path.join(tmp, f"{i}-{threads}.db")))
    print(f"lrlab {' '.join(COMMAND[2:])}; {reps} interleaved repetitions")
    print("| threads | wall min (s) | wall median (s) | CPU median (s) |")
    print("|---|---|---|---|")
    for name, values in runs.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"| {name} | {min(walls):.2f} | {statistics.median(walls):.2f} | "
              f"{statistics.median(cpus):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
