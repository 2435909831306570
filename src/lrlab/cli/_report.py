"""``lrlab report RUN_DIR``: the tables in the terminal, as CSV and Markdown, and the HTML
page; ``lrlab learning-curve TASK``; and the ``--report PATH`` hook of the commands that
write a run.

Every output path is checked before anything is read or trained, and every file is written
through a temporary file and a rename, so bad input leaves nothing half-written.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from lrlab._checks import (
    MARKDOWN_FOOTER,
    markdown_file,
    out_file,
    page_file,
    table_file,
)
from lrlab._errors import LrlabError
from lrlab.cli._bundles import (
    MemberOptions,
    OutputOptions,
    TaskOptions,
    TrainOptions,
    member_options,
    output_options,
    task_options,
    train_options,
)
from lrlab.cli._command import Command
from lrlab.cli._options import FIND_RERUN, PATH, RERUN, Registry, as_flags, with_options

__all__ = ["check_report", "in_flags", "learning_curve_command", "report", "write_run_report"]


def check_report(path: Path | None) -> None:
    """``--report``: a file name in a writable folder, checked before any training."""
    if path is not None:
        page_file(path)


def write_run_report(run: Any, path: Path | None, **options: Any) -> None:
    """Write ``run``'s HTML report to ``path`` (nothing when ``None``) and say so, its
    advice in the running command's flags."""
    from lrlab.report import report_content

    if path is not None:
        _write_page(path, in_flags(report_content(run, **options)))


