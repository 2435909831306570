"""Crash safety over many kill points: SIGKILL ``lrlab sweep`` anywhere, resume, compare.

For every kill point of a sweep (each epoch mid-training, each epoch's records mid-commit,
each checkpoint mid-write) the sweep runs as ``python -m lrlab`` in a fresh interpreter with
``LRLAB_TEST_KILL_AT`` set (the test hook in ``lrlab._testing.kill_point``), is
killed there, and ``lrlab resume`` finishes it. With ``--chains N``, N more scenarios kill
the resume too (at a later point), then resume again. Each scenario passes when:

* the killed process died of SIGKILL (the point was reached);
* the final resume exits 0 and the study is ``done``;
* its records equal the reference run's (same command, never killed) bit for bit, the
  ``time`` record aside, and its members table (divergence) is equal;
* no (member, epoch, split, metric) row appears twice, and every epoch of every member that
  did not diverge is there.

It counts the scenarios that passed and writes the count into ``docs/benchmarks.md``
(section ``crash_resume``) with ``--write``.

Usage::

    python benchmarks/crash_resume.py [--epochs 6] [--checkpoint-every 2] [--chains 3]
        [--jobs 2] [--limit N] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from _common import command_line, machine, markdown_table, now, write_section

from lrlab.store import Store, load_result


@dataclass(frozen=True)
class Scenario:
    """Kill the sweep at ``points[0]``, each resume at the next point, then resume to the end."""

    points: tuple[str, ...]

    @property
    def name(self) -> str:
        return " then ".join(self.points)


def kill_points(epochs: int, every: int) -> list[str]:
    """Every point a sweep of ``epochs`` epochs with a checkpoint every ``every`` reaches."""
    checkpoints = sorted({e for e in range(1, epochs + 1) if e % every == 0} | {epochs})
    points = [f"{kind}:{e}" for e in range(1, epochs + 1) for kind in ("epoch", "commit")]
    return points + [f"checkpoint:{e}" for e in checkpoints]


def _epoch(point: str) -> int:
    return int(point.split(":")[1])


def chains(points: list[str], n: int, seed: int = 0) -> list[Scenario]:
    """``n`` pairs of points, the second later than the first (so the resume reaches it)."""
    rng = random.Random(seed)
    pairs = [(a, b) for a in points for b in points if _epoch(b) > _epoch(a)]
    return [Scenario(p) for p in rng.sample(pairs, min(n, len(pairs)))]


def lrlab(argv: list[str], kill: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LRLAB_TEST_KILL_AT"}
    env["OMP_NUM_THREADS"] = "1"
    if kill is not None:
        env["LRLAB_TEST_KILL_AT"] = kill
    return subprocess.run([sys.executable, "-m", "lrlab", *argv], env=env, check=False,
                          capture_output=True, text=True, timeout=600)


def sweep_argv(args: argparse.Namespace, db: Path) -> list[str]:
    return ["sweep", "blobs", "--lrs", "0.1,0.01,50", "--epochs", str(args.epochs),
            "--checkpoint-every", str(args.checkpoint_every), "-q", "--db", str(db),
            "--study", "s"]


def run_scenario(scenario: Scenario, args: argparse.Namespace, folder: Path,
                 reference) -> tuple[Scenario, str | None]:
    """``None`` when the scenario passes, else why it failed."""
    db = folder / f"{scenario.name.replace(' ', '_').replace(':', '-')}.db"
    resume = ["resume", "s", "--db", str(db), "-q",
              "--checkpoint-every", str(args.checkpoint_every)]
    for i, point in enumerate(scenario.points):
        done = lrlab(sweep_argv(args, db) if i == 0 else resume, kill=point)
        if done.returncode != -signal.SIGKILL:
            return scenario, f"not killed at {point} (exit {done.returncode}): {done.stderr[-300:]}"
    done = lrlab(resume)
    if done.returncode != 0:
        return scenario, f"resume exited {done.returncode}: {done.stderr[-300:]}"
    return scenario, compare(db, reference, args.epochs)


def compare(db: Path, reference, epochs: int) -> str | None:
    with Store(db, create=False) as store:
        if store.info("s").state != "done":
            return f"study is {store.info('s').state} after the resume"
        result = store.result("s")
    got, want = (f[f["metric"] != "time"].reset_index(drop=True)
                 for f in (result.records, reference.records))
    try:
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        pd.testing.assert_frame_equal(result.members, reference.members)
    except AssertionError as err:
        return f"records differ: {str(err).splitlines()[0]}"
    if result.records.duplicated(["member", "epoch", "split", "metric"]).any():
        return "a record appears twice"
    alive = result.members.loc[~result.members["diverged"], "member"]
    for member in alive:
        seen = set(result.records.loc[result.records["member"] == member, "epoch"])
        if seen != set(range(1, epochs + 1)):
            return f"member {member} misses epochs {sorted(set(range(1, epochs + 1)) - seen)}"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--chains", type=int, default=3,
                        help="scenarios that kill the resume too")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run side by side")
    parser.add_argument("--limit", type=int, help="run only this many single-kill scenarios "
                                                  "(spread evenly over the points)")
    parser.add_argument("--write", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args(argv)

    points = kill_points(args.epochs, args.checkpoint_every)
    singles = [Scenario((p,)) for p in points]
    if args.limit is not None and args.limit < len(singles):
        step = len(singles) / args.limit
        singles = [singles[int(i * step)] for i in range(args.limit)]
    scenarios = singles + chains(points, args.chains)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference_run = lrlab(sweep_argv(args, folder / "reference.db"))
        if reference_run.returncode != 0:
            sys.exit(f"the reference sweep failed: {reference_run.stderr}")
        reference = load_result(folder / "reference.db", "s")
        with ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(lambda s: run_scenario(s, args, folder, reference),
                                     scenarios))
    seconds = time.perf_counter() - start
    failed = [(s, why) for s, why in outcomes if why is not None]
    for scenario, why in outcomes:
        print(f"{'ok  ' if why is None else 'FAIL'} {scenario.name}" + (f": {why}" if why else ""))
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} scenarios passed in {seconds:.0f} s")
    if args.write is not None:
        write_section(args.write, "crash_resume", report(args, outcomes, seconds))
    if failed:
        sys.exit(1)


def report(args: argparse.Namespace, outcomes: list, seconds: float) -> str:
    kinds = {"epoch": "mid-epoch (trained, not yet evaluated)",
             "commit": "mid-commit (records written, not committed)",
             "checkpoint": "mid-checkpoint (blob written, not committed)"}
    rows = []
    for kind, text in kinds.items():
        mine = [why for s, why in outcomes if len(s.points) == 1 and s.points[0].startswith(kind)]
        rows.append([text, str(len(mine)), str(sum(w is None for w in mine))])
    chained = [why for s, why in outcomes if len(s.points) > 1]
    rows.append(["killed, then the resume killed again", str(len(chained)),
                 str(sum(w is None for w in chained))])
    passed = sum(why is None for _, why in outcomes)
    return f"""## Crash safety: SIGKILL anywhere, then resume

Produced by `{command_line()}` on {now()} in {seconds:.0f} s.

Machine: {machine()}.

Each scenario runs `lrlab sweep blobs --lrs 0.1,0.01,50 --epochs {args.epochs}
--checkpoint-every {args.checkpoint_every}` in a fresh interpreter, kills it with SIGKILL at a
kill point (the `LRLAB_TEST_KILL_AT` test hook), then runs `lrlab resume` until the study is
done, and compares the stored records with a run never killed: equal bit for bit (the `time`
record aside), no row twice, no epoch missing.

**{passed} of {len(outcomes)} scenarios passed.**

{markdown_table(["kill point", "scenarios", "passed"], rows)}
"""


if __name__ == "__main__":
    main()
