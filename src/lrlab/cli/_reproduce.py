"""``lrlab reproduce NAME [--size test|reduced|full] --out DIR``; ``lrlab list experiments``
names them.

One call of :func:`lrlab.reproduce.reproduce`: it trains the experiment, writes its records,
verdicts and HTML report into ``--out``, and this command prints the verdict table: each
claim of the brief, what the run measured, and whether the claim holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrlab._errors import LrlabError
from lrlab.cli._command import Command
from lrlab.cli._list import print_listing
from lrlab.cli._options import LibraryDefault, Registry, check_out, library_default, with_options

__all__ = ["reproduce"]

_COLOURS = {"holds": "green", "partly": "yellow", "does not hold": "red", "not run": "dim"}


@click.command(cls=Command)
@click.argument("name", required=False)
@click.option("--list", "show_list", is_flag=True, hidden=True,
              help="list the experiments and exit (lrlab list experiments)")
@click.option("--size", type=Registry("lrlab.reproduce:SIZES"), cls=LibraryDefault,
              library="lrlab.reproduce:reproduce",
              help="the run's size: test (seconds), reduced (a few minutes on 2 CPU cores) or "
                   "full (the brief's)")
@click.option("--full", is_flag=True, help="shorthand for --size full")
@with_options("data_dir", "download", "device", "out", "overwrite", "quiet")
def reproduce(name: str | None, show_list: bool, full: bool, size: str | None,
              data_dir: Path | None, download: bool, device: str | None, out: Path | None,
              overwrite: bool, quiet: bool) -> None:
    """Run one of the brief's experiments and say whether each of its claims holds."""
    from lrlab.reproduce import get_experiment

    if show_list:
        print_listing("experiments")
        return
    if name is None:
        raise LrlabError("give an experiment NAME (lrlab list experiments shows them)")
    get_experiment(name)  # an unknown name fails here, before anything else
    if out is None:
        raise LrlabError("give --out DIR: the records, the verdicts and the report go there")
    if full and size not in (None, "full"):
        raise LrlabError(f"--full and --size {size} disagree; give one of them")
    check_out(out, overwrite=overwrite)
    size = "full" if full else size or library_default("lrlab.reproduce:reproduce", "size")
    _run(name, out, size, data_dir, download, device, quiet)


for _param in reproduce.params:  # this command's own --out text
    if _param.name == "out":
        _param.help = "the folder for the records, claims.csv, report.html and figures/"


def _run(name: str, out: Path, size: str, data_dir: Path | None, download: bool,
         device: str | None, quiet: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from lrlab.cli._display import progress_bar, stdout
    from lrlab.reproduce import reproduce as run

    def progress(title: str, monitor: str, higher: bool):
        return progress_bar(title, monitor, higher, quiet=quiet)

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr)

    outcome = run(name, out, size=size, data_dir=data_dir, download=download, device=device,
                  progress=progress, say=say)
    table = Table(title=f"{name} ({size}): the brief's claims", show_lines=True)
    table.add_column("claim", overflow="fold", ratio=3)
    table.add_column("measured", overflow="fold", ratio=5)
    table.add_column("verdict", overflow="fold", ratio=1)
    for c in outcome.claims:
        table.add_row(escape(c.claim), escape(c.measured),
                      f"[{_COLOURS[c.verdict]}]{c.verdict}[/]")
    stdout.print(table)
    stdout.print(escape(outcome.verdict()), soft_wrap=True)
    print(f"records, claims.csv and report.html written to {out}/ "
          f"({outcome.seconds:.0f} s)", file=sys.stderr)
