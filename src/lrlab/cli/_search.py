"""``lrlab auto``, ``grid``, ``fastest`` and ``halving``: the population searches.

Each command is one call of the procedure in :mod:`lrlab.search`; it prints each
population's table (``print_result``), the procedure's own table, the verdict and why, and
with ``--out DIR`` writes ``DIR/stage1``, ``DIR/stage2``, ... (one per population, via
``SweepResult.save``), ``DIR/confirm`` and ``DIR/search.json``. The options shared with
``sweep`` come from :mod:`lrlab.cli._options`; :mod:`lrlab.cli` registers the commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.cli._options import (
    RULE_OPTIONS,
    check_out,
    check_tensorboard,
    load_task,
    parse_hparams,
    parse_subset,
    with_options,
    write_tensorboard,
)

__all__ = ["auto", "fastest", "grid", "halving"]

#: The ``sweep`` options a search takes (it sets rates, seeds and schedules itself).
_SHARED = ("task", "task_opt", "epochs", "batch_size", "optimizer", *RULE_OPTIONS, "hp", "seed",
           "subset", "data_dir", "download", "device", "dtype", "out", "fmt", "quiet", "report",
           "tensorboard", "db", "study")


def _search_command(subset_help: str | None = None):
    """A click command with the shared options in front of its own, plus ``--confirm``."""
    def wrap(fn: Callable[..., None]) -> click.Command:
        fn = click.option("--confirm", is_flag=True,
                          help="train the chosen rate on all the data for the full epochs")(fn)
        command = click.command()(with_options(*_SHARED)(fn))
        for param in command.params:  # each command gets its own Option objects
            if param.name == "subset" and subset_help:
                param.help = subset_help
        return command
    return wrap


def _task(kw: dict[str, Any]):
    """Pop the task options and load the task (checks as ``sweep`` does them)."""
    return load_task(kw.pop("task"), kw.pop("task_opt"), data_dir=kw.pop("data_dir"),
                     download=kw.pop("download"))


def _settings(kw: dict[str, Any]) -> dict[str, Any]:
    """The remaining click values as the procedure's keyword arguments."""
    hparams = parse_hparams(kw.pop("hp"), **{k: kw.pop(k) for k in RULE_OPTIONS})
    subset = parse_subset(kw.pop("subset"))
    return {**kw, "subset": subset, **({"hparams": hparams} if hparams else {})}


def _run(procedure: Callable[..., Any], kw: dict[str, Any], *,
         default_subset: float | None = None, **args: Any) -> None:
    """Check every option, run ``procedure``, print, and write ``--out``."""
    from lrlab.cli._display import progress_bar
    from lrlab.cli._report import check_report, write_run_report
    from lrlab.cli._store import open_store, store_search, task_spec

    out, fmt, quiet, report = kw.pop("out"), kw.pop("fmt"), kw.pop("quiet"), kw.pop("report")
    db, study, tensorboard = kw.pop("db"), kw.pop("study"), kw.pop("tensorboard")
    check_out(out, fmt)
    check_report(report)
    check_tensorboard(tensorboard)
    spec = task_spec(kw["task"], kw["task_opt"], data_dir=kw["data_dir"],
                     download=kw["download"], subset=kw["subset"], seed=kw["seed"])
    open_store(db)  # a database that is not lrlab's: refused before any training
    settings = _settings(kw)
    if settings["subset"] is None:
        settings["subset"] = default_subset
    task = _task(settings)
    with progress_bar(task.name, task.monitor, task.higher_is_better, quiet=quiet) as callbacks:
        result = procedure(task, callbacks=callbacks, **args, **settings)
    _show(result)
    store_search(result, command=procedure.__name__, spec=spec, db=db, study=study, quiet=quiet)
    if out is not None:
        _save(result, out, fmt)
        print(f"search records written to {out}/", file=sys.stderr)
    write_run_report(result, report)
    write_tensorboard(result, tensorboard)


def _show(result: Any) -> None:
    """Each population's table, the procedure's own table, then the verdict and why."""
    from lrlab.cli._display import print_result, stdout
    from lrlab.search import FastestResult, HalvingResult

    if isinstance(result, FastestResult):
        stdout.print(_table("phase 1: training SSE summed over one epoch", result.sse,
                            ["lr", "sse", "diverged", "status"]))
        stdout.print(_table("phase 2: stopped by validation accuracy", result.phase2,
                            ["lr", "best_accuracy", "best_epoch", "stopped_epoch",
                             "population", "walked"]))
    elif isinstance(result, HalvingResult):
        stdout.print(_table(f"halvings: {result.steps} steps on {result.examples} examples",
                            result.rates, ["lr", "start_loss", "end_loss", "frozen",
                                           "diverged"]))
    else:
        for population in result.evidence:
            print_result(population)
    if result.confirmation is not None:
        print_result(result.confirmation)
    stdout.print(result.verdict(), soft_wrap=True)
    stdout.print(f"why: {result.explanation}", soft_wrap=True)
    stdout.print(f"compute: {result.compute:.4g} member-epochs", soft_wrap=True)


def _table(title: str, frame: Any, columns: list[str]) -> Table:
    from lrlab.cli._display import _fmt

    table = Table(title=title)
    for name in columns:
        table.add_column(name.replace("_", " "), justify="left" if name == "status" else "right")
    for row in frame[columns].itertuples(index=False):
        table.add_row(*(_fmt(v) if not isinstance(v, str) else v for v in row))
    return table