def in_flags(content: Any, options: Collection[str] | None = None) -> Any:
    """``content`` (a :class:`~lrlab.report.ReportContent`) with the advice it says (verdict,
    warnings, notes, captions, the settings' and tables' text) in the command line's flags
    (:func:`~lrlab.cli._options.as_flags`; ``options``: default the running command's)."""
    import dataclasses

    def say(value: Any) -> Any:
        if isinstance(value, str):
            return as_flags(value, options)
        if isinstance(value, list | tuple):
            return type(value)(say(v) for v in value)
        if isinstance(value, dict):
            return {k: say(v) for k, v in value.items()}
        return value

    import pandas as pd

    def text(column: pd.Series) -> bool:
        return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)

    def said(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()  # (by position: a column's name need not be text)
        for i in range(frame.shape[1]):
            if text(frame.iloc[:, i]):
                frame.iloc[:, i] = frame.iloc[:, i].map(say)
        return frame

    tables = [(say(caption), said(frame)) for caption, frame in content.tables]
    return dataclasses.replace(content, verdict=say(content.verdict), tables=tables,
                               warnings=say(list(content.warnings)), notes=say(content.notes),
                               settings=say(dict(content.settings)))


def _write_page(path: Path, content: Any) -> None:
    from lrlab.report import write_content

    write_content(content, path)
    print(f"report written to {path}", file=sys.stderr)


def _print_tables(tables: list) -> None:
    """Each table at the terminal's width: numbers whole, the label whole, the least
    telling columns left out (and named) when they do not fit."""
    from lrlab.cli._display import stdout
    from lrlab.cli._tables import print_frame

    for caption, frame in tables:
        if "label" in frame.columns and "member" in frame.columns:  # the label says it
            frame = frame.drop(columns="member")
        print_frame(stdout, frame, caption)


@click.command("report", cls=Command)
@click.argument("run_dir", type=PATH)
@click.option("--out", type=PATH,
              help="write the HTML report (one self-contained page) to this file")
@click.option("--plots", type=Registry("lrlab.report:PLOTS", "lrlab.report:check_plots",
                                      separator=","),
              help="the plots to draw, a comma list [default: all that apply]")
@click.option("--target", type=float,
              help="validation value that counts as converged [default: 95% of the best "
                   "member's best; best / 0.95 when lower is better]")
@click.option("--csv", "csv_out", type=PATH,
              help="write the first table (per member) as CSV")
@click.option("--markdown", type=PATH,
              help="write every table as Markdown")
@click.option("--title", help="the page title [default: from the run]")
@with_options("db")
def report(run_dir: Path, out: Path | None, plots: tuple[str, ...] | None, target: float | None,
           csv_out: Path | None, markdown: Path | None, title: str | None, db: Path) -> None:
    """Show a run's tables and write its HTML report (RUN_DIR: a folder --out wrote, or a
    study in --db)."""
    from lrlab._io import atomic_write
    from lrlab.cli._display import stdout
    from lrlab.cli._store import run_or_study
    from lrlab.report import RangeRun, markdown_table, report_content

    _distinct(out=out, csv=csv_out, markdown=markdown)
    if out is not None:
        page_file(out)
    if csv_out is not None:
        out_file(csv_out, example="table.csv")
    if markdown is not None:
        markdown_file(markdown)
    run = run_or_study(run_dir, db)
    content = in_flags(report_content(run, target=target, plots=plots, title=title,
                                      draw=out is not None),
                       FIND_RERUN if isinstance(run, RangeRun) else RERUN)
    if csv_out is not None:  # its header is known now, before anything is printed or written
        table_file(csv_out, _header(content.tables[0][1]))
    stdout.print(content.verdict, soft_wrap=True)
    for line in content.warnings:
        stdout.print(f"warning: {line}", soft_wrap=True, markup=False)
    _print_tables(content.tables)
    if csv_out is not None:
        atomic_write(csv_out, lambda p: content.tables[0][1].to_csv(p, index=False))
        print(f"table written to {csv_out}", file=sys.stderr)
    if markdown is not None:
        text = "\n".join(f"### {caption}\n\n{markdown_table(frame)}"
                         for caption, frame in content.tables) + f"\n{MARKDOWN_FOOTER}\n"
        atomic_write(markdown, lambda p: p.write_text(text, encoding="utf-8"))
        print(f"tables written to {markdown}", file=sys.stderr)
    if out is not None:
        _write_page(out, content)


def _distinct(**paths: Path | None) -> None:
    """Refuse one file given to two of report's outputs: the second would replace the
    first."""
    seen: dict[Path, str] = {}
    for name, path in paths.items():
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise LrlabError(f"--{seen[key]} and --{name} both name {path}; give each its own "
                             "file")
        seen[key] = name


def _header(frame: Any) -> str:
    """The first line ``frame.to_csv(index=False)`` writes."""
    return frame.head(0).to_csv(index=False).splitlines()[0]


@click.command("learning-curve", cls=Command)
@task_options(subset=False)
@member_options(variants=False)
@train_options
@output_options
@click.option("--sizes", default="0.1,0.25,0.5,1.0", show_default=True,
              help="training-set sizes: counts (100,250) or fractions (0.1,0.5), nested")
def learning_curve_command(task: TaskOptions, members: MemberOptions, training: TrainOptions,
                           output: OutputOptions, sizes: str) -> None:
    """Sweep the rates on nested subsets of the training data: metric against data size."""
    from lrlab.cli._display import progress_bar
    from lrlab.report import learning_curve, learning_curve_info
    from lrlab.train import validated

    output.check()
    data = task.load(subset=False)
    settings = {**training.settings(), "seed": task.seed, "lrs": members.lrs,
                "seeds": members.seeds}
    validated(**settings)
    counts = [_size(s) for s in sizes.split(",")]  # one listed twice: learning_curve says so
    with progress_bar(data.name, data.monitor, data.higher_is_better,
                      quiet=output.quiet) as callbacks:
        curve = learning_curve(data, sizes=counts, callbacks=callbacks, **settings)
    info = learning_curve_info(curve)
    _print_tables([(info.title, info.frame)])
    output.write(curve, lambda out, fmt: curve.save(out, format=fmt), what="learning curve")


def _size(text: str) -> int | float:
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise LrlabError(f"--sizes: {text!r} is neither a count nor a fraction; e.g. --sizes "
                     "100,250,500 or --sizes 0.1,0.5,1.0")
