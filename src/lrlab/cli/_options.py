"""The command line's shared options, defined once, and the checks every command makes.

Options a library function has a default for are not given a second default here: when
left out they are not passed, so the library's default applies, and ``--help`` shows that
default, read from the function's signature when the help is drawn (:class:`LibraryDefault`).
Names a registry knows (update rules, plots) are a :class:`Registry` choice: ``--help``
lists them and a wrong one is refused with the registry's own one-line error. Both read the
library only when asked, so the command starts without importing it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from lrlab._checks import run_dir_free
from lrlab._errors import LrlabError

__all__ = ["FIND_RERUN", "OVERWRITE", "PATH", "RERUN", "RULE_OPTIONS", "LibraryDefault", "Rates",
           "Registry", "ScheduleText", "as_flags", "check_out", "check_tensorboard",
           "choose_threads", "error_flags", "library_default", "load_task", "parse_hparams",
           "parse_seeds", "parse_subset", "subset_task", "with_monitor", "with_options",
           "write_tensorboard"]

def _attribute(path: str) -> Any:
    """``"package.module:name"`` -> the object (imported now, not when the CLI starts)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def library_default(path: str, name: str) -> Any:
    """The default of parameter ``name`` of the function (or pydantic model) at ``path``."""
    owner = _attribute(path)
    if hasattr(owner, "model_fields"):
        return owner.model_fields[name].default
    return inspect.signature(owner).parameters[name].default


