"""The study commands: ``lrlab cooldown TASK`` (a forked cooldown sweep), ``lrlab race
TASK`` (update rules racing in one population), ``lrlab scaling TASK`` (batch size and
the rate) and ``lrlab width TASK`` (SP against muP).

Each is one call of the study in :mod:`lrlab.studies` over the option bundles; it prints
the study's table, its claims and its verdict, and writes ``--out`` (the study's ``save``)
and ``--report`` (its ``write_report``).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from lrlab._errors import LrlabError, ResultWarning
from lrlab.cli._bundles import (
    MemberOptions,
    OutputOptions,
    TaskOptions,
    TrainOptions,
    member_options,
    output_options,
    task_options,
    train_options,
)
from lrlab.cli._command import Command
from lrlab.cli._options import as_flags, parse_seeds, with_options

__all__ = ["cooldown_command", "parse_fractions", "race_command", "scaling_command",
           "width_command"]


def parse_fractions(text: str, option: str) -> list[float]:
    """``"0.7,0.8"`` as numbers, or one line naming the option."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise LrlabError(f"cannot read {option} {text!r}; give a comma list of fractions of "
                         "training, e.g. 0.7,0.8,0.9") from None


def _whole_numbers(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise LrlabError(f"cannot read {option} {text!r}; give whole numbers, e.g. "
                         "32,64,128") from None


def _study(fn):
    """The bundles every study takes: the task (no subset), training and output."""
    for bundle in (output_options, train_options, task_options(subset=False)):
        fn = bundle(fn)
    return fn


def _checked(output: OutputOptions) -> None:
    output.check()
    if output.tensorboard is not None:
        raise LrlabError("--tensorboard is written by sweeps and searches, not by the study "
                         "commands; give --out or --report")


def _run(study: Any, task: TaskOptions, output: OutputOptions, tables: Any,
         **settings: Any) -> None:
    """Run ``study(data, callbacks=..., **settings)``, print its tables (``tables(result)``),
    claims and verdict, then its findings about them (:class:`~lrlab._errors.ResultWarning`, an
    optimum at an edge of the rates), then write ``--out`` and ``--report``."""
    from lrlab.cli._display import progress_bar
    from lrlab.cli._report import _print_tables
    from lrlab.reproduce import claims_frame

    data = task.load(subset=False)
    findings: list[str] = []
    with progress_bar(data.name, data.monitor, data.higher_is_better,
                      quiet=output.quiet) as callbacks, warnings.catch_warnings():
        said = warnings.showwarning

        def hold(message, category, *args, **kwargs) -> None:
            if issubclass(category, ResultWarning):  # about the tables: said after them
                findings.append(str(message).removeprefix("lrlab: "))
            else:
                said(message, category, *args, **kwargs)

        warnings.showwarning = hold
        result = study(data, callbacks=callbacks, seed=task.seed, **settings)
    _print_tables([*tables(result),
                   ("claims, judged from the records", claims_frame(result.claims()))])
    print(result.verdict())
    for line in findings:
        print(f"warning: {as_flags(line)}")
    if output.out is not None:
        result.save(output.out)
        print(f"records written to {output.out}/", file=sys.stderr)
    if output.report is not None:
        result.write_report(Path(output.report))
        print(f"report written to {output.report}", file=sys.stderr)


@click.command("cooldown", cls=Command)
@_study
@with_options("seeds")
@click.option("--lr", type=float, required=True, help="the rate of the stable phase")
@click.option("--at", "at", default="0.7,0.8,0.9", show_default=True,
              help="where each cooldown starts, as fractions of training")
@click.option("--shapes", default="linear,1-sqrt", show_default=True,
              help="cooldown shapes: linear, cosine, 1-sqrt")
def cooldown_command(lr: float, at: str, shapes: str, seeds: str | None, task: TaskOptions,
                     training: TrainOptions, output: OutputOptions) -> None:
    """Train the constant phase once, fork one cooldown per fork point and shape, judge."""
    from lrlab.studies import cooldown

    _checked(output)
    points = parse_fractions(at, "--at")
    _run(cooldown, task, output, lambda r: [("per schedule (mean over seeds)", r.table())],
         lr=lr, at=points, shapes=[s.strip() for s in shapes.split(",")],
         seeds=parse_seeds(seeds), **training.settings())


@click.command("race", cls=Command)
@_study
@with_options("seeds")
@click.option("--rule", "rules", multiple=True, required=True,
              help="a rule and its rates, NAME[:lr=A/B/C,key=value] (repeat; prodigy, "
                   "dadapt_adam and dog default to lr=1)")
def race_command(rules: tuple[str, ...], seeds: str | None, task: TaskOptions,
                 training: TrainOptions, output: OutputOptions) -> None:
    """Race update rules in one population: tuned SGD or Adam against learning-rate-free."""
    from lrlab.studies import race

    _checked(output)
    if training.optimizer is not None or training.hparams:
        raise LrlabError("each --rule names its rule and hyperparameters, e.g. "
                         "--rule adam:lr=0.01,beta2=0.99; drop --optimizer and --hp")
    _run(race, task, output, lambda r: [("per rule, at its best rate", r.table())],
         entries=list(rules), seeds=parse_seeds(seeds), **training.settings())


@click.command("scaling", cls=Command)
@_study
@member_options(variants=False)
@click.option("--batch-sizes", default="32,64,128,256", show_default=True,
              help="batch sizes, a comma list (two or more)")
def scaling_command(batch_sizes: str, task: TaskOptions, training: TrainOptions,
                    members: MemberOptions, output: OutputOptions) -> None:
    """The best rate per batch size, its fitted exponent, and the linear or square-root rule."""
    from lrlab.studies import scaling

    _checked(output)
    if training.batch_size is not None:
        raise LrlabError("scaling trains every --batch-sizes value; drop --batch-size")
    _run(scaling, task, output, lambda r: [("per batch size", r.table())],
         batch_sizes=_whole_numbers(batch_sizes, "--batch-sizes"), lrs=members.lrs,
         seeds=members.seeds, **training.settings())


@click.command("width", cls=Command)
@_study
@member_options(variants=False)
@click.option("--widths", default="64,128,256,512", show_default=True,
              help="hidden widths of the study's MLP, a comma list (two or more)")
@click.option("--coord-lr", type=float, help="the coordinate check's rate [default: the "
                                              "middle of --lrs]")
def width_command(widths: str, coord_lr: float | None, task: TaskOptions,
                  training: TrainOptions, members: MemberOptions,
                  output: OutputOptions) -> None:
    """The rate against the width under SP and muP: the optimum's drift, a coordinate check
    (--optimizer: an Adam-like or SGD-like rule)."""
    from lrlab.studies import width

    _checked(output)
    _run(width, task, output, lambda r: [("per parametrisation and width", r.table())],
         widths=_whole_numbers(widths, "--widths"), lrs=members.lrs, seeds=members.seeds,
         coord_lr=coord_lr, **training.settings())


for _param in width_command.params:  # its --optimizer defaults to the study's (adam)
    if _param.name == "optimizer":
        _param.library = "lrlab.studies:width"
