"""``lrlab auto``, ``grid``, ``coarse-to-fine``, ``fastest``, ``halving`` and ``probe``: the
population searches.

Each command is one call of the procedure in :mod:`lrlab.search`; it prints each
population's table (``print_result``), the procedure's own table, the verdict and why, and
with ``--out DIR`` writes ``DIR/stage1``, ``DIR/stage2``, ... (one per population, via
``SweepResult.save``), ``DIR/confirm`` and ``DIR/search.json``. The options shared with
``sweep`` come from :mod:`lrlab.cli._options`; :mod:`lrlab.cli` registers the commands.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.cli._bundles import (
    OutputOptions,
    StoreOptions,
    TaskOptions,
    TrainOptions,
    output_options,
    store_options,
    task_options,
    train_options,
)
from lrlab.cli._command import Command
from lrlab.cli._options import (
    LibraryDefault,
    Rates,
    ScheduleText,
    as_flags,
    choose_threads,
    parse_subset,
)

__all__ = ["auto", "coarse_to_fine", "fastest", "grid", "halving", "probe"]


def _search_command(procedure: str, name: str | None = None, *, monitor: bool = True):
    """A click command running ``lrlab.search.<procedure>``: the task, training, output and
    store bundles, ``--confirm``, and the command's own options (``_option``), handed to it
    as ``own``: the ones given, by the procedure's parameter names. Their defaults (and that
    of ``--subset``) are the procedure's (see :class:`~lrlab.cli._options.LibraryDefault`).
    ``monitor``: the procedure ranks by the task's metric, so ``--monitor`` chooses it
    (``fastest`` stops by accuracy, or loss, as its paper does; ``halving`` reads the
    training loss; the probe trains Prodigy alone)."""
    def wrap(fn: Callable[..., None]) -> click.Command:
        fn = click.option("--confirm", is_flag=True,
                          help="train the chosen rate on all the data for the full epochs")(fn)
        for bundle in (store_options(checkpoints=False), output_options, train_options,
                       task_options(monitor=monitor)):
            fn = bundle(fn)
        command = click.command(name, cls=Command)(fn)
        own = [p for p in command.params if isinstance(p, _Own)]
        for param in command.params:  # the procedure's defaults, shown in --help
            if isinstance(param, LibraryDefault) and param.library is None:
                param.library = f"lrlab.search:{procedure}"
            if param.name == "subset":
                param.help = "search on a stratified subset of the training data: a count " \
                             "(500) or a fraction (0.1)"
        bundles = command.callback

        @functools.wraps(bundles)
        def callback(**kw: Any) -> None:
            values = {p.param: kw.pop(p.name) for p in own}
            bundles(**kw, own={k: v for k, v in values.items() if v is not None})

        command.callback = callback
        return command
    return wrap


def _run(procedure: Callable[..., Any], task: TaskOptions, training: TrainOptions,
         output: OutputOptions, store: StoreOptions, *, confirm: bool, **args: Any) -> None:
    """Check every option, run ``procedure``, print, and write ``--out``."""
    from lrlab.cli._display import progress_bar
    from lrlab.cli._store import open_store, store_search

    output.check()
    open_store(store.db)  # a database that is not lrlab's: refused before any training
    subset = parse_subset(task.subset)
    data = task.load(subset=False)
    choose_threads(data, 8, training.batch_size)  # a search's populations: a few rates each
    settings = {**training.settings(), "seed": task.seed, "confirm": confirm,
                **({} if subset is None else {"subset": subset})}
    with progress_bar(data.name, data.monitor, data.higher_is_better,
                      quiet=output.quiet) as callbacks:
        result = procedure(data, callbacks=callbacks, **args, **settings)
    _show(result)
    store_search(result, command=procedure.__name__, spec=task.spec(), db=store.db,
                 study=store.study, quiet=output.quiet)
    output.write(result, lambda out, fmt: _save(result, out, fmt), what="search records")


def _show(result: Any) -> None:
    """Each population's table, the procedure's own table, then the verdict and why."""
    from lrlab.cli._display import print_result, stdout
    from lrlab.search import FastestResult, HalvingResult

    if isinstance(result, FastestResult):
        _table("phase 1: training SSE summed over one epoch", result.sse,
               ["lr", "sse", "diverged", "status"])
        metric = "accuracy" if "best_accuracy" in result.phase2 else "loss"
        _table(f"phase 2: stopped by validation {metric}", result.phase2,
               ["lr", f"best_{metric}", "best_epoch", "stopped_epoch", "population", "walked"])
    elif isinstance(result, HalvingResult):
        _table(f"halvings: {result.steps} steps on {result.examples} examples", result.rates,
               ["lr", "start_loss", "end_loss", "frozen", "diverged"])
    else:  # a stage's number only where there are several (grid trains one population)
        n = len(result.evidence)
        for i, population in enumerate(result.evidence, 1):
            print_result(population, f"stage {i} of {n}" if n > 1 else "", stage=n > 1)
    if result.confirmation is not None:
        print_result(result.confirmation, "confirm: all the data, the full epochs")
    stdout.print(as_flags(result.verdict()), soft_wrap=True)
    for line in result.warnings:
        stdout.print(f"warning: {as_flags(line)}", soft_wrap=True, markup=False)
    if result.next_step:
        stdout.print(f"next: {as_flags(result.next_step)}", soft_wrap=True, markup=False)
    stdout.print(f"why: {as_flags(result.explanation)}", soft_wrap=True)
    stdout.print(f"compute: {result.compute:.4g} member-epochs", soft_wrap=True)


def _table(title: str, frame: Any, columns: list[str]) -> None:
    """A procedure's own table at the terminal's width (see :mod:`lrlab.cli._tables`)."""
    from lrlab.cli._display import stdout
    from lrlab.cli._tables import print_frame

    print_frame(stdout, frame[columns], title)


def _save(result: Any, out: Path, fmt: str) -> None:
    """``stage1``, ``stage2``, ... (each population), ``confirm``, and ``search.json``."""
    for i, population in enumerate(result.evidence, start=1):
        population.save(out / f"stage{i}", format=fmt)
    if result.confirmation is not None:
        result.confirmation.save(out / "confirm", format=fmt)
    atomic_write(out / "search.json",
                 lambda p: p.write_text(json.dumps(result.to_dict(), indent=2) + "\n"))


class _Own(LibraryDefault):
    """One of a procedure's own options (the command receives the given ones as ``own``)."""


