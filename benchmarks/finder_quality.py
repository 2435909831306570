"""How good a rate each finder picks, and what it costs, against an oracle grid.

For every built-in task whose data is here:

* **oracle**: a dense log grid of rates (``--oracle``, default 16 rates, thirds of a decade
  from 1e-4 to 10), each trained for the task's full epochs with plain SGD as one population
  from the same initial weights and order. A rate's score is its best validation accuracy
  over the epochs; the oracle's score is the best rate's.
* **each finder** picks a rate (or, for the learning-rate-free optimizers, trains directly).
  The picked rates that are not on the oracle grid are trained like the oracle's (one more
  population per task), so every pick is scored the same way: best validation accuracy
  reached at that rate. ``regret`` = oracle score - the pick's score, in accuracy points
  (percent); ``compute`` = the finder's cost in member-epochs of the full training set as a
  fraction of the oracle's (``oracle rates x epochs``). A range test of ``s`` steps of batch
  ``b`` on ``n`` examples costs ``s b / n`` member-epochs.

The finders: lrlab's procedures (``grid`` over decades, ``coarse_to_fine``, ``fastest``,
``halving``, and lrlab's default, :func:`lrlab.search.auto`), lrlab's range test read by
every rule it has (lrlab's suggestion, Smith's recommended start, and the popular
valley / steepest / min/10 rules), the same range test over three seeds (vectorised), the
``torch-lr-finder`` package's suggestion on the same model and data, and the
learning-rate-free optimizers Prodigy (``prodigyopt``) and Schedule-Free AdamW
(``schedulefree``) at their default settings, trained for the task's epochs. These three
packages are benchmark-only extras (``pip install -e '.[bench]'``); a missing one is
reported as missing.

A rule that gives no rate (a curve that never falls) scores the worst rate of the oracle
grid: a user following it would have had to guess. A procedure that proposes a schedule
with its rate (``halving``: decay 100x over the training) is trained with that schedule.

Results are cached under ``--cache`` (populations as lrlab run folders), so a second run
only retrains what changed; ``--fresh`` ignores the cache.

Usage::

    python benchmarks/finder_quality.py [--tasks blobs,digits,mnist-linear,...]
        [--data-dir ../shared/data/mnist] [--cache benchmarks/.cache/finder_quality]
        [--size mnist-cnn=10000] [--redo halving,auto]
        [--threads 1] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _common import command_line, machine, markdown_table, now, write_section

from lrlab import search
from lrlab.search import find_lr
from lrlab.tasks import Task, get_task
from lrlab import sweep
from lrlab.train import SweepResult

ORACLE = tuple(float(f"{10 ** (k / 3):.3g}") for k in range(-12, 4))  # 1e-4 .. 10
TASKS = ("blobs", "digits", "mnist-linear", "mnist-mlp", "mnist-cnn", "fashion-linear",
         "fashion-mlp", "fashion-cnn")
RANGE_STEPS = 100
DEFAULT = "lrlab auto (default)"


@dataclass
class Pick:
    """What one finder did on one task."""

    finder: str
    lr: float | None          # None: the finder trains itself (score given)
    compute: float            # member-epochs of the full training set
    score: float | None = None  # best validation accuracy, when the finder trained itself
    seconds: float = 0.0
    schedule: str | None = None  # a schedule the finder proposes with its rate


# -- training and scoring ------------------------------------------------------------------


def best_accuracy(result: SweepResult) -> dict[float, float]:
    """Per rate, the best validation accuracy over the epochs (nan: diverged at once)."""
    acc = result.curve("accuracy", "val")
    return {float(lr): float(acc.iloc[:, k].max())
            for k, lr in enumerate(result.members["lr"])}


def cached_sweep(cache: Path, key: str, task: Task, lrs: list[float],
                 schedule: str | None = None) -> SweepResult:
    """``sweep(task, lrs)`` for the task's full epochs, read from ``cache/key`` when there."""
    folder = cache / key
    if (folder / "summary.json").exists():
        result = SweepResult.load(folder)
        if sorted(result.members["lr"]) == sorted(lrs):
            return result
    result = sweep(task, lrs=lrs, seed=0, **({"schedules": [schedule]} if schedule else {}))
    result.save(folder)
    return result


# -- the finders ---------------------------------------------------------------------------


def _loss(task: Task) -> Callable:
    return lambda outputs, targets: task.loss(outputs.unsqueeze(0), targets).mean()


RANGE_RULES = (("suggestion", "lrlab suggestion"), ("recommended", "Smith: recommended start"),
               ("valley", "valley (fastai)"), ("steepest", "steepest slope"),
               ("min_div10", "min loss / 10"))
