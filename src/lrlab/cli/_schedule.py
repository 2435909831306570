"""``lrlab schedule``: draw learning-rate schedules, show how a spec is read, and list the
names the command line knows.

The curves and the figure come from :mod:`lrlab.report` (compute, then draw:
:func:`schedule_curves` returns plain arrays that tests can check, :func:`plot_schedules`
draws them on the Agg canvas); this module writes the PNG through a temporary file and
``os.replace``, so a failure leaves nothing half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from lrlab._checks import IMAGE_METADATA, image_file
from lrlab._io import atomic_write
from lrlab.cli._command import Group
from lrlab.cli._list import print_listing
from lrlab.cli._options import PATH

if TYPE_CHECKING:
    from lrlab.report import ScheduleCurves

__all__ = ["plot_schedules", "schedule"]


def plot_schedules(data: ScheduleCurves, out: Path, *, log: bool = False) -> Path:
    """Draw one line per schedule against epochs and write the PNG ``out``.

    Args:
        data: what :func:`schedule_curves` returned.
        out: the ``.png`` to write (replaced whole, or left untouched on failure).
        log: a logarithmic rate axis (zero rates are left out).

    Returns:
        ``out``.
    """
    from lrlab.report import plot_schedules as draw_schedules

    image_file(out, ".png", "schedules.png")
    fig = draw_schedules(data, log=log)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                              metadata=IMAGE_METADATA))
    return out


@click.group("schedule", cls=Group)
def schedule() -> None:
    """Draw learning-rate schedules, or show how one is read (lrlab list schedules names
    them)."""


@schedule.command("plot")
@click.argument("specs", nargs=-1, required=True)
@click.option("--lr0", type=float, default=0.1, show_default=True,
              help="the member's rate (the peak of cyclic and onecycle)")
@click.option("--epochs", type=int, default=50, show_default=True, help="length of training")
@click.option("--steps-per-epoch", type=int, default=1, show_default=True,
              help="optimizer steps per epoch")
@click.option("--out", type=PATH, required=True, help="the .png to write")
@click.option("--log", "log_scale", is_flag=True, help="logarithmic rate axis")
def plot(specs: tuple[str, ...], lr0: float, epochs: int, steps_per_epoch: int, out: Path,
         log_scale: bool) -> None:
    """Draw each SPEC (NAME[:key=value,...], see `lrlab list schedules`) over training.

    A plateau spec has no curve to draw: its rate follows the validation metric of a run,
    so it is refused in one line (train with it; lrlab report draws the rates it took)."""
    from lrlab.report import schedule_curves

    image_file(out, ".png", "schedules.png")
    data = schedule_curves(specs, lr0=lr0, epochs=epochs, steps_per_epoch=steps_per_epoch)
    plot_schedules(data, out, log=log_scale)
    click.echo(f"wrote {out}")


@schedule.command("show")
@click.argument("specs", nargs=-1, required=True)
def show(specs: tuple[str, ...]) -> None:
    """Read each SPEC as a sweep would and print every key in effect (given or default)."""
    from lrlab.schedules import parse_schedule

    for spec in [parse_schedule(text) for text in specs]:  # every spec read before any line
        follows = (f"follows validation {spec.monitor}, epoch by epoch" if spec.follows_metric
                   else "follows time (keys in epochs)")
        click.echo(f"{spec}  {spec.kind.summary}; {follows}")
        for key, value in spec.values.items():
            given = "" if key in spec.options else "  (default)"
            click.echo(f"    {key} = {value}{given}: {spec.kind.keys[key].help}")


@schedule.command("list", hidden=True)
def list_schedules() -> None:
    """List the schedule names and their keys (as lrlab list schedules)."""
    print_listing("schedules")
