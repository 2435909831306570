"""``lrlab schedule``: draw learning-rate schedules, and list the names the command line knows.

The curves and the figure come from :mod:`lrlab.report` (compute, then draw:
:func:`schedule_curves` returns plain arrays that tests can check, :func:`plot_schedules`
draws them on the Agg canvas); this module writes the PNG through a temporary file and
``os.replace``, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.report import ScheduleCurves, schedule_curves
from lrlab.report import plot_schedules as draw_schedules
from lrlab.schedules import PLATEAU_KEYS, SCHEDULES, ScheduleKind

__all__ = ["ScheduleCurves", "check_png_path", "plot_schedules", "schedule", "schedule_curves"]

_COMMON_KEYS = ("warmup", "warmup_start")


def check_png_path(out: Path) -> None:
    """Raise LrlabError unless ``out`` is a ``.png`` file name in a writable directory."""
    if out.suffix.lower() != ".png":
        raise LrlabError(f"--out {out} must end in .png")
    if out.is_dir():
        raise LrlabError(f"--out {out} is a directory; give a file name ending in .png")
    folder = out.parent
    if not folder.is_dir():
        raise LrlabError(f"the directory of --out, {folder}, does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise LrlabError(f"cannot write into {folder}; choose a writable directory for --out")


def plot_schedules(data: ScheduleCurves, out: Path, *, log: bool = False) -> Path:
    """Draw one line per schedule against epochs and write the PNG ``out``.

    Args:
        data: what :func:`schedule_curves` returned.
        out: the ``.png`` to write (replaced whole, or left untouched on failure).
        log: a logarithmic rate axis (zero rates are left out).

    Returns:
        ``out``.
    """
    check_png_path(out)
    fig = draw_schedules(data, log=log)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return out


@click.group("schedule")
def schedule() -> None:
    """Draw learning-rate schedules and list the ones the command line knows."""


@schedule.command("plot")
@click.argument("specs", nargs=-1, required=True)
@click.option("--lr0", type=float, default=0.1, show_default=True,
              help="the member's rate (the peak of cyclic and onecycle)")
@click.option("--epochs", type=int, default=50, show_default=True, help="length of training")
@click.option("--steps-per-epoch", type=int, default=1, show_default=True,
              help="optimizer steps per epoch")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the .png to write")
@click.option("--log", "log_scale", is_flag=True, help="logarithmic rate axis")
def plot(specs: tuple[str, ...], lr0: float, epochs: int, steps_per_epoch: int, out: Path,
         log_scale: bool) -> None:
    """Draw each SPEC (NAME[:key=value,...], see `lrlab schedule list`) over training."""
    check_png_path(out)
    data = schedule_curves(specs, lr0=lr0, epochs=epochs, steps_per_epoch=steps_per_epoch)
    plot_schedules(data, out, log=log_scale)
    click.echo(f"wrote {out}")


@schedule.command("list")
def list_schedules() -> None:
    """List the schedule names and their keys (times in epochs)."""
    for name, kind in SCHEDULES.items():
        click.echo(f"{name:10s} {kind.summary}")
        for key, spec in kind.keys.items():
            if key in _COMMON_KEYS:
                continue
            value = f"= {spec.default}" if spec.default is not None else _need(kind, key)
            if spec.choices:
                value += f"  [{'|'.join(spec.choices)}]"
            click.echo(f"{'':10s}   {key} {value}: {spec.help}")
    some = next(iter(SCHEDULES.values()))
    click.echo("every schedule also takes: " + ", ".join(
        f"{key} = {some.keys[key].default} ({some.keys[key].help})" for key in _COMMON_KEYS))
    click.echo(f"{'plateau':10s} cut the rate when a validation metric stops improving (lrlab "
               "sweep only: it follows the run, not the clock)")
    click.echo(f"{'':10s}   keys: {', '.join(PLATEAU_KEYS)} (monitor: loss, accuracy, error, "
               "sse or auc; the rest as torch's ReduceLROnPlateau)")
    click.echo("e.g. step:factor=0.5,every=5   exp:decay=100   cosine:warmup=5   "
               "multistep:milestones=30/60   plateau:factor=0.5,patience=3")


def _need(kind: ScheduleKind, key: str) -> str:
    """How a key without a default is asked for: required, one of a group, or optional."""
    for group in kind.one_of:
        if key in group:
            others = [k for k in group if k != key]
            return f"(required, or {' or '.join(others)})" if others else "(required)"
    return "(optional)"
