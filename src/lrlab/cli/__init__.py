"""The ``lrlab`` command: a thin layer over the public API.

``main(argv)`` runs in-process (tests call it); every bad input ends as one ``error:`` line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import click

from lrlab._errors import LrlabError
from lrlab.cli._find import find
from lrlab.cli._options import (
    RULE_OPTIONS,
    check_out,
    check_tensorboard,
    load_task,
    parse_hparams,
    parse_seeds,
    parse_subset,
    with_options,
)
from lrlab.cli._playground import playground
from lrlab.cli._report import check_report, learning_curve_command, report, write_run_report
from lrlab.cli._reproduce import reproduce
from lrlab.cli._schedule import schedule
from lrlab.cli._search import auto, fastest, grid, halving
from lrlab.cli._store import export, ls, resume, show

__all__ = ["app", "entry", "main"]

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lrlab")
def app() -> None:
    """Find, schedule and study the learning rate of PyTorch networks."""


_SWEEP = ("task", "lrs", "task_opt", "epochs", "batch_size", "optimizer", *RULE_OPTIONS, "hp",
          "schedules", "lr_mult", "seeds", "seed", "subset", "data_dir", "download", "device",
          "dtype", "out", "fmt", "quiet", "record_steps", "db", "study", "checkpoint_every",
          "report", "tensorboard", "executor", "address", "members_per_task")
_TRAIN = tuple("lr" if name == "lrs" else name for name in _SWEEP if name != "seeds")


def _run(task_name: str | None, lrs: list[float], *, task_opt: str | None, subset: str | None,
         seed: int, data_dir: Path | None, download: bool, out: Path | None, fmt: str,
         quiet: bool, db: Path, study: str | None, checkpoint_every: int, command: str,
         report: Path | None = None, tensorboard: Path | None = None, executor: str = "local",
         address: str | None = None, members_per_task: int | None = None,
         **settings: object) -> None:
    from lrlab.cli._display import print_result
    from lrlab.cli._store import task_spec, train_study
    from lrlab.executors import get_executor
    from lrlab.train import validated

    check_out(out, fmt)
    check_report(report)
    check_tensorboard(tensorboard)
    config = validated(lrs=lrs, seed=seed, **settings)  # every check before any work
    # Ray missing or its address unreachable: one line, before anything is written
    with get_executor(executor, address=address, members_per_task=members_per_task) as ex:
        task = load_task(task_name, task_opt, data_dir=data_dir, download=download,
                         subset=parse_subset(subset), seed=seed)
        spec = task_spec(task_name, task_opt, data_dir=data_dir, download=download,
                         subset=subset, seed=seed)
        chunked = {} if ex == get_executor() else {"executor": ex}  # default: fit, as before
        result = train_study(task, config, command=command, spec=spec, db=db, study=study,
                             checkpoint_every=checkpoint_every, quiet=quiet,
                             tensorboard=tensorboard, **chunked)
    print_result(result)
    if out is not None:
        result.save(out, format=fmt)
        print(f"records written to {out}/", file=sys.stderr)
    write_run_report(result, report)


def _settings(kw: dict) -> dict:
    """Click's keyword arguments as the sweep's settings (every option popped, then passed)."""
    hparams = parse_hparams(kw.pop("hp"), **{k: kw.pop(k) for k in RULE_OPTIONS})
    seeds = parse_seeds(kw.pop("seeds", None))
    lr_mults = _lr_mults(kw.pop("lr_mult"))
    schedules = list(kw.pop("schedules")) or ["constant"]
    return {**kw, "hparams": hparams, "seeds": seeds, "lr_mults": lr_mults,
            "schedules": schedules}


def _lr_mults(texts: tuple[str, ...]) -> list[dict[str, float]] | None:
    from lrlab.optim import parse_lr_mult

    if not texts:
        return None
    return [{} if t.strip() == "uniform" else parse_lr_mult(t.split(",")) for t in texts]


@app.command()
@with_options(*_SWEEP)
def sweep(task: str | None, lrs: str, **kw: object) -> None:
    """Train one member per learning rate (x seed) in lockstep, then rank them."""
    from lrlab.train import parse_lrs

    _run(task, parse_lrs(lrs), command="sweep", **_settings(kw))


@app.command()
@with_options(*_TRAIN)
def train(task: str | None, lr: float, **kw: object) -> None:
    """Train one network at one learning rate and summarise its curves."""
    _run(task, [lr], command="train", **_settings(kw))


@app.command("tasks")
def list_tasks() -> None:
    """List the built-in tasks."""
    from lrlab.tasks import DESCRIPTIONS

    for name, text in DESCRIPTIONS.items():
        print(f"{name:16s} {text}")


app.add_command(schedule)
app.add_command(find)
app.add_command(reproduce)
for _command in (ls, show, resume, export):
    app.add_command(_command)
app.add_command(playground)
app.add_command(report)
app.add_command(learning_curve_command)
for _command in (auto, grid, fastest, halving):
    app.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input)."""
    from lrlab._malloc import keep_freed_memory

    keep_freed_memory()  # this process is ours: let it reuse freed activation buffers
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _main(argv)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning on the command line: one line, no source excerpt."""
    print(f"warning: {str(message).removeprefix('lrlab: ')}", file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    try:
        app.main(args=list(argv) if argv is not None else sys.argv[1:],
                     prog_name="lrlab", standalone_mode=False)
    except click.UsageError as err:
        print(f"error: {err.format_message()}", file=sys.stderr)
        return 2
    except LrlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except (click.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def entry() -> None:
    """The console script: exit with :func:`main`'s code."""
    sys.exit(main())