class LibraryDefault(click.Option):
    """An option whose default lives in the library: ``None`` when not given (the command
    then leaves it out), shown in ``--help`` as the default of ``library``'s parameter
    ``param`` (``library``: ``"package.module:function"``, set by the command when shared)."""

    def __init__(self, *args: Any, library: str | None = None, param: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.library, self.param = library, param or self.name

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.library is not None:
            value = library_default(self.library, self.param)
            if isinstance(value, bool) and self.secondary_opts:  # --refine/--no-refine
                extra["default"] = (self.opts if value else self.secondary_opts)[0].lstrip("-")
            elif value is not None:
                shown = ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value
                extra["default"] = f"{shown:g}" if isinstance(shown, float) else str(shown)
        return extra


class Registry(click.Choice):
    """A choice among a registry's names, read from the registry only when needed (the CLI
    starts without importing it). A wrong name is refused by ``check``, the library's own
    lookup, so the command line says what Python callers are told.

    Args:
        names: ``"package.module:NAME"`` of a mapping (or sequence) of the names.
        check: ``"package.module:function"`` raising :class:`~lrlab.LrlabError` for a bad
            value and returning the value to use (``None``: click's own message).
        separator: accept several names joined by it (``--plots curves,sse``).
    """

    def __init__(self, names: str, check: str | None = None, *,
                 separator: str | None = None) -> None:
        self._names, self._check, self.separator = names, check, separator
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(_attribute(self._names))

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        joined = f"[{'|'.join(self.choices)}]"
        return f"{joined}{self.separator}..." if self.separator else joined

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if self._check is None:
            return super().convert(value, param, ctx)
        check = _attribute(self._check)
        if self.separator is None:
            check(value)
            return value
        return check(value.split(self.separator))


class ScheduleText(Registry):
    """``--schedule NAME[:key=value,...]``: ``--help`` lists the registry's names; the text
    is passed on as written (the sweep's settings parse and check it, so the command line
    and Python callers get the same message)."""

    def __init__(self) -> None:
        super().__init__("lrlab.schedules:SCHEDULES")

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return f"[{'|'.join(self.choices)}][:key=value,...]"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        return value


class Rates(click.ParamType):
    """Learning rates as written on the command line: ``1,0.1,0.01`` or ``logspace:LO:HI:N``
    (:func:`lrlab.train.parse_lrs`, imported when a value comes)."""

    name = "rates"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        from lrlab.train import parse_lrs

        return parse_lrs(value)


#: Hyperparameters with an option of their own (the rest go through ``--hp NAME=VALUE``).
RULE_OPTIONS = ("momentum", "weight_decay", "beta1", "beta2", "eps")


class _PathText(click.Path):
    """A path option that refuses empty text (``Path("")`` would be the current folder)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give a path", param, ctx)
        return super().convert(value, param, ctx)


#: The type of every path option.
PATH = _PathText(path_type=Path)

#: ``--overwrite``: goes with every ``--out`` folder.
OVERWRITE = click.option("--overwrite", is_flag=True,
                         help="write into an --out folder that already holds a run (its "
                              "files are replaced)")

_OPTIONS: dict[str, Callable] = {
    "task": click.argument("task", required=False),
    "lr": click.option("--lr", type=float, default=0.01, show_default=True,
                       help="the learning rate"),
    "lrs": click.option("--lrs", default="1,0.1,0.01,0.001", show_default=True,
                        help="rates: a comma list (1,0.1,0.01), logspace:LO:HI:N or "
                             "linspace:LO:HI:N"),
    "task_opt": click.option("--task", "task_opt", help="a user task: package.module:function "
                                                        "returning lrlab.Task"),
    "epochs": click.option("--epochs", type=int, help="epochs (default: the task's)"),
    "batch_size": click.option("--batch-size", type=int,
                               help="batch size (default: the task's)"),
    "optimizer": click.option("--optimizer", cls=LibraryDefault, library="lrlab.train:SweepConfig",
                              type=Registry("lrlab.optim:RULES", "lrlab.optim:get_rule"),
                              help="the update rule"),
    **{name: click.option(f"--{name.replace('_', '-')}", type=float, help=f"the rule's {name}")
       for name in RULE_OPTIONS},
    "hp": click.option("--hp", multiple=True,
                       help="another hyperparameter, NAME=VALUE (repeatable)"),
    "schedules": click.option("--schedule", "schedules", multiple=True, type=ScheduleText(),
                              help="rate schedule (keys: lrlab list schedules); repeat to "
                                   "train schedules side by side"),
    "lr_mult": click.option("--lr-mult", "lr_mult", multiple=True,
                            help="layer-wise rates, PATTERN=MULT[,PATTERN=MULT...] (e.g. "
                                 "'head.*=10'); repeat to train variants side by side, "
                                 "'uniform' for none"),
    "monitor": click.option("--monitor", metavar="METRIC",
                            help="the validation metric that ranks the rates: loss, accuracy, "
                                 "error, sse, auc or one of the task's own metrics (default: "
                                 "the task's; accuracy for a classifier, else loss)"),
    "seed": click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0,
                         show_default=True,
                         help="seed of the initial weights and the example order"),
    "seeds": click.option("--seeds", help="comma list: cross every rate with each seed (own "
                                          "weights and order per seed)"),
    "subset": click.option("--subset", cls=LibraryDefault, help="train on a stratified subset: a count (500) or a "
                                            "fraction (0.1)"),
    "data_dir": click.option("--data-dir", type=PATH,
                             help="directory of the dataset's files (else $LRLAB_DATA, else a "
                                  "cache)"),
    "download": click.option("--download/--no-download", default=True, show_default=True,
                             help="download missing data files"),
    "device": click.option("--device",
                           help="cpu, cuda or cuda:N (default: cuda when available)"),
    "dtype": click.option("--dtype", type=click.Choice(["float32", "float64"]),
                          default="float32", show_default=True,
                          help="precision of weights and arithmetic (float64: slower, for "
                               "checks and rates below 1e-38; a bfloat16 or float16 model "
                               "is trained in float32, with a warning)"),
    "clip_grad_norm": click.option("--clip-grad-norm", type=float, metavar="C",
                                   help="clip each member's gradient to global L2 norm C "
                                        "before every step (torch's clip_grad_norm_; "
                                        "default: no clipping)"),
    "overwrite": OVERWRITE,
    "out": click.option("--out", type=PATH,
                        help="write the records and a summary into this directory"),
    "fmt": click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]),
                        default="csv", show_default=True, help="records file format"),
    "quiet": click.option("--quiet", "-q", is_flag=True, help="no progress bar"),
    "record_steps": click.option("--record-steps", is_flag=True,
                                 help="also record every step"),
    "executor": click.option("--executor", type=click.Choice(["local", "ray"]),
                             default="local", show_default=True,
                             help="train here, or as Ray tasks (pip install 'lrlab[ray]')"),
    "address": click.option("--address", help="with --executor ray: the cluster's address "
                                              "(HOST:PORT from `ray start --head`); "
                                              "default: start Ray here"),
    "members_per_task": click.option("--members-per-chunk", "--members-per-task",
                                     "members_per_task", type=int,
                                     help="train the members in chunks of this many, one "
                                          "population (and Ray task) each (default: as many "
                                          "as fit in memory here; spread over the cluster "
                                          "with Ray)"),
    "memory_limit": click.option("--memory-limit",
                                 help="memory a population may use here, e.g. 4GB (default: "
                                      "80% of what the device has free); more members "
                                      "train in chunks"),
    "report": click.option("--report", type=PATH,
                           help="also write the run's HTML report (one self-contained page) "
                                "to this file"),
    "tensorboard": click.option("--tensorboard", type=PATH,
                                help="also write TensorBoard runs into this directory, one per "
                                     "member (pip install 'lrlab[tensorboard]')"),
    "db": click.option("--db", type=PATH, envvar="LRLAB_DB",
                       default="lrlab.db", show_default=True,
                       help="the study database (SQLite; else $LRLAB_DB)"),
    "study": click.option("--study", help="name the study in --db (default: COMMAND-N)"),
    "checkpoint_every": click.option("--checkpoint-every", type=click.IntRange(min=1),
                                     default=10, show_default=True,
                                     help="epochs between checkpoints (one is also taken at "
                                          "the end); lrlab resume continues from the last"),
}


def with_options(*names: str):
    """Decorate a command with the named shared options, in the order given."""
    def wrap(fn):
        for name in reversed(names):
            fn = _OPTIONS[name](fn)
        return fn
    return wrap


def parse_subset(text: str | None) -> int | float | None:
    """``--subset``: a count (``500``) or a fraction (``0.1``)."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise LrlabError(f"--subset {text!r} is neither a count nor a fraction")


def parse_seeds(text: str | None) -> list[int] | None:
    """``--seeds 0,1,2``."""
    if text is None:
        return None
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise LrlabError(f"--seeds {text!r} must be a comma list of integers") from None


def parse_hparams(pairs: tuple[str, ...] | None, **named: float | None) -> dict[str, float]:
    """The rule's hyperparameters from their own options and ``--hp NAME=VALUE`` pairs."""
    out = {k: v for k, v in named.items() if v is not None}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        key = name.strip().replace("-", "_")
        if not sep or not key:
            raise LrlabError(f"--hp {pair!r} must look like NAME=VALUE, e.g. --hp alpha=0.9")
        try:
            number = float(value)
        except ValueError:
            raise LrlabError(f"--hp {pair!r}: {value.strip()!r} is not a number") from None
        if key in out:
            given = f"--{key.replace('_', '-')}" if key in named else "--hp"
            raise LrlabError(f"{key} is given twice ({given} {out[key]:g} and --hp "
                             f"{key}={number:g}); give it once")
        out[key] = number
    return out


def check_out(out: Path | None, fmt: str = "csv", *, overwrite: bool = False) -> None:
    """``--out`` must be able to become a directory of results, and not hold another run
    (unless ``--overwrite``): checked before training."""
    from lrlab.train import check_writable

    if out is not None:
        run_dir_free(out, overwrite=overwrite)
        check_writable(out, fmt)


def choose_threads(task, members: int, batch_size: int | None = None) -> None:
    """One intra-op thread for small work (:func:`lrlab.train.threads_for`), unless the user
    chose (``OMP_NUM_THREADS``): several threads on tiny networks mostly wait, the more so
    on a machine busy with other work."""
    import os

    import torch

    from lrlab.train import threads_for

    if "OMP_NUM_THREADS" not in os.environ and threads_for(task, members,
                                                           batch_size=batch_size) == 1:
        torch.set_num_threads(1)


def check_tensorboard(path: Path | None) -> None:
    """``--tensorboard``: the package installed and the path usable, before any training."""
    if path is not None:
        from lrlab.integrations.tensorboard import check_log_dir

        check_log_dir(path)


def write_tensorboard(result, path: Path | None) -> None:
    """Write a finished ``result``'s runs under ``--tensorboard`` (nothing when ``None``)."""
    if path is not None:
        import sys

        from lrlab.integrations.tensorboard import write_tensorboard as write

        write(result, path)
        print(f"TensorBoard runs written to {path}/", file=sys.stderr)


def load_task(name: str | None, task_opt: str | None, *, data_dir: Path | None,
              download: bool = True, subset: float | None = None, seed: int = 0):
    """The task named by the TASK argument or ``--task`` (exactly one of them)."""
    from lrlab.tasks import get_task

    if name is not None and task_opt is not None:
        raise LrlabError(f"give the task once: {name!r} or --task {task_opt}, not both")
    if name is None and task_opt is None:
        raise LrlabError("give a task: a built-in name (lrlab list tasks) or "
                         "--task package.module:function")
    if data_dir is not None and not data_dir.is_dir():
        raise LrlabError(f"data directory {data_dir} does not exist; create it or point "
                         "--data-dir at the folder holding the dataset's files")
    task = get_task(name or task_opt, data_dir=str(data_dir) if data_dir else None,
                    download=download)
    return subset_task(task, subset, seed=seed)


#: The library's advice names a setting as Python writes it: a value (``monitor='loss'``,
#: ``optimizer='adam'``), the field (``Task(..., monitor=...)``), or a range test's number
#: in parentheses (``(start=1e-10)``, ``(end=1000)``, ``(steps=400)``; coarse-to-fine's
#: range, ``(hi=10)``) or as a least value to give (``give budget=0.75 or more``).
_SAID = re.compile(r"\b(monitor|optimizer)=(['\"])([\w.-]+)\2|Task\(\.\.\., (monitor)=\.\.\.\)"
                   r"|(?:(?<=\()|(?<=give ))(start|end|steps|lo|hi|budget)=([0-9][\w.+-]*)"
                   r"(?=\)| or )")

#: The options every command that trains takes: the flags ``lrlab show`` and ``lrlab
#: report``, which train nothing, name in a run's advice (the command that made it takes
#: them). A range test's folder adds ``lrlab find``'s ramp (:data:`FIND_RERUN`).
RERUN = frozenset({"monitor", "optimizer"})
FIND_RERUN = RERUN | {"start", "end", "steps"}


def as_flags(text: str, options: Collection[str] | None = None) -> str:
    """``text`` (a library's advice, warning or error) with each setting it names as Python
    writes it said as the command's flag instead, where the command has that option
    (``options``: its parameter names; default: the running click command's).

    Example:
        >>> as_flags("rank by 'loss' instead (Task(..., monitor=...))", {"monitor"})
        "rank by 'loss' instead (--monitor METRIC)"
        >>> as_flags("give monitor='loss'; try optimizer='adam'", {"monitor"})
        "give --monitor loss; try optimizer='adam'"
        >>> as_flags("the loss falls from the first rates: start lower (start=1e-10)", {"start"})
        'the loss falls from the first rates: start lower (--start 1e-10)'
        >>> as_flags("or give budget=0.75 or more", {"budget"})
        'or give --budget 0.75 or more'
    """
    if options is None:
        ctx = click.get_current_context(silent=True)
        options = {p.name for p in ctx.command.params} if ctx is not None else set()

    def said(m: re.Match) -> str:
        name = m[1] or m[4] or m[5]
        if name not in options:
            return m[0]
        return f"--{name} {m[3] or m[6] or 'METRIC'}"

    return _SAID.sub(said, text)


def error_flags(text: str, params: Iterable[click.Parameter], given: Sequence[str] = ()) -> str:
    """An error line with the setting it names as Python writes it (at its start:
    ``epochs must be at least 1``, ``seeds lists 0 twice``, ``steps=5 is too few``,
    ``lr_mult pattern 'x' ...``; in its example: ``e.g. epochs=1``, ``give steps=10``) said
    as the command's flags (``--epochs must be ...``, ``--seeds lists ...``, ``e.g. --epochs
    1``, ``--steps 5``), for those the command has (``params``: its click parameters), then
    :func:`as_flags`. An option of several flags is said as the one the command line
    (``given``) spelled, else as its longest.

    Example:
        >>> epochs = click.Option(["--epochs"], type=int)
        >>> error_flags("epochs must be at least 1, got 0; e.g. epochs=1", [epochs])
        '--epochs must be at least 1, got 0; e.g. --epochs 1'
        >>> error_flags("seeds lists 0 twice; give each once", [click.Option(["--seeds"])])
        '--seeds lists 0 twice; give each once'
        >>> pair = [click.Option(["--start"]), click.Option(["--min-lr"])]
        >>> error_flags("start=10 must be above min_lr=10: halved from start", pair)
        '--start 10 must be above --min-lr 10: halved from start'
        >>> error_flags("device: unknown device 'tpu'", [click.Option(["--device"])],
        ...             ["--device", "tpu"])
        "--device: unknown device 'tpu'"
        >>> line = "momentum=1.5 must be in [0, 1) for the update rule momentum"
        >>> error_flags(line, [click.Option(["--momentum"], type=float)], ["--momentum", "1.5"])
        '--momentum 1.5 must be in [0, 1) for the update rule momentum'
        >>> error_flags(line, [click.Option(["--momentum"], type=float)], ["--hp", "momentum=1.5"])
        'momentum=1.5 must be in [0, 1) for the update rule momentum'
        >>> error_flags("cannot read x.db; give another db=PATH", [click.Option(["--db"])])
        'cannot read x.db; give another --db PATH'
        >>> chunk = click.Option(["--members-per-chunk", "--members-per-task", "members"])
        >>> error_flags("members must be at least 1", [chunk], ["--members-per-task", "0"])
        '--members-per-task must be at least 1'
    """
    params = list(params)
    options = [p for p in params if isinstance(p, click.Option) and p.name and p.opts]
    # a setting spelled as one of an option's flags (members_per_chunk) or as its name; an
    # option said as the flag typed (--members-per-task), else as its longest
    typed = {word.partition("=")[0] for word in given if word.startswith("--")}
    said = {p.name: next((o for o in p.opts if o in typed), max(p.opts, key=len))
            for p in options}
    flags = {opt.lstrip("-").replace("-", "_"): said[p.name] for p in options for opt in p.opts}
    flags |= said
    # a line's "NAME: " prefix is said as the flag only where the user typed that flag: a rule
    # named like its hyperparameter ("momentum: momentum must be in [0, 1)") came from --hp
    # momentum=1.5 as often as from --momentum 1.5
    typed_names = {name for p in options if typed & set(p.opts)
                   for name in (p.name, *(o.lstrip("-").replace("-", "_") for o in p.opts))}
    # a setting the user gave as NAME=VALUE (--hp momentum=1.5) is said as they wrote it,
    # not as a flag they never typed (--momentum 1.5)
    as_written = {word.partition("=")[0] for word in given
                  if not word.startswith("-") and "=" in word} - typed_names

    def valued(m: re.Match) -> str:
        return f"{flags[m[1]]} {m[2]}" if m[1] in flags and m[1] not in as_written else m[0]

    def named(m: re.Match) -> str:
        return flags.get(m[1], m[0])

    # only where the line names the setting itself (its start, its example after "e.g.",
    # "give" or "give another", the bound of a pair: "must be below end=10"): a schedule's
    # own keywords (plateau:monitor=...) are no flags
    text = re.sub(r"(?:^|(?<=e\.g\. )|(?<=give )|(?<=give another )|(?<=must be below )"
                  r"|(?<=must be above ))"
                  r"(\w+)=([^\s;,:)]+)", valued, text)
    text = re.sub(r"(?:^|(?<=every value of ))(\w+)(?= must be | lists | patterns? )|^(\w+)(?=: )",
                  lambda m: named(m) if m[1] else flags[m[2]] if m[2] in typed_names
                  else m[2], text)
    return as_flags(text, {p.name for p in params})


def with_monitor(task, monitor: str | None):
    """``task`` ranked by ``--monitor`` when given (the task checks the name against what
    it records before any training: one line naming those it does)."""
    if monitor is None:
        return task
    if not monitor.strip() or monitor != monitor.strip():
        raise LrlabError(f"--monitor {monitor!r} names no metric; give one the task records, "
                         "e.g. --monitor loss or --monitor accuracy")
    return task.replace(monitor=monitor)


def subset_task(task, subset: float | None, *, seed: int = 0):
    """``task`` on its ``--subset`` (itself without one)."""
    n = task.train_size
    if isinstance(subset, int) and n is not None and subset > n:
        raise LrlabError(f"--subset {subset} is more than the {n} training examples; give "
                         "fewer, or a fraction such as 0.5")
    return task.subset(subset, seed=seed) if subset is not None else task
