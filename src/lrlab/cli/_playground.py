"""``lrlab playground SURFACE``: update rules (or rates) racing on a 2-D loss surface.

A thin layer over :mod:`lrlab.playground`: every setting and output path is checked before
anything runs, the trajectories are computed once, then drawn into a PNG and/or a GIF and
summarised in a table.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from lrlab._checks import image_file
from lrlab._errors import LrlabError
from lrlab.cli._command import Command
from lrlab.cli._list import print_listing
from lrlab.cli._options import PATH, parse_hparams, with_options

__all__ = ["playground"]

DEFAULT_RULES = "sgd,momentum,nesterov,adagrad,rmsprop,adam"


@click.command(cls=Command)
@click.argument("surface", required=False)
@click.option("--optimizers", default=DEFAULT_RULES, show_default=True,
              help="comma list of update rules to compare")
@click.option("--lr", "--lrs", "lrs",
              help="rate(s): one, a comma list (0.001,0.01,0.1) or logspace:LO:HI:N; every "
                   "rule runs at each (default: the surface's, see lrlab list surfaces; 1 "
                   "for prodigy, dadapt_adam and dog, whose lr is a multiplier)")
@click.option("--steps", type=int, default=300, show_default=True, help="updates per member")
@click.option("--start", help="the common start X,Y (default: the surface's, see lrlab list surfaces)")
@with_options("hp")
@click.option("--out", type=PATH, help="draw the trajectories (.png)")
@click.option("--gif", type=PATH,
              help="animate the trajectories (.gif, with matplotlib's PillowWriter)")
@click.option("--frames", type=int, default=60, show_default=True,
              help="frames of the animation (one per step at most)")
@click.option("--list", "show_list", is_flag=True, hidden=True,
              help="list the surfaces and exit (lrlab list surfaces)")
def playground(surface: str | None, optimizers: str, lrs: str | None, steps: int,
               start: str | None, hp: tuple[str, ...], out: Path | None, gif: Path | None,
               frames: int, show_list: bool) -> None:
    """Trajectories of update rules on SURFACE (quadratic, rosenbrock, beale, saddle,
    himmelblau) over its contours: which rule gets to the minimum, how, and at what rate."""
    from lrlab.playground import SURFACES, get_surface, trajectories, write_gif, write_png

    if show_list:
        print_listing("surfaces")
        return
    if surface is None:
        raise LrlabError(f"give a surface: one of {', '.join(SURFACES)} "
                         "(lrlab list surfaces)")
    surf = get_surface(surface)
    for path, suffix in ((out, ".png"), (gif, ".gif")):
        if path is not None:
            image_file(path, suffix, f"trajectories{suffix}")
    if gif is not None and frames < 2:
        raise LrlabError(f"--frames must be at least 2, got {frames}")
    data = trajectories(surf, optimizers.split(","), _rates(lrs), steps=steps,
                        start=_start(start), hparams=parse_hparams(hp))
    _print_summary(data)
    if out is not None:
        write_png(data, out)
        click.echo(f"wrote {out}")
    if gif is not None:
        write_gif(data, gif, frames=frames)
        click.echo(f"wrote {gif}")


def _rates(text: str | None) -> list[float] | None:
    from lrlab.train import parse_lrs

    return None if text is None else parse_lrs(text)


def _start(text: str | None) -> tuple[float, float] | None:
    """``--start X,Y``."""
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise LrlabError(f"--start {text!r} must be two numbers X,Y, e.g. "
                         "--start=-1.5,2") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise LrlabError(f"--start {text!r} must be finite")
    return x, y


def _print_summary(data) -> None:
    from rich.table import Table

    from lrlab.cli._display import stdout

    table = Table(title=f"{data.surface.name}, {data.steps} steps from "
                        f"({data.path[0, 0, 0]:g}, {data.path[0, 0, 1]:g})")
    for name in ("member", "final loss", "nearest minimum", "distance", "settled at",
                 "diverged at"):
        table.add_column(name, justify="left" if name == "member" else "right")
    for row in data.summary().itertuples():
        table.add_row(row.label, f"{row.loss:.4g}", f"({row.minimum})", f"{row.distance:.3g}",
                      _step(row.reached), _step(row.diverged))
    stdout.print(table)
    stdout.print("settled at: the step from which a member stays within 0.01 of the minimum")


def _step(value: object) -> str:
    """A nullable step (the summary's ``reached`` and ``diverged``) as text."""
    import pandas as pd

    return "-" if pd.isna(value) else str(value)