class _Count(click.ParamType):
    """``auto --seeds N``: a number of range tests, where ``find`` and ``sweep`` take a list."""

    name = "count"

    def convert(self, value, param, ctx):
        try:
            return value if isinstance(value, int) else int(value)
        except ValueError:
            self.fail(f"{value!r} is not a count: auto runs N range tests from --seed on "
                      "(--seeds 3), where find and sweep take a list (0,1,2)", param, ctx)


def _option(*names: str, **kwargs: Any):
    """One of a procedure's own options, its default the procedure's."""
    return click.option(*names, cls=_Own, **kwargs)


@_search_command("grid")
@click.option("--lrs", default="1,0.1,0.01,0.001", show_default=True,
              help="rates: a comma list (1,0.1,0.01), logspace:LO:HI:N or linspace:LO:HI:N")
@click.option("--coarse-to-fine", "coarse", is_flag=True, hidden=True,
              help="deprecated: lrlab coarse-to-fine")
@_option("--lo", type=float, hidden=True, library="lrlab.search:coarse_to_fine")
@_option("--hi", type=float, hidden=True, library="lrlab.search:coarse_to_fine")
@_option("--fine", type=int, hidden=True, library="lrlab.search:coarse_to_fine")
def grid(lrs: str, coarse: bool, own: dict[str, Any], **kw: Any) -> None:
    """Grid search on the validation set: every rate as one population."""
    from lrlab.search import coarse_to_fine as coarse_to_fine_search
    from lrlab.search import grid as grid_search
    from lrlab.train import parse_lrs

    if coarse:  # the old spelling of `lrlab coarse-to-fine`, said after the run
        if click.get_current_context().get_parameter_source("lrs").name != "DEFAULT":
            raise LrlabError("--lrs and --coarse-to-fine exclude each other; --coarse-to-fine "
                             "takes --lo, --hi and --fine")
        _run(coarse_to_fine_search, **kw, **own)
        click.echo("note: `lrlab grid --coarse-to-fine` is deprecated; it is `lrlab "
                   "coarse-to-fine` (same options)", err=True)
        return
    if own:
        raise LrlabError(f"--{next(iter(own))} goes with coarse to fine (lrlab "
                         "coarse-to-fine); for a plain grid give --lrs")
    _run(grid_search, **kw, lrs=parse_lrs(lrs))


@_search_command("coarse_to_fine", "coarse-to-fine")
@_option("--lo", type=float, help="the smallest decade")
@_option("--hi", type=float, help="the largest decade")
@_option("--fine", type=int, help="rates inside the best decade (2 to 25)")
def coarse_to_fine(own: dict[str, Any], **kw: Any) -> None:
    """Coarse to fine: whole decades from --lo to --hi, then --fine rates inside the best."""
    from lrlab.search import coarse_to_fine as coarse_to_fine_search

    _run(coarse_to_fine_search, **kw, **own)


