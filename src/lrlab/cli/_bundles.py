"""The command line's option bundles: the options that travel together, as one typed value.

A command asks for a bundle with one decorator (``@task_options``, ``@train_options``,
``@member_options``, ``@output_options``, ``@store_options``, ``@executor_options``); the
decorator adds the bundle's click options and hands the command one frozen dataclass built
from them, its text already parsed (rates, seeds, hyperparameters, multipliers), so a
command body never pops options out of ``**kw`` by name.

An option left out is left out of the call, so the library's default applies (and
``--help`` shows it: see :class:`~lrlab.cli._options.LibraryDefault`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab._checks import is_rate
from lrlab._errors import LrlabError
from lrlab.cli._options import (
    RULE_OPTIONS,
    check_out,
    check_tensorboard,
    load_task,
    parse_hparams,
    parse_seeds,
    parse_subset,
    with_monitor,
    with_options,
    write_tensorboard,
)

__all__ = ["ExecutorOptions", "MemberOptions", "OutputOptions", "StoreOptions", "TaskOptions", "TrainOptions", "executor_options", "member_options",
           "output_options", "store_options", "task_options", "train_options"]


def _bundle(key: str, names: Iterable[str], build: Callable[..., Any]) -> Callable:
    """A decorator: adds the shared options ``names`` (see :func:`with_options`) to a
    command and passes it ``key=build(**their values)`` in their place."""
    names = tuple(names)

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def command(*args: Any, **kw: Any) -> Any:
            values = {name: kw.pop(name) for name in names}
            return fn(*args, **kw, **{key: build(**values)})

        return with_options(*names)(command)
    return decorate


# -- the task -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOptions:
    """Which task, on which data: ``TASK`` or ``--task``, ``--data-dir``, ``--download``,
    ``--subset`` (as written; a search hands it to the procedure), ``--seed`` and
    ``--monitor`` (the metric that ranks the rates; ``None``: the task's)."""

    name: str | None
    task_opt: str | None
    data_dir: Path | None
    download: bool = True
    subset: str | None = None
    seed: int = 0
    monitor: str | None = None

    def load(self, *, subset: bool = True):
        """The task (on its ``--subset`` unless ``subset`` is False); checks first."""
        task = load_task(self.name, self.task_opt, data_dir=self.data_dir,
                         download=self.download,
                         subset=parse_subset(self.subset) if subset else None, seed=self.seed)
        return with_monitor(task, self.monitor)

    def spec(self) -> dict[str, Any]:
        """How ``lrlab resume`` loads the task again: the task options as given."""
        return {"name": self.name, "task_opt": self.task_opt,
                "data_dir": None if self.data_dir is None else str(Path(self.data_dir).resolve()),
                "download": self.download, "subset": self.subset, "seed": self.seed,
                **({} if self.monitor is None else {"monitor": self.monitor})}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TaskOptions:
        """Back from :meth:`spec` (what a study stored)."""
        data_dir = spec.get("data_dir")
        return cls(spec.get("name"), spec.get("task_opt"), Path(data_dir) if data_dir else None,
                   spec.get("download", True), spec.get("subset"), spec.get("seed", 0),
                   spec.get("monitor"))


def task_options(fn: Callable | None = None, *, subset: bool = True,
                 monitor: bool = False) -> Callable:
    """``task: TaskOptions`` from ``TASK``, ``--task``, ``--seed``, ``[--subset]``,
    ``--data-dir``, ``--download`` and (``monitor``: where the command ranks by the task's
    metric) ``--monitor``."""
    names = ("task", "task_opt", "seed", *(("subset",) if subset else ()), "data_dir",
             "download", *(("monitor",) if monitor else ()))

    def build(task: str | None, task_opt: str | None, seed: int, data_dir: Path | None,
              download: bool, subset: str | None = None,
              monitor: str | None = None) -> TaskOptions:
        return TaskOptions(task, task_opt, data_dir, download, subset, seed, monitor)

    decorate = _bundle("task", names, build)
    return decorate(fn) if fn is not None else decorate


# -- how members train ----------------------------------------------------------------------


@dataclass(frozen=True)
class TrainOptions:
    """How every member trains: ``--epochs``, ``--batch-size``, ``--optimizer`` and its
    hyperparameters (their own options and ``--hp``), ``--device``, ``--dtype``,
    ``--clip-grad-norm``."""

    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    hparams: dict[str, float] = field(default_factory=dict)
    device: str | None = None
    dtype: str = "float32"
    clip_grad_norm: float | None = None

    def settings(self) -> dict[str, Any]:
        """As keyword arguments of :func:`lrlab.train.validated` or a search; an option
        left out is left out (the library's default applies)."""
        given = {"epochs": self.epochs, "batch_size": self.batch_size,
                 "optimizer": self.optimizer, "device": self.device, "dtype": self.dtype,
                 "clip_grad_norm": self.clip_grad_norm}
        out = {k: v for k, v in given.items() if v is not None}
        return {**out, "hparams": dict(self.hparams)} if self.hparams else out


def train_options(fn: Callable) -> Callable:
    """``training: TrainOptions`` from ``--epochs``, ``--batch-size``, ``--optimizer``,
    ``--momentum`` ... ``--eps``, ``--hp``, ``--device``, ``--dtype`` and
    ``--clip-grad-norm``."""
    def build(epochs, batch_size, optimizer, hp, device, dtype, clip_grad_norm,
              **rule) -> TrainOptions:
        return TrainOptions(epochs, batch_size, optimizer, parse_hparams(hp, **rule), device,
                            dtype, clip_grad_norm)

    names = ("epochs", "batch_size", "optimizer", *RULE_OPTIONS, "hp", "device", "dtype",
             "clip_grad_norm")
    return _bundle("training", names, build)(fn)


# -- who the members are --------------------------------------------------------------------


@dataclass(frozen=True)
class MemberOptions:
    """Who the members are: their rates (``--lrs``, or ``--lr`` for one), ``--seeds``, and
    for a sweep ``--schedule``, ``--lr-mult`` and ``--record-steps``."""

    lrs: list[float]
    seeds: list[int] | None = None
    schedules: list[str] = field(default_factory=lambda: ["constant"])
    lr_mults: list[dict[str, float]] | None = None
    record_steps: bool = False

    def settings(self) -> dict[str, Any]:
        """As keyword arguments of :func:`lrlab.train.validated`."""
        return {"lrs": list(self.lrs), "seeds": self.seeds, "schedules": list(self.schedules),
                "lr_mults": self.lr_mults, "record_steps": self.record_steps}


def _lr_mults(texts: tuple[str, ...]) -> list[dict[str, float]] | None:
    from lrlab.optim import parse_lr_mult

    if not texts:
        return None
    return [{} if t.strip() == "uniform" else parse_lr_mult(t.split(",")) for t in texts]


def member_options(fn: Callable | None = None, *, one: bool = False,
                   variants: bool = True) -> Callable:
    """``members: MemberOptions``: ``--lrs`` and ``--seeds`` (``one``: ``--lr`` alone), with
    ``variants`` also ``--schedule``, ``--lr-mult`` and ``--record-steps``."""
    names = (("lr",) if one else ("lrs", "seeds")) + (
        ("schedules", "lr_mult", "record_steps") if variants else ())

    def build(lr: float | None = None, lrs: str | None = None, seeds: str | None = None,
              schedules: tuple[str, ...] = (), lr_mult: tuple[str, ...] = (),
              record_steps: bool = False) -> MemberOptions:
        from lrlab.train import parse_lrs

        if lrs is None and not (lr is not None and is_rate(lr)):
            raise LrlabError(f"--lr must be a positive, finite rate, got {lr}")
        rates = [lr] if lrs is None else parse_lrs(lrs)
        return MemberOptions(rates, parse_seeds(seeds), list(schedules) or ["constant"],
                             _lr_mults(lr_mult), record_steps)

    decorate = _bundle("members", names, build)
    return decorate(fn) if fn is not None else decorate


# -- where results go -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutputOptions:
    """Where results go: ``--out`` (a folder), ``--format``, ``--report`` (an HTML page),
    ``--tensorboard`` (a folder of TensorBoard runs) and ``--quiet``."""

    out: Path | None = None
    fmt: str = "csv"
    report: Path | None = None
    quiet: bool = False
    tensorboard: Path | None = None
    overwrite: bool = False

    def check(self) -> None:
        """Every path checked before any work: a bad one stops the command untouched."""
        from lrlab.cli._report import check_report

        check_out(self.out, self.fmt, overwrite=self.overwrite)
        check_report(self.report)
        check_tensorboard(self.tensorboard)

    def write(self, run: Any, save: Callable[[Path, str], None], what: str = "records", *,
              board: bool = True) -> None:
        """``save(out, fmt)`` into ``--out`` when given, then the report and (``board``:
        unless the run wrote them as it went) the TensorBoard runs, when asked for."""
        import sys

        from lrlab.cli._report import write_run_report

        if self.out is not None:
            save(self.out, self.fmt)
            print(f"{what} written to {self.out}/", file=sys.stderr)
        write_run_report(run, self.report)
        if board:
            write_tensorboard(run, self.tensorboard)


def output_options(fn: Callable) -> Callable:
    """``output: OutputOptions`` from ``--out``, ``--format``, ``--quiet``, ``--report`` and
    ``--tensorboard``."""
    def build(out: Path | None, overwrite: bool, fmt: str, quiet: bool, report: Path | None,
              tensorboard: Path | None) -> OutputOptions:
        return OutputOptions(out, fmt, report, quiet, tensorboard, overwrite)

    return _bundle("output", ("out", "overwrite", "fmt", "quiet", "report", "tensorboard"),
                   build)(fn)


# -- the study database ---------------------------------------------------------------------


@dataclass(frozen=True)
class StoreOptions:
    """The study a run writes: ``--db``, ``--study`` and (for a run that checkpoints)
    ``--checkpoint-every``."""

    db: Path
    study: str | None = None
    checkpoint_every: int | None = None


def store_options(fn: Callable | None = None, *, checkpoints: bool = True) -> Callable:
    """``store: StoreOptions`` from ``--db``, ``--study`` and ``[--checkpoint-every]``."""
    names = ("db", "study", *(("checkpoint_every",) if checkpoints else ()))

    def build(db: Path, study: str | None, checkpoint_every: int | None = None) -> StoreOptions:
        return StoreOptions(db, study, checkpoint_every)

    decorate = _bundle("store", names, build)
    return decorate(fn) if fn is not None else decorate


# -- where populations train ----------------------------------------------------------------


@dataclass(frozen=True)
class ExecutorOptions:
    """Where populations train: ``--executor``, ``--address``, ``--members-per-chunk``,
    ``--memory-limit``."""

    executor: str = "local"
    address: str | None = None
    members_per_task: int | None = None
    memory_limit: str | None = None

    def open(self, members_per_task: int | None = None):
        """The executor (use it in a ``with`` block); a missing Ray or a bad address is one
        line here, before anything is written."""
        from lrlab.executors import get_executor

        return get_executor(self.executor, address=self.address,  # type: ignore[arg-type]
                            members_per_task=members_per_task or self.members_per_task,
                            memory_limit=self.memory_limit)


def executor_options(fn: Callable | None = None, *, chunks: bool = True) -> Callable:
    """``executor: ExecutorOptions`` from ``--executor``, ``--address`` and
    ``[--members-per-chunk, --memory-limit]``."""
    names = ("executor", "address", *(("members_per_task", "memory_limit") if chunks else ()))

    def build(executor: str, address: str | None, members_per_task: int | None = None,
              memory_limit: str | None = None) -> ExecutorOptions:
        return ExecutorOptions(executor, address, members_per_task, memory_limit)

    decorate = _bundle("executor", names, build)
    return decorate(fn) if fn is not None else decorate
