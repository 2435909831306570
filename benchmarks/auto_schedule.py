"""``auto`` for a training under a schedule: its pick with ``schedule=`` and without, against
a grid trained under that schedule.

For every task and seed: the oracle is finder_quality's grid of the task's rule family (16
rates, thirds of a decade) trained for the task's full epochs under ``--schedule`` as one
population; a rate's score is its best validation accuracy over the epochs (validation loss
for a task ranked by its loss). ``auto(schedule=...)`` races the start of that schedule and
``auto()`` races at a constant rate, as a user who left the option out would; each pick is
then trained under the schedule like the grid (one more population where it is off the
grid), and ``regret`` is the oracle's score minus the pick's in accuracy points (for a loss:
percent excess validation loss; a diverged pick scores 0, or 1000%).

Usage (from ``benchmarks/``)::

    PYTHONPATH=../src:. nice -n 10 python auto_schedule.py [--tasks digits,attention]
        [--seeds 3] [--schedule cosine:warmup_frac=0.1] [--write ../docs/benchmarks.md]
    ... --tasks user_shapes2:vit --rule adamw --hp weight_decay=0.05   # a user's task
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from _common import command_line, machine, markdown_table, now, write_section
from finder_quality import GRIDS, _family, load, regret_by

from lrlab import search, sweep
from lrlab.tasks import Task, get_task


def scored(task: Task, lrs: list[float], rule: str, hparams: dict, seed: int,
           schedule: str) -> tuple[dict[float, float], bool]:
    """Per rate, its best validation score over the full epochs under ``schedule``, and
    whether the task is ranked by its loss (a regression; a loader task as its first batch
    resolves it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sweep(task, lrs=lrs, optimizer=rule, hparams=hparams, seed=seed,
                       schedules=[schedule])
    loss = result.monitor == "loss"
    curve = result.curve("loss" if loss else "accuracy", "val")
    values = (curve.min() if loss else curve.max()).to_numpy()
    return {float(lr): float(v) for lr, v in zip(result.members["lr"], values)}, loss


def run(name: str, seed: int, schedule: str, rule: str | None, hparams: dict) -> list[str]:
    """One table row: the oracle, each pick and its regret, and the schedule's warnings."""
    task, own = (get_task(name), "sgd") if ":" in name else load(name, None)
    rule = rule or own
    grid, loss = scored(task, list(GRIDS[_family(rule)]), rule, hparams, seed, schedule)
    picks = {}
    for label, given in (("schedule", schedule), ("constant", None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = search.auto(task, optimizer=rule, hparams=hparams, seed=seed,
                                 schedule=given)
        picks[label] = (result.lr, "before_peak" in result.confidence.kinds)
    off = [lr for lr, _ in picks.values() if lr not in grid]
    if off:
        grid |= scored(task, off, rule, hparams, seed, schedule)[0]
    oracle = (min if loss else max)(grid, key=grid.get)
    best = grid[oracle]
    unit = "%" if loss else ""
    cells = [f"{name.split(':')[-1]} {rule} s{seed}", f"{oracle:.3g} ({best:.4g})"]
    for lr, early in picks.values():
        cells.append(f"{lr:.3g} {regret_by(loss, best, grid[lr]):.1f}{unit}"
                     + (" (before_peak)" if early else ""))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="digits,attention,adam-cnn")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--schedule", default="cosine:warmup_frac=0.1")
    parser.add_argument("--rule", help="the update rule (default: the task's)")
    parser.add_argument("--hp", action="append", default=[], help="NAME=VALUE of the rule")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()
    hparams = {k: float(v) for k, v in (hp.split("=") for hp in args.hp)}
    rows = []
    for name in args.tasks.split(","):
        for seed in range(args.seeds):
            rows.append(run(name, seed, args.schedule, args.rule, hparams))
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["task, rule, seed", "oracle (score)",
                            f"auto --schedule {args.schedule}: pick, regret",
                            "auto (constant race): pick, regret"], rows)
    body = (f"## auto under a schedule ({now()})\n\n`{command_line()}`; {machine()}.\n\n"
            f"{table}\n")
    print(body)
    if args.write:
        write_section(args.write, "auto-schedule", body)


if __name__ == "__main__":
    main()