SEEDED = "range test x3 seeds: lrlab suggestion"


def range_test_picks(task: Task, skip: dict) -> list[Pick]:
    """lrlab's range test on the task's model and data, read by every rule; then 3 seeds."""
    cost = RANGE_STEPS * task.batch_size / len(task.train)
    picks = []
    for seeds in (None, [0, 1, 2]):
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            result = find_lr(task.init_model(0), _loss(task), (task.train.x, task.train.y),
                             steps=RANGE_STEPS, batch_size=task.batch_size, seeds=seeds,
                             val_data=(task.val.x, task.val.y), eval_every=5)
        seconds = time.perf_counter() - start
        runs = len(seeds) if seeds else 1
        if seeds:
            picks.append(Pick(SEEDED, result.suggestion.lr, runs * cost, seconds=seconds))
            continue
        readings = result.suggestions()
        for name, label in RANGE_RULES:
            picks.append(Pick(f"range test: {label}", readings[name].lr, cost, seconds=seconds))
    return picks


def torch_lr_finder_pick(task: Task, skip: dict) -> list[Pick]:
    """The ``torch-lr-finder`` package's suggestion (steepest gradient) on the same data."""
    try:
        from torch_lr_finder import LRFinder
    except ImportError:
        return [Pick("torch-lr-finder (not installed)", math.nan, 0.0)]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = task.init_model(0)
        data = torch.utils.data.TensorDataset(task.train.x, task.train.y)
        loader = torch.utils.data.DataLoader(data, batch_size=task.batch_size, shuffle=True)
        opt = torch.optim.SGD(model.parameters(), lr=1e-7)
        finder = LRFinder(model, opt, torch.nn.CrossEntropyLoss(), device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            finder.range_test(loader, end_lr=10, num_iter=RANGE_STEPS)
            _ax, lr = finder.plot(suggest_lr=True, show_lr=None)
        plt.close("all")
    cost = RANGE_STEPS * task.batch_size / len(task.train)
    return [Pick("torch-lr-finder: suggestion", float(lr) if lr else math.nan, cost,
                 seconds=time.perf_counter() - start)]


PROCEDURES: dict[str, Callable] = {
    **({DEFAULT: lambda task: search.auto(task)} if hasattr(search, "auto") else {}),
    "grid: decades 1e-4..10": lambda task: search.grid(task, [1e-4, 1e-3, 0.01, 0.1, 1, 10]),
    "coarse_to_fine": lambda task: search.coarse_to_fine(task),
    "fastest (Wilson-Martinez)": lambda task: search.fastest(task),
    "halving (cs231n, 10% subset)": lambda task: search.halving(task),
}


def procedure_picks(task: Task, skip: dict) -> list[Pick]:
    """lrlab's search procedures at their defaults (all on the task's own epochs)."""
    picks = []
    for name, run in PROCEDURES.items():
        if name in skip:
            picks.append(skip[name])
            continue
        start = time.perf_counter()
        result = run(task)
        picks.append(Pick(name, result.lr, result.compute, seconds=time.perf_counter() - start,
                          schedule=getattr(result, "schedule", None)))
        print(f"  {name}: lr={result.lr:.3g} ({picks[-1].seconds:.0f} s)", file=sys.stderr)
    return picks


FREE = ("Prodigy (lr-free, defaults)", "Schedule-Free AdamW (defaults)")


def free_optimizer_picks(task: Task, skip: dict) -> list[Pick]:
    """Prodigy and Schedule-Free AdamW at their defaults, trained for the task's epochs."""
    picks = []
    makers = {}
    try:
        from prodigyopt import Prodigy
        makers[FREE[0]] = (lambda p: Prodigy(p), False)
    except ImportError:
        picks.append(Pick("Prodigy (not installed)", math.nan, 0.0))
    try:
        from schedulefree import AdamWScheduleFree
        makers[FREE[1]] = (lambda p: AdamWScheduleFree(p), True)
    except ImportError:
        picks.append(Pick("Schedule-Free (not installed)", math.nan, 0.0))
    for name, (make, modes) in makers.items():
        if name in skip:
            picks.append(skip[name])
            continue
        start = time.perf_counter()
        score = train_plain(task, make, modes)
        picks.append(Pick(name, None, float(task.epochs), score=score,
                          seconds=time.perf_counter() - start))
    return picks


def train_plain(task: Task, make: Callable, modes: bool) -> float:
    """A plain loop with a torch optimizer; the best validation accuracy over the epochs.

    Same initial weights (seed 0) and batch size as the oracle; a fresh shuffle per epoch.
    ``modes``: the optimizer has ``train()`` / ``eval()`` (Schedule-Free's averaged weights).
    """
    loss_fn, best = _loss(task), 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = task.init_model(0)
        opt = make(model.parameters())
        g = torch.Generator().manual_seed(0)
        for _ in range(task.epochs):
            model.train()
            if modes:
                opt.train()
            order = torch.randperm(len(task.train), generator=g)
            for idx in order.split(task.batch_size):
                opt.zero_grad()
                loss = loss_fn(model(task.train.x[idx]), task.train.y[idx])
                if not torch.isfinite(loss):
                    return best
                loss.backward()
                opt.step()
            model.eval()
            if modes:
                opt.eval()
            with torch.no_grad():
                hits = sum(int((model(x).argmax(1) == y).sum())
                           for x, y in zip(task.val.x.split(2048), task.val.y.split(2048)))
            best = max(best, hits / len(task.val))
    return best


FINDERS = {
    "procedure_picks": list(PROCEDURES),
    "range_test_picks": [f"range test: {label}" for _, label in RANGE_RULES] + [SEEDED],
    "torch_lr_finder_pick": ["torch-lr-finder: suggestion"],
    "free_optimizer_picks": list(FREE),
}


# -- one task ------------------------------------------------------------------------------


def cached_picks(path: Path, task: Task, redo: str | None) -> list[Pick]:
    """Every finder's pick, read from ``path`` when there. A group of finders runs again
    when one of its picks is missing or its name contains a word of ``redo`` (a comma
    list)."""
    known = {}
    if path.exists():
        known = {d["finder"]: Pick(**d) for d in json.loads(path.read_text())}
    if redo:
        known = {k: v for k, v in known.items()
                 if not any(word in k for word in redo.split(","))}
    picks = []
    for group in (procedure_picks, range_test_picks, torch_lr_finder_pick, free_optimizer_picks):
        names = FINDERS[group.__name__]
        if all(n in known for n in names):
            picks += [known[n] for n in names]
        else:
            picks += group(task, skip={n: known[n] for n in names if n in known})
    path.write_text(json.dumps([vars(p) for p in picks], indent=1))
    return picks


def scored(cache: Path, name: str, task: Task, lrs: list[float]) -> dict[float, float]:
    """Best validation accuracy per rate, trained (as one population) only where the cache
    ``cache/name-scores.json`` has no score for that rate yet."""
    path = cache / f"{name}-scores.json"
    known = {float(k): v for k, v in json.loads(path.read_text()).items()} if path.exists() else {}
    missing = sorted({lr for lr in lrs if lr not in known})
    if missing:
        known |= best_accuracy(sweep(task, lrs=missing, seed=0))
        path.write_text(json.dumps({repr(k): v for k, v in known.items()}, indent=1))
    return known


def run_task(name: str, data_dir: str | None, cache: Path, redo: str | None = None,
             size: int | None = None) -> dict | None:
    """Every finder on one task: rows of (finder, lr, accuracy, regret, compute).

    ``size``: cut the training set to that many examples (stratified, seed 0) for the
    oracle and every finder alike; the task is then named ``name[size]``.
    """
    try:
        task = get_task(name, data_dir=data_dir, download=False)
    except ValueError as err:
        print(f"{name}: skipped ({err})", file=sys.stderr)
        return {"task": name, "skipped": str(err)}
    if size is not None:
        task = task.subset(size, seed=0)
        name = task.name
    start = time.perf_counter()
    oracle = cached_sweep(cache, f"{name}-oracle", task, list(ORACLE))
    scores = best_accuracy(oracle)
    oracle_cost = len(ORACLE) * task.epochs
    print(f"{name}: oracle trained ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    picks = cached_picks(cache / f"{name}-picks.json", task, redo)
    scores |= scored(cache, name, task, [p.lr for p in picks if p.lr is not None
                                         and math.isfinite(p.lr) and p.lr not in scores
                                         and not p.schedule])
    scheduled = {}
    for p in picks:
        if p.schedule and p.lr is not None and math.isfinite(p.lr):
            key = f"{name}-sched-{p.lr:.6g}-{p.schedule.replace(':', '_')}"
            run = cached_sweep(cache, key, task, [p.lr], p.schedule)
            scheduled[p.finder] = next(iter(best_accuracy(run).values()))
    best_lr = max(ORACLE, key=lambda lr: np.nan_to_num(scores[lr], nan=-1.0))
    top = scores[best_lr]
    worst = min(np.nan_to_num(scores[lr], nan=0.0) for lr in ORACLE)
    rows = []
    for p in picks:
        if p.lr is None:
            score = p.score
        elif p.finder in scheduled:
            score = float(np.nan_to_num(scheduled[p.finder], nan=0.0))
        elif not math.isfinite(p.lr):
            score = worst
        else:
            score = float(np.nan_to_num(scores[p.lr], nan=0.0))
        rows.append({"finder": p.finder, "lr": p.lr, "accuracy": score,
                     "regret": 100 * (top - score), "compute": p.compute / oracle_cost,
                     "seconds": p.seconds})
    print(f"{name}: done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return {"task": name, "epochs": task.epochs, "oracle_lr": best_lr, "oracle": top,
            "rows": rows}


# -- the report ----------------------------------------------------------------------------


def report(results: list[dict]) -> str:
    done = [r for r in results if "rows" in r]
    finders = list(dict.fromkeys(row["finder"] for r in done for row in r["rows"]))
    by = {(r["task"], row["finder"]): row for r in done for row in r["rows"]}
    headers = ["finder", *[f"{r['task']} regret" for r in done], "mean regret", "worst",
               "mean compute"]
    table = []
    for f in finders:
        cells = [by.get((r["task"], f)) for r in done]
        regrets = [c["regret"] for c in cells if c]
        computes = [c["compute"] for c in cells if c]
        table.append((np.mean(regrets), f, [
            f"**{f}**" if f == DEFAULT else f,
            *[f"{c['regret']:.1f} ({_lr(c['lr'])})" if c else "—" for c in cells],
            f"{np.mean(regrets):.2f}", f"{max(regrets):.1f}", f"{100 * np.mean(computes):.1f}%"]))
    table.sort(key=lambda t: t[0])
    oracle_rows = [[r["task"], str(r["epochs"]), _lr(r["oracle_lr"]), f"{100 * r['oracle']:.2f}%"]
                   for r in done]
    skipped = [f"{r['task']} ({r['skipped']})" for r in results if "skipped" in r]
    default_rows = [by[(r["task"], DEFAULT)] for r in done if (r["task"], DEFAULT) in by]
    misses = [f"{r['task']} ({by[(r['task'], DEFAULT)]['regret']:.1f} points, "
              f"{100 * by[(r['task'], DEFAULT)]['compute']:.1f}% compute)"
              for r in done if (r["task"], DEFAULT) in by
              and (by[(r["task"], DEFAULT)]["regret"] > 1.0
                   or by[(r["task"], DEFAULT)]["compute"] > 0.10)]
    ranked_first = bool(table) and table[0][1] == DEFAULT
    verdict = (
        "Target (the default within 1 point of the oracle on every task at <= 10% of its "
        "compute, and the lowest mean regret): "
        + ("**met**" if not misses and ranked_first and default_rows else "**missed**")
        + (f"; misses: {', '.join(misses)}" if misses else "")
        + ("" if ranked_first else f"; lowest mean regret: {table[0][1]}" if table else ""))
    return "\n\n".join([
        "## Finder quality: regret against an oracle grid",
        f"Command: `{command_line()}`  \nMachine: {machine()}  \nRun: {now()}",
        (f"Oracle: {len(ORACLE)} rates ({_lr(ORACLE[0])} to {_lr(ORACLE[-1])}, thirds of a "
        "decade), plain SGD, each task's full epochs, scored by best validation accuracy."),
        markdown_table(["task", "epochs", "oracle rate", "oracle accuracy"], oracle_rows),
        ("Regret in accuracy points (the rate picked in brackets; `—` where no rate: scored "
        "as the grid's worst rate), compute as a share of the oracle's member-epochs. Sorted "
        "by mean regret."),
        markdown_table(headers, [row for _, _, row in table]),
        verdict,
        *([f"Skipped (no data here): {', '.join(skipped)}."] if skipped else []),
    ])


def _lr(value: float | None) -> str:
    if value is None:
        return "own"
    return "none" if not math.isfinite(value) else f"{value:.3g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache/finder_quality"))
    parser.add_argument("--fresh", action="store_true", help="ignore the cache")
    parser.add_argument("--redo", help="run again the finders whose name contains one of these (comma list)")
    parser.add_argument("--size", help="TASK=N,...: train on N examples of TASK (cost)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.fresh and args.cache.exists():
        import shutil

        shutil.rmtree(args.cache)
    args.cache.mkdir(parents=True, exist_ok=True)
    sizes = dict(item.split("=") for item in args.size.split(",")) if args.size else {}
    results = [run_task(name, args.data_dir, args.cache, args.redo,
                        int(sizes[name]) if name in sizes else None)
               for name in args.tasks.split(",")]
    (args.cache / "results.json").write_text(json.dumps(results, indent=1, default=float))
    text = report(results)
    print(text)
    if args.write:
        write_section(args.write, "finder_quality", text)


if __name__ == "__main__":
    main()