def _save(result: Any, out: Path, fmt: str) -> None:
    """``stage1``, ``stage2``, ... (each population), ``confirm``, and ``search.json``."""
    for i, population in enumerate(result.evidence, start=1):
        population.save(out / f"stage{i}", format=fmt)
    if result.confirmation is not None:
        result.confirmation.save(out / "confirm", format=fmt)
    atomic_write(out / "search.json",
                 lambda p: p.write_text(json.dumps(result.to_dict(), indent=2) + "\n"))


@_search_command()
@click.option("--lrs", help="rates: a comma list (1,0.1,0.01) or logspace:LO:HI:N "
                            "[default: 1,0.1,0.01,0.001]")
@click.option("--coarse-to-fine", "coarse", is_flag=True,
              help="whole decades from --lo to --hi, then --fine rates inside the best one")
@click.option("--lo", type=float, help="smallest decade (--coarse-to-fine) [default: 1e-7]")
@click.option("--hi", type=float, help="largest decade (--coarse-to-fine) [default: 1]")
@click.option("--fine", type=int, help="rates inside the best decade [default: 5]")
def grid(lrs: str | None, coarse: bool, lo: float | None, hi: float | None,
         fine: int | None, **kw: Any) -> None:
    """Grid search on the validation set, or coarse to fine (--coarse-to-fine)."""
    from lrlab.search import coarse_to_fine
    from lrlab.search import grid as grid_search
    from lrlab.train import parse_lrs

    given = {k: v for k, v in (("lo", lo), ("hi", hi), ("fine", fine)) if v is not None}
    if coarse:
        if lrs is not None:
            raise LrlabError("--lrs and --coarse-to-fine exclude each other; --coarse-to-fine "
                             "takes --lo, --hi and --fine")
        _run(coarse_to_fine, kw, **given)
        return
    if given:
        raise LrlabError(f"--{next(iter(given))} goes with --coarse-to-fine; for a plain grid "
                         "give --lrs")
    _run(grid_search, kw, lrs=parse_lrs(lrs or "1,0.1,0.01,0.001"))


@_search_command()
@click.option("--lrs", help="phase-1 rates of widely different magnitudes "
                            "[default: 10,1,0.1,0.01,0.001,1e-4,1e-5]")
@click.option("--factor", type=float, help="ratio of successive phase-2 rates, in (0, 1) "
                                           "[default: 1/sqrt(10) = 0.316]")
@click.option("--patience", type=int, default=10, show_default=True,
              help="epochs without a rise in validation accuracy before a run stops")
@click.option("--max-epochs", type=int, help="longest phase-2 run [default: --epochs]")
@click.option("--parallel", type=int, default=3, show_default=True,
              help="phase-2 rates trained at once as one population")
def fastest(lrs: str | None, factor: float | None, **kw: Any) -> None:
    """Wilson & Martinez: the fastest rate by one-epoch SSE, then slower while it pays."""
    from lrlab.search import fastest as fastest_search
    from lrlab.train import parse_lrs

    args = {"patience": kw.pop("patience"), "max_epochs": kw.pop("max_epochs"),
            "parallel": kw.pop("parallel")}
    if lrs is not None:
        args["lrs"] = parse_lrs(lrs)
    if factor is not None:
        args["factor"] = factor
    _run(fastest_search, kw, **args)


@_search_command("search on a stratified subset of the training data: a count (500) or a "
                 "fraction (0.1)  [default: 0.1]")
@click.option("--start", type=float, default=10.0, show_default=True, help="the first rate")
@click.option("--min-lr", type=float, default=1e-7, show_default=True,
              help="the smallest halving")
@click.option("--iterations", type=int, default=50, show_default=True,
              help="training steps per rate")
@click.option("--decay", type=float, default=100.0, show_default=True,
              help="total decay of the proposed schedule over --epochs")
@click.option("--progress", type=float, default=0.5, show_default=True,
              help="a rate whose loss falls by less than this share of the largest fall "
                   "counts as diverging")
def halving(**kw: Any) -> None:
    """cs231n: start large, halve until the loss no longer diverges; propose a decay."""
    from lrlab.search import halving as halving_search

    args = {k: kw.pop(k) for k in ("start", "min_lr", "iterations", "decay", "progress")}
    _run(halving_search, kw, default_subset=0.1, **args)


@_search_command()
@click.option("--budget", type=float, default=0.15, show_default=True,
              help="each candidate's training as a share of a full training")
@click.option("--candidates", type=int, default=6, show_default=True,
              help="rates raced, half a decade apart")
@click.option("--seeds", "range_seeds", type=int,
              help="range tests that place the candidates, read on their median "
                   "[default: up to 3, at most a third of the race's cost]")
@click.option("--refine/--no-refine", default=True, show_default=True,
              help="race two more rates a quarter decade either side of the winner")
def auto(**kw: Any) -> None:
    """lrlab's default: a range test places the candidates, a short race picks the rate."""
    from lrlab.search import auto as auto_search

    args = {"budget": kw.pop("budget"), "candidates": kw.pop("candidates"),
            "seeds": kw.pop("range_seeds"), "refine": kw.pop("refine")}
    _run(auto_search, kw, **args)
