"""The store on the command line: training into it, and ``ls``, ``show``, ``resume``,
``export``.

``sweep`` and ``train`` train through :func:`train_study` (a study per run, records
committed as each epoch ends, checkpoints every ``--checkpoint-every`` epochs); the searches
store their populations when they finish (:func:`store_search`). The database is ``--db``,
else ``$LRLAB_DB``, else ``./lrlab.db``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from lrlab._checks import is_whole
from lrlab._errors import LrlabError
from lrlab.cli._bundles import TaskOptions
from lrlab.cli._command import Command
from lrlab.cli._options import (
    OVERWRITE,
    PATH,
    check_out,
    check_tensorboard,
    choose_threads,
    with_options,
    write_tensorboard,
)

__all__ = ["export", "ls", "open_store", "remove", "resume", "run_or_study", "show", "store_search",
           "train_study"]


def train_study(task, config, *, command: str, spec: dict[str, Any], db: Path,
                study: str | None, checkpoint_every: int, quiet: bool, executor=None,
                tensorboard: Path | None = None):
    """Train ``config`` on ``task`` as a new study in ``db``, with a progress bar (through
    ``executor`` when given, see :func:`lrlab.store.run_study`), and with ``tensorboard``
    every member's TensorBoard run written as each epoch ends."""
    from lrlab.cli._display import progress_bar
    from lrlab.store import Store, run_study

    board = []
    if tensorboard is not None:
        from lrlab.integrations.tensorboard import TensorBoardCallback

        board = [TensorBoardCallback(tensorboard, config.members(), optimizer=config.optimizer)]
    bar = progress_bar(task.name, task.monitor, task.higher_is_better, quiet=quiet)
    with Store(db) as store, bar as callbacks:
        name, result = run_study(store, task, config, name=study, command=command,
                                 task_spec=spec, callbacks=[*callbacks, *board],
                                 checkpoint_every=checkpoint_every, executor=executor)
    if not quiet or sys.stderr.isatty():  # --quiet in a terminal still says where it went
        print(f"study {name} written to {db}", file=sys.stderr)
    return result


def _resumed_task(study: str, spec: dict[str, Any], task_opt: str | None):
    """The task of ``study`` loaded again. A database is data, never a choice of code: a
    built-in task is taken by name only, and a user's task module is imported only when the
    command line names it (``--task``), the same one the study was trained with."""
    from lrlab.tasks import TASKS

    name, stored = spec.get("name"), spec.get("task_opt")
    data_dir, subset, seed = spec.get("data_dir"), spec.get("subset"), spec.get("seed", 0)
    damaged = LrlabError(f"study {study!r}: its stored task settings are damaged; "
                         f"lrlab rm {study} removes it")
    if not (isinstance(data_dir, str | None) and isinstance(subset, str | None)
            and is_whole(seed) and isinstance(spec.get("download", True), bool)
            and isinstance(spec.get("monitor"), str | None)):
        raise damaged
    if stored is None:
        if name not in TASKS:
            raise LrlabError(f"study {study!r} names the task {name!r}, which is not a built-in "
                             "task; lrlab runs no code a database names")
        if task_opt is not None:
            raise LrlabError(f"study {study!r} trains the built-in task {name}; resume it "
                             "without --task")
    elif not isinstance(stored, str) or name is not None:
        raise damaged
    elif task_opt is None:
        raise LrlabError(f"study {study!r} trains the user task {stored}; lrlab imports a "
                         f"user's code only when you name it: lrlab resume {study} "
                         f"--task {stored}")
    elif task_opt != stored:
        raise LrlabError(f"study {study!r} was trained with --task {stored}, not {task_opt}; "
                         f"resume it with --task {stored}")
    return TaskOptions.from_spec(spec).load()


def open_store(db: Path) -> None:
    """Open (creating it if missing) and close ``db``: its checks, before any training."""
    from lrlab.store import Store

    Store(db).close()


def store_search(result, *, command: str, spec: dict[str, Any], db: Path,
                 study: str | None, quiet: bool) -> None:
    """Store a search's populations as finished studies ``NAME.stage1``, ...,
    ``NAME.confirm``."""
    from lrlab.store import Store

    stages = [(f"stage{i}", r) for i, r in enumerate(result.evidence, start=1)]
    if result.confirmation is not None:
        stages.append(("confirm", result.confirmation))
    with Store(db) as store:
        names = store.add_results(stages, command=command, task_spec=spec, name=study)
    if names and (not quiet or sys.stderr.isatty()):  # a terminal: where they went
        print(f"studies {', '.join(names)} written to {db}", file=sys.stderr)


def run_or_study(target: Path, db: Path):
    """What ``lrlab report TARGET`` reads: the folder ``TARGET`` when there is one (a run
    written by ``--out``), else the study called ``TARGET`` in ``db``."""
    from lrlab.report import load_run
    from lrlab.store import load_result

    if target.is_dir() or not db.exists() or len(target.parts) > 1:  # a path: a folder
        return load_run(target)
    result = load_result(db, str(target))
    if result.records.empty:
        raise LrlabError(f"study {target} has no records yet (lrlab show {target})")
    return result


def _db_option(fn):
    return with_options("db")(fn)


