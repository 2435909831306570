"""The ``lrlab`` command: a thin layer over the public API.

``main(argv)`` runs in-process (tests call it); every bad input ends as one ``error:`` line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

import click

from lrlab._errors import LrlabError
from lrlab._once import first_time, warn_once
from lrlab.cli._bundles import (
    ExecutorOptions,
    MemberOptions,
    OutputOptions,
    StoreOptions,
    TaskOptions,
    TrainOptions,
    executor_options,
    member_options,
    output_options,
    store_options,
    task_options,
    train_options,
)
from lrlab.cli._command import Group
from lrlab.cli._find import find
from lrlab.cli._list import list_command, print_listing
from lrlab.cli._playground import playground
from lrlab.cli._report import learning_curve_command, report
from lrlab.cli._reproduce import reproduce
from lrlab.cli._schedule import schedule
from lrlab.cli._search import auto, coarse_to_fine, fastest, grid, halving, probe
from lrlab.cli._store import export, ls, remove, resume, show
from lrlab.cli._studies import cooldown_command, race_command, scaling_command, width_command

__all__ = ["app", "entry", "main"]

@click.group(context_settings={"help_option_names": ["-h", "--help"]}, cls=Group)
@click.version_option(package_name="lrlab")
def app() -> None:
    """Find, schedule and study the learning rate of PyTorch networks.

    Small networks train on one CPU thread (as fast, and much faster on a busy machine);
    set OMP_NUM_THREADS to choose the threads yourself.
    """


def _train(command: str, task: TaskOptions, members: MemberOptions, training: TrainOptions,
           output: OutputOptions, store: StoreOptions, executor: ExecutorOptions) -> None:
    """Train the members as a new study (``sweep`` and ``train``): every check first."""
    from lrlab.cli._display import print_result
    from lrlab.cli._options import choose_threads
    from lrlab.cli._store import train_study
    from lrlab.train import check_distinct, validated

    output.check()
    config = validated(seed=task.seed, **members.settings(), **training.settings())
    check_distinct(config)
    with executor.open() as ex:
        data = task.load()
        choose_threads(data, executor.members_per_task or len(config.members()),
                       config.batch_size)
        result = train_study(data, config, command=command, spec=task.spec(), db=store.db,
                             study=store.study, checkpoint_every=store.checkpoint_every,
                             quiet=output.quiet, executor=ex,
                             tensorboard=output.tensorboard)
    print_result(result)
    output.write(result, lambda out, fmt: result.save(out, format=fmt), board=False)


def _trains(*, one: bool):
    """The bundles of ``sweep`` (``one``: ``train``, one rate), in the order --help shows."""
    def decorate(fn):
        for bundle in (executor_options, store_options, output_options, train_options,
                       member_options(one=one, variants=True), task_options(monitor=True)):
            fn = bundle(fn)
        return fn
    return decorate


@app.command()
@_trains(one=False)
def sweep(**bundles) -> None:
    """Train one member per learning rate (x seed) in lockstep, then rank them."""
    _train("sweep", **bundles)


@app.command()
@_trains(one=True)
def train(**bundles) -> None:
    """Train one network at one learning rate and summarise its curves."""
    _train("train", **bundles)


@app.command("tasks", hidden=True)
def list_tasks() -> None:
    """List the built-in tasks (as lrlab list tasks)."""
    print_listing("tasks")


app.add_command(list_command)
app.add_command(schedule)
app.add_command(find)
app.add_command(reproduce)
for _command in (ls, show, resume, export, remove):
    app.add_command(_command)
app.add_command(playground)
app.add_command(report)
app.add_command(learning_curve_command)
for _command in (auto, grid, coarse_to_fine, fastest, halving, probe, cooldown_command,
                 race_command, scaling_command, width_command):
    app.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input)."""
    from lrlab._malloc import keep_freed_memory

    keep_freed_memory()  # this process is ours: let it reuse freed activation buffers
    with warnings.catch_warnings(), warn_once():  # one command: each model's line once
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _main(argv)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning on the command line, one line, no source excerpt: lrlab's own (its text
    starts ``lrlab: ``) as ``warning: ...``, lrlab's finding; any other (torch's
    nested-tensor prototype note, NumPy's) once per command, as Python writes a warning,
    ``WHERE: Category: text``, WHERE the package it came from or the file and line it names
    (torch points at the line of yours that called it).

    Example:
        >>> _show_warning("lrlab: a finding", UserWarning, "x.py", 1, file=sys.stdout)
        warning: a finding
        >>> _show_warning("a prototype", UserWarning, "/v/site-packages/torch/nn/t.py", 9,
        ...               file=sys.stdout)
        torch: UserWarning: a prototype
        >>> _show_warning("a prototype", UserWarning, "/home/me/model.py", 12, file=sys.stdout)
        model.py:12: UserWarning: a prototype
    """
    from lrlab.cli._options import as_flags

    text = str(message)
    out = file if file is not None else sys.stderr
    if text.startswith("lrlab: "):
        print(f"warning: {as_flags(text.removeprefix('lrlab: '))}", file=out)
        return
    where = _origin(str(filename), lineno)
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first_time("python warning", where, first):
        print(f"{where}: {category.__name__}: {first}", file=out)


def _origin(filename: str, lineno: int) -> str:
    """Where a warning came from: the package below ``site-packages`` (``torch``), else the
    file's name and the line."""
    from pathlib import PurePath

    parts = PurePath(filename).parts
    for folder in ("site-packages", "dist-packages"):
        if folder in parts[:-1]:
            return PurePath(parts[parts.index(folder) + 1]).stem
    return f"{PurePath(filename).name}:{lineno}"


def _main(argv: Sequence[str] | None) -> int:
    args = list(argv) if argv is not None else sys.argv[1:]
    if not args:  # bare lrlab: the help, as --help gives it
        args = ["--help"]
    try:
        app.main(args=args, prog_name="lrlab", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as err:  # a bare group: its help, as bare lrlab
        print(err.ctx.get_help() if err.ctx is not None else err.format_message())
        return 0
    except click.UsageError as err:  # one line (click lists a missing choice's values on lines)
        print(f"error: {' '.join(err.format_message().split())}", file=sys.stderr)
        return 2
    except LrlabError as err:
        from lrlab.cli._options import error_flags

        command: click.Command = app
        for word in args:  # the subcommand that ran (lrlab schedule plot), whose flags it names
            if not isinstance(command, click.Group) or word not in command.commands:
                break
            command = command.commands[word]
        said = error_flags(str(err), command.params, args)
        print(f"error: {said}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except (click.Abort, KeyboardInterrupt) as err:
        # click turns Ctrl-C into a bare Abort; the interrupt it came from names the study
        # and the command that continues it (lrlab.store.Interrupted)
        cause = err.__cause__ if isinstance(err, click.Abort) else err
        text = str(cause if isinstance(cause, KeyboardInterrupt) else err)
        print(f"interrupted: {text}" if text else "interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("LRLAB_DEBUG"):
            raise
        text = " ".join(str(err).split())[:300]
        print(f"error: unexpected {type(err).__name__}: {text} (a bug in lrlab: please report "
              "it; LRLAB_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    return 0


def entry() -> None:
    """The console script: exit with :func:`main`'s code."""
    sys.exit(main())
