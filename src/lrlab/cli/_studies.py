"""The study commands: ``lrlab cooldown TASK`` (a forked cooldown sweep), ``lrlab race
TASK`` (update rules racing in one population), ``lrlab scaling TASK`` (batch size and
the rate) and ``lrlab width TASK`` (SP against muP)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from lrlab._errors import LrlabError
from lrlab.cli._options import (
    RULE_OPTIONS,
    check_out,
    load_task,
    parse_hparams,
    parse_seeds,
    with_options,
)
from lrlab.cli._report import check_report

__all__ = ["cooldown_command", "parse_fractions", "race_command", "scaling_command",
           "width_command"]

_STUDY = ("task", "task_opt", "epochs", "batch_size", "optimizer", *RULE_OPTIONS, "hp", "seeds",
          "seed", "data_dir", "download", "device", "dtype", "out", "quiet", "report")


def parse_fractions(text: str, option: str) -> list[float]:
    """``"0.7,0.8"`` as numbers, or one line naming the option."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise LrlabError(f"cannot read {option} {text!r}; give a comma list of fractions of "
                         "training, e.g. 0.7,0.8,0.9") from None


@click.command("cooldown")
@with_options(*_STUDY)
@click.option("--lr", type=float, required=True, help="the rate of the stable phase")
@click.option("--at", "at", default="0.7,0.8,0.9", show_default=True,
              help="where each cooldown starts, as fractions of training")
@click.option("--shapes", default="linear,1-sqrt", show_default=True,
              help="cooldown shapes: linear, cosine, 1-sqrt")
def cooldown_command(task: str | None, lr: float, at: str, shapes: str, **kw: Any) -> None:
    """Train the constant phase once, fork one cooldown per fork point and shape, judge."""
    from lrlab.cli._display import progress_bar
    from lrlab.studies import cooldown

    out, quiet, report = kw.pop("out"), kw.pop("quiet"), kw.pop("report")
    check_out(out)
    check_report(report)
    hparams = parse_hparams(kw.pop("hp"), **{k: kw.pop(k) for k in RULE_OPTIONS})
    seeds = parse_seeds(kw.pop("seeds"))
    data = load_task(task, kw.pop("task_opt"), data_dir=kw.pop("data_dir"),
                     download=kw.pop("download"))
    points = parse_fractions(at, "--at")
    with progress_bar(data.name, data.monitor, data.higher_is_better, quiet=quiet) as callbacks:
        result = cooldown(data, lr=lr, at=points, shapes=[s.strip() for s in shapes.split(",")],
                          callbacks=callbacks, hparams=hparams, seeds=seeds, **kw)
    _show_study(result, [("per schedule (mean over seeds)", result.table())], out, report)


_RACE = ("task", "task_opt", "epochs", "batch_size", "seeds", "seed", "data_dir", "download",
         "device", "dtype", "out", "quiet", "report")


@click.command("race")
@with_options(*_RACE)
@click.option("--rule", "rules", multiple=True, required=True,
              help="a rule and its rates, NAME[:lr=A/B/C,key=value] (repeat; prodigy, "
                   "dadapt_adam and dog default to lr=1)")
def race_command(task: str | None, rules: tuple[str, ...], **kw: Any) -> None:
    """Race update rules in one population: tuned SGD or Adam against learning-rate-free."""
    from lrlab.cli._display import progress_bar
    from lrlab.studies import race

    out, quiet, report = kw.pop("out"), kw.pop("quiet"), kw.pop("report")
    check_out(out)
    check_report(report)
    seeds = parse_seeds(kw.pop("seeds"))
    data = load_task(task, kw.pop("task_opt"), data_dir=kw.pop("data_dir"),
                     download=kw.pop("download"))
    with progress_bar(data.name, data.monitor, data.higher_is_better, quiet=quiet) as callbacks:
        result = race(data, list(rules), callbacks=callbacks, seeds=seeds, **kw)
    _show_study(result, [("per rule, at its best rate", result.table())], out, report)