@click.command("ls", cls=Command)
@_db_option
def ls(db: Path) -> None:
    """List the studies in the database."""
    import pandas as pd
    from rich.table import Table

    from lrlab.cli._display import stdout
    from lrlab.store import Store

    with Store(db, create=False) as store:
        studies = store.studies()
    if studies.empty:
        stdout.print(f"no studies in {db}")
        return
    table = Table(title=str(db))
    for column in ("study", "command", "task", "members", "epochs", "state", "checkpoint",
                   "created"):
        table.add_column(column, justify="right" if column in ("members", "epochs") else "left",
                         no_wrap=column == "study")  # names whole in 80 columns
    for row in studies.itertuples(index=False):
        checkpoint = "-" if pd.isna(row.checkpoint) else f"epoch {int(row.checkpoint)}"
        table.add_row(row.name, row.command, row.task, str(row.members),
                      f"{row.epochs_done}/{row.epochs}", row.state, checkpoint, row.created)
    stdout.print(table)


@click.command(cls=Command)
@click.argument("study")
@_db_option
def show(study: str, db: Path) -> None:
    """A study: what it trains, how far it got, and its per-member table."""
    from lrlab.cli._display import print_result, stdout
    from lrlab.cli._options import RERUN
    from lrlab.store import Store

    with Store(db, create=False) as store:
        info = store.info(study)
        result = store.result(study)
    checkpoint = ("no checkpoint" if info.checkpoint_epoch is None
                  else f"checkpoint at epoch {info.checkpoint_epoch}")
    stdout.print(f"study {info.name} ({info.command}): {info.task}, {info.members} members, "
                 f"{info.config['optimizer']}; epoch {info.epochs_done} of {info.epochs}, "
                 f"{info.state}; {checkpoint}; created {info.created}", soft_wrap=True)
    if info.state == "interrupted":
        stdout.print(f"continue it with: lrlab resume {info.name} --db {db}", soft_wrap=True)
    if len(result.records):
        print_result(result, options=RERUN)  # the flags of the command that trains it again


@click.command(cls=Command)
@click.argument("study")
@with_options("db", "checkpoint_every", "device", "quiet", "out", "overwrite", "fmt", "executor",
              "address", "tensorboard")
@click.option("--force", is_flag=True,
              help="resume even if the study's process seems alive (it is gone)")
@click.option("--task", "task_opt",
              help="a study of a user task: its package.module:function, as it was trained "
                   "(the database's copy is never imported on its own)")
def resume(study: str, db: Path, checkpoint_every: int, device: str | None, quiet: bool,
           out: Path | None, overwrite: bool, fmt: str, executor: str, address: str | None,
           tensorboard: Path | None, force: bool, task_opt: str | None) -> None:
    """Continue an interrupted study from its last checkpoint (a study trained in chunks:
    each chunk from its own, with the same chunks); --tensorboard writes the whole
    study's runs once it ends."""
    from lrlab.cli._display import print_result, progress_bar
    from lrlab.executors import get_executor
    from lrlab.store import Store, chunk_size, resume_study

    check_out(out, fmt, overwrite=overwrite)
    check_tensorboard(tensorboard)
    with Store(db, create=False) as store:
        info = store.info(study)
        chunks = chunk_size(info) or len(store.members(study))  # one population: one chunk
        task = _resumed_task(study, info.task_spec, task_opt)
        choose_threads(task, chunks, info.config.get("batch_size"))
        with get_executor(executor, address=address, members_per_task=chunks) as ex:
            bar = progress_bar(task.name, task.monitor, task.higher_is_better, quiet=quiet)
            with bar as callbacks:
                result = resume_study(store, study, task, callbacks=callbacks,
                                      checkpoint_every=checkpoint_every, device=device,
                                      force=force, executor=ex)
    print_result(result)
    if out is not None:
        result.save(out, format=fmt)
        print(f"records written to {out}/", file=sys.stderr)
    write_tensorboard(result, tensorboard)


@click.command(cls=Command)
@click.argument("study")
@with_options("db", "fmt")
@click.option("--out", type=PATH, required=True,
              help="write records, members, steps and summary.json into this directory")
@OVERWRITE
def export(study: str, db: Path, fmt: str, out: Path, overwrite: bool) -> None:
    """Write a study's records as lrlab sweep --out does (csv or parquet)."""
    from lrlab.store import load_result

    check_out(out, fmt, overwrite=overwrite)
    result = load_result(db, study)
    if result.records.empty:
        raise LrlabError(f"study {study!r} has no records yet (it stopped in its first "
                         f"epoch); resume it first: lrlab resume {study}")
    result.save(out, format=fmt)
    print(f"records of {study} written to {out}/", file=sys.stderr)


@click.command("rm", cls=Command)
@click.argument("studies", nargs=-1)
@click.option("--all-failed", is_flag=True,
              help="every interrupted study with no checkpoint (nothing to resume from)")
@click.option("--yes", "-y", is_flag=True, help="remove without asking")
@with_options("db")
def remove(studies: tuple[str, ...], all_failed: bool, yes: bool, db: Path) -> None:
    """Remove studies (their members, records and checkpoints) from the database."""
    from lrlab.store import Store

    if not studies and not all_failed:
        raise LrlabError("name the studies to remove (lrlab ls lists them), or give "
                         "--all-failed")
    with Store(db, create=False) as store:
        names, table = list(dict.fromkeys(studies)), store.studies()
        for name in names:
            if name not in set(table["name"]):
                store.info(name)  # the one line naming the studies there are
        if all_failed:
            failed = table[table["state"].isin(["interrupted", "damaged"])
                           & table["checkpoint"].isna()]
            names += [n for n in failed["name"] if n not in names]
        if not names:
            print(f"no failed studies in {db}", file=sys.stderr)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise LrlabError(f"lrlab rm asks before removing {len(names)} "
                                 f"{'study' if len(names) == 1 else 'studies'}; give --yes "
                                 "to remove without asking")
            click.confirm(f"remove {', '.join(names)} from {db}?", abort=True)
        for name in names:
            store.remove(name)
    print(f"removed {', '.join(names)} from {db}", file=sys.stderr)
