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
from lrlab.cli._schedule import schedule

__all__ = ["app", "entry", "main"]

def _common(*, single: bool) -> list:
    """The options ``train`` and ``sweep`` share (``single``: one rate, no seeds)."""
    rates = (click.option("--lr", type=float, default=0.01, show_default=True,
                          help="the learning rate") if single else
             click.option("--lrs", default="1,0.1,0.01,0.001", show_default=True,
                          help="rates: a comma list (1,0.1,0.01) or logspace:LO:HI:N"))
    opts = [
        click.argument("task", required=False),
        rates,
        click.option("--task", "task_opt", help="a user task: package.module:function "
                                                "returning lrlab.Task"),
        click.option("--epochs", type=int, help="epochs (default: the task's)"),
        click.option("--batch-size", type=int, help="batch size (default: the task's)"),
        click.option("--optimizer", default="sgd", show_default=True,
                     help="update rule: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw"),
        *[click.option(f"--{name}", type=float, help=f"the rule's {name.replace('-', '_')}")
          for name in ("momentum", "weight-decay", "beta1", "beta2", "eps")],
        click.option("--hp", multiple=True, help="another hyperparameter, NAME=VALUE "
                                                 "(repeatable)"),
        click.option("--schedule", "schedules", multiple=True,
                     help="rate schedule, NAME[:key=value,...] (lrlab schedule list); repeat "
                          "to train schedules side by side"),
        click.option("--lr-mult", "lr_mult", multiple=True,
                     help="layer-wise rates, PATTERN=MULT[,PATTERN=MULT...] (e.g. "
                          "'head.*=10'); repeat to train variants side by side, 'uniform' "
                          "for none"),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="seed of the initial weights and the example order"),
        click.option("--subset", help="train on a stratified subset: a count (500) or a "
                                      "fraction (0.1)"),
        click.option("--data-dir", type=click.Path(path_type=Path),
                     help="directory of the dataset's files (else $LRLAB_DATA, else a cache)"),
        click.option("--download/--no-download", default=True, show_default=True,
                     help="download missing data files"),
        click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available)"),
        click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
                     show_default=True),
        click.option("--out", type=click.Path(path_type=Path),
                     help="write the records and a summary into this directory"),
        click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
                     show_default=True, help="records file format"),
        click.option("--quiet", "-q", is_flag=True, help="no progress bar"),
        click.option("--record-steps", is_flag=True, help="also record every step"),
    ]
    if not single:
        opts.insert(9, click.option("--seeds", help="comma list: cross every rate with each "
                                                    "seed (own weights and order per seed)"))
    return opts


def _options(single: bool):
    def wrap(fn):
        for opt in reversed(_common(single=single)):
            fn = opt(fn)
        return fn
    return wrap


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lrlab")
def app() -> None:
    """Find, schedule and study the learning rate of PyTorch networks."""


def _subset(text: str | None) -> int | float | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise LrlabError(f"--subset {text!r} is neither a count nor a fraction") from None


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise LrlabError(f"--seeds {text!r} must be a comma list of integers") from None


def _hparams(pairs: list[str] | None, **named: float | None) -> dict[str, float]:
    out = {k: v for k, v in named.items() if v is not None}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip().replace("-", "_")] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise LrlabError(f"--hp {pair!r} must look like NAME=VALUE, e.g. --hp alpha=0.9")
    return out


def _run(task_name: str | None, lrs: list[float], *, task_opt: str | None, subset: str | None,
         seed: int, data_dir: Path | None, download: bool, out: Path | None, fmt: str,
         quiet: bool, **settings: object) -> None:
    from lrlab.cli._display import print_result, progress_bar
    from lrlab.tasks import get_task
    from lrlab.train import fit, validated

    if (task_name is None) == (task_opt is None):
        raise LrlabError("give a task: a built-in name (lrlab tasks lists them) or "
                         "--task package.module:function")
    if fmt not in ("csv", "parquet"):
        raise LrlabError(f"--format must be csv or parquet, got {fmt!r}")
    if data_dir is not None and not data_dir.is_dir():
        raise LrlabError(f"data directory {data_dir} does not exist; create it or point "
                         "--data-dir at the folder holding the dataset's files")
    if out is not None and out.exists() and not out.is_dir():
        raise LrlabError(f"--out {out} is a file; give a directory")
    config = validated(lrs=lrs, seed=seed, **settings)  # every check before any work
    task = get_task(task_name or task_opt, data_dir=str(data_dir) if data_dir else None,
                    download=download, subset=_subset(subset), seed=seed)
    with progress_bar(task.name, task.monitor, task.higher_is_better, quiet=quiet) as callbacks:
        result = fit(task, config.members(), config, callbacks=callbacks)
    print_result(result)
    if out is not None:
        result.save(out, format=fmt)
        print(f"records written to {out}/", file=sys.stderr)


def _settings(kw: dict) -> dict:
    """Click's keyword arguments as the sweep's settings (every option popped, then passed)."""
    hparams = _hparams(kw.pop("hp"), **{k: kw.pop(k) for k in
                                        ("momentum", "weight_decay", "beta1", "beta2", "eps")})
    seeds = _seeds(kw.pop("seeds", None))
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
@_options(single=False)
def sweep(task: str | None, lrs: str, **kw: object) -> None:
    """Train one member per learning rate (x seed) in lockstep, then rank them."""
    from lrlab.train import parse_lrs

    _run(task, parse_lrs(lrs), **_settings(kw))


@app.command()
@_options(single=True)
def train(task: str | None, lr: float, **kw: object) -> None:
    """Train one network at one learning rate and summarise its curves."""
    _run(task, [lr], **_settings(kw))


@app.command("tasks")
def list_tasks() -> None:
    """List the built-in tasks."""
    from lrlab.tasks import DESCRIPTIONS

    for name, text in DESCRIPTIONS.items():
        print(f"{name:16s} {text}")


app.add_command(schedule)
app.add_command(find)


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