def _show_study(result: Any, tables: list, out: Path | None, report: Path | None) -> None:
    """Print a study's tables and verdict, then write ``--out`` and ``--report``."""
    from lrlab.cli._report import _print_tables
    from lrlab.reproduce import claims_frame

    _print_tables([*tables, ("claims, judged from the records", claims_frame(result.claims()))])
    print(result.verdict())
    if out is not None:
        result.save(out)
        print(f"records written to {out}/", file=sys.stderr)
    if report is not None:
        result.write_report(Path(report))
        print(f"report written to {report}", file=sys.stderr)


@click.command("scaling")
@with_options(*(n for n in _STUDY if n != "batch_size"), "lrs")
@click.option("--batch-sizes", default="32,64,128,256", show_default=True,
              help="batch sizes, a comma list (two or more)")
def scaling_command(task: str | None, lrs: str, batch_sizes: str, **kw: Any) -> None:
    """The best rate per batch size, its fitted exponent, and the linear or square-root rule."""
    from lrlab.cli._display import progress_bar
    from lrlab.studies import scaling
    from lrlab.train import parse_lrs

    out, quiet, report = kw.pop("out"), kw.pop("quiet"), kw.pop("report")
    check_out(out)
    check_report(report)
    hparams = parse_hparams(kw.pop("hp"), **{k: kw.pop(k) for k in RULE_OPTIONS})
    seeds = parse_seeds(kw.pop("seeds"))
    sizes = _whole_numbers(batch_sizes, "--batch-sizes")
    data = load_task(task, kw.pop("task_opt"), data_dir=kw.pop("data_dir"),
                     download=kw.pop("download"))
    with progress_bar(data.name, data.monitor, data.higher_is_better, quiet=quiet) as callbacks:
        result = scaling(data, batch_sizes=sizes, lrs=parse_lrs(lrs), callbacks=callbacks,
                         hparams=hparams, seeds=seeds, **kw)
    _show_study(result, [("per batch size", result.table())], out, report)


def _whole_numbers(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise LrlabError(f"cannot read {option} {text!r}; give whole numbers, e.g. "
                         "32,64,128") from None


@click.command("width")
@with_options(*(n for n in _STUDY if n != "optimizer"), "lrs")
@click.option("--widths", default="64,128,256,512", show_default=True,
              help="hidden widths of the study's MLP, a comma list (two or more)")
@click.option("--optimizer", default="adam", show_default=True,
              help="an Adam-like (adam, adamw, rmsprop, adagrad) or SGD-like (sgd, momentum, "
                   "nesterov) rule")
@click.option("--coord-lr", type=float, help="the coordinate check's rate [default: the "
                                              "middle of --lrs]")
def width_command(task: str | None, lrs: str, widths: str, optimizer: str,
                  coord_lr: float | None, **kw: Any) -> None:
    """The rate against the width under SP and muP: the optimum's drift, a coordinate check."""
    from lrlab.cli._display import progress_bar
    from lrlab.studies import width
    from lrlab.train import parse_lrs

    out, quiet, report = kw.pop("out"), kw.pop("quiet"), kw.pop("report")
    check_out(out)
    check_report(report)
    hparams = parse_hparams(kw.pop("hp"), **{k: kw.pop(k) for k in RULE_OPTIONS})
    seeds = parse_seeds(kw.pop("seeds"))
    sizes = _whole_numbers(widths, "--widths")
    data = load_task(task, kw.pop("task_opt"), data_dir=kw.pop("data_dir"),
                     download=kw.pop("download"))
    with progress_bar(data.name, data.monitor, data.higher_is_better, quiet=quiet) as callbacks:
        result = width(data, widths=sizes, lrs=parse_lrs(lrs), optimizer=optimizer,
                       coord_lr=coord_lr, callbacks=callbacks, hparams=hparams, seeds=seeds,
                       **kw)
    _show_study(result, [("per parametrisation and width", result.table())], out, report)