@_search_command("fastest", monitor=False)
@_option("--lrs", type=Rates(), help="phase-1 rates of widely different magnitudes")
@_option("--factor", type=float, help="ratio of successive phase-2 rates, in (0, 1)")
@_option("--patience", type=int,
         help="epochs without a rise in validation accuracy before a run stops")
@_option("--max-epochs", type=int, help="longest phase-2 run [default: --epochs]")
@_option("--parallel", type=int, help="phase-2 rates trained at once as one population")
def fastest(own: dict[str, Any], **kw: Any) -> None:
    """Wilson & Martinez: the fastest rate by one-epoch SSE, then slower while it pays."""
    from lrlab.search import fastest as fastest_search

    _run(fastest_search, **kw, **own)


@_search_command("halving", monitor=False)
@_option("--start", type=float, help="the first rate")
@_option("--min-lr", type=float, help="the smallest halving")
@_option("--iterations", type=int, help="training steps per rate")
@_option("--decay", type=float, help="total decay of the proposed schedule over --epochs")
@_option("--progress", type=float,
         help="a rate whose loss falls by less than this share of the largest fall counts as "
              "diverging")
def halving(own: dict[str, Any], **kw: Any) -> None:
    """cs231n: start large, halve until the loss no longer diverges; propose a decay."""
    from lrlab.search import halving as halving_search

    _run(halving_search, **kw, **own)


@_search_command("auto")
@_option("--budget", type=float, help="each candidate's training as a share of a full training")
@_option("--candidates", type=int, help="rates raced, half a decade apart")
@_option("--seeds", "range_seeds", type=_Count(), param="seeds", metavar="N",
         help="how many range tests (from --seed on) place the candidates, read on their "
              "median [default: up to 3, at most a quarter of the race's cost]")
@_option("--refine/--no-refine", default=None,
         help="race two more rates a quarter decade either side of the pick")
@_option("--check/--no-check", default=None,
         help="race the pick and the next lower rate again from another seed; keep the lower "
              "if the pick falls behind it by more than the noise, or on both seeds while "
              "gaining no faster")
@_option("--schedule", type=ScheduleText(),
         help="the schedule you will train with (keys: lrlab list schedules; one, where sweep "
              "takes several side by side): the races train its start as your training "
              "will, warm-up included, and the rate found is its peak "
              "[default: a constant rate]")
def auto(own: dict[str, Any], **kw: Any) -> None:
    """lrlab's default: a range test places the candidates, a short race picks the rate."""
    from lrlab.search import auto as auto_search

    _run(auto_search, **kw, **own)


@_search_command("prodigy_probe", "probe", monitor=False)
@_option("--probe-epochs", type=int, help="epochs Prodigy runs before its estimate is read")
@_option("--for", "target", type=click.Choice(["adam", "adamw"]), param="optimizer",
         help="the rule the estimate is a rate for")
def probe(own: dict[str, Any], training: TrainOptions, **kw: Any) -> None:
    """Prodigy's probe: run Prodigy briefly, hand its step-size estimate to Adam."""
    from lrlab.search import prodigy_probe

    if training.optimizer is not None:
        raise LrlabError("the probe's rate is for Adam: choose it with --for adam|adamw, not "
                         "--optimizer")
    _run(prodigy_probe, training=training, **kw, **own)


#: The rates a search chooses itself: what a user who gives --lrs (or --lr) is told.
_OWN_RATES = {"auto": "it places its own rates with a range test",
              "coarse-to-fine": "it tries whole decades from --lo to --hi, then rates inside "
                                "the best",
              "halving": "it starts at --start and halves the rate",
              "probe": "Prodigy sets its own step size"}
#: What a search given --seeds (a sweep's rates x seeds) is told: it trains from one seed.
_ONE_SEED = ("a search trains each rate from one seed (--seed N); to cross rates with seeds "
             "and rank them by their mean, give them to lrlab sweep TASK --lrs A,B --seeds 0,1,2")
for _command in (auto, coarse_to_fine, halving, probe):
    _command.instead = {flag: f"{_OWN_RATES[_command.name]}; to train rates you choose, give "
                              "them to lrlab grid TASK --lrs A,B,C" for flag in ("--lr", "--lrs")}
for _command in (grid, coarse_to_fine, fastest, halving, probe):
    _command.instead = {**_command.instead, "--seeds": _ONE_SEED}

