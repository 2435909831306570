"""``lrlab find TASK``: Leslie Smith's range test on a task's model and data."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from lrlab._errors import LrlabError
from lrlab.cli._command import Command
from lrlab.cli._options import OVERWRITE, PATH, RULE_OPTIONS, as_flags, with_options
from lrlab.cli._report import check_report, write_run_report

__all__ = ["find"]


@click.command(cls=Command)
@click.argument("task", required=False)
@click.option("--task", "task_opt",
              help="a user task: package.module:function returning lrlab.Task")
@click.option("--start", type=float, default=1e-7, show_default=True, help="first rate")
@click.option("--end", type=float, default=10.0, show_default=True, help="last rate")
@click.option("--steps", type=int, default=100, show_default=True, help="steps of the test")
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True,
              help="how the rate rises")
@click.option("--monitor", metavar="METRIC",
              help="the validation metric your training is ranked by (default: the task's). "
                   "The test reads the training loss whatever it is; 'loss' (a regression, "
                   "a multi-label model) changes the rates to try and, with Adam and its "
                   "kin, the reading's rules")
@with_options("optimizer", *RULE_OPTIONS, "hp", "device", "clip_grad_norm")
@click.option("--batch-size", type=int, help="batch size (default: the task's)")
@click.option("--accumulate", type=click.IntRange(min=1), default=1, show_default=True,
              help="batches per optimizer step (gradient accumulation), as you train")
@click.option("--seeds", help="the seeds to run the test with, a comma list as for sweep "
                              "(0,1,2), read on their median; default: --seed alone")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="seed of the initial weights and the data order (and of --subset)")
@click.option("--subset", help="run on a stratified subset: a count or a fraction")
@click.option("--data-dir", type=PATH,
              help="directory of the dataset's files (else $LRLAB_DATA, else a cache)")
@click.option("--out", type=PATH,
              help="write the curve (curve.csv) and the readings (readings.json) here")
@OVERWRITE
@with_options("report", "tensorboard")
@click.option("--quiet", "-q", is_flag=True,
              help="no notes on stderr of what the test did besides its ramp (second looks, "
                   "checks: --out's range_test.json keeps them); the readings and warnings "
                   "print as before")
def find(task: str | None, task_opt: str | None, start: float, end: float, steps: int,
         mode: str, monitor: str | None, optimizer: str | None, hp: tuple[str, ...], device: str | None,
         clip_grad_norm: float | None, batch_size: int | None, accumulate: int,
         seeds: str | None, seed: int, subset: str | None, data_dir: Path | None,
         out: Path | None, overwrite: bool, report: Path | None, tensorboard: Path | None,
         quiet: bool, **rule: float | None) -> None:
    """Range test: raise the rate step by step and read where the loss falls and breaks.

    It trains with the update rule you will train with (--optimizer and its
    hyperparameters, as for sweep): Adam and its kin are read by their own rules. The test
    itself raises a constant rate; under a schedule (warm-up, cosine, wsd) its rate is the
    schedule's peak, lr0 (lrlab auto --schedule races the start of the schedule itself)."""
    from lrlab.cli._options import (
        check_out,
        check_tensorboard,
        load_task,
        parse_hparams,
        parse_subset,
        subset_task,
        with_monitor,
        write_tensorboard,
    )
    from lrlab.search import range_test
    from lrlab.train import resolve_device

    check_out(out, overwrite=overwrite)
    resolve_device(device)  # a device this machine lacks: one line, before the data loads
    check_report(report)
    check_tensorboard(tensorboard)
    chosen = _seeds(seeds, seed)
    optimizer = optimizer or "sgd"
    hparams = parse_hparams(hp, **rule)
    full = with_monitor(load_task(task, task_opt, data_dir=data_dir), monitor)
    t = subset_task(full, parse_subset(subset), seed=seed)  # the user trains on ``full``
    if batch_size is not None and batch_size < 1:
        raise LrlabError(f"--batch-size must be at least 1, got {batch_size}")
    if clip_grad_norm is not None and not (math.isfinite(clip_grad_norm) and clip_grad_norm > 0):
        raise LrlabError(f"--clip-grad-norm must be a finite norm > 0, got {clip_grad_norm}")

    result = range_test(t, optimizer=optimizer, hparams=hparams, seeds=chosen, start=start, end=end,
                        steps=steps, mode=mode, batch_size=batch_size, extend=True,
                        device=device, full=full if t is not full else None,
                        accumulate=accumulate, clip_grad_norm=clip_grad_norm)
    looks = _looks(result)
    for line in [] if quiet else looks:
        print(line, file=sys.stderr)
    _report(result, t.name, optimizer, mode)
    settings = {"task": t.name, "optimizer": optimizer, "hparams": hparams, "mode": mode,
                "seeds": chosen, "device": str(resolve_device(device)),
                "accumulate": accumulate, "clip_grad_norm": clip_grad_norm,
                "seed": seed, "read_on": result.read_on, "reason": result.reason,
                "warnings": list(result.warnings), "warning_kinds": list(result.kinds),
                "next_step": result.next_step or None,
                "to_try": list(result.to_try),
                "looks": looks,
                "headroom": {"lr": None if math.isnan(result.headroom.lr) else result.headroom.lr,
                             "why": result.headroom.why}}
    if out is not None:
        _save(result, out, settings)
    if report is not None:
        from lrlab.report import RangeRun, range_test_info

        write_run_report(RangeRun(range_test_info(result), settings), report)
    write_tensorboard(result, tensorboard)


def _seeds(text: str | None, seed: int) -> list[int]:
    """``--seeds`` as every command reads it: the seeds themselves (``0,1,2``). A lone number
    above 1 is how ``find`` once asked for a count: it is taken as that many seeds from
    ``--seed``, with a one-line note saying how to write it now."""
    from lrlab.cli._options import parse_seeds

    seeds = parse_seeds(text)
    if seeds is None:
        return [seed]
    if len(seeds) == 1 and seeds[0] > 1:
        count = seeds[0]
        seeds = list(range(seed, seed + count))
        print(f"note: --seeds lists the seeds (as in sweep); running {count} seeds, "
              f"{','.join(map(str, seeds[:3]))}{',...' if count > 3 else ''} (write --seeds "
              f"{','.join(map(str, seeds[:3]))}{',...' if count > 3 else ''} to say so)",
              file=sys.stderr)
    if any(s < 0 for s in seeds):  # as sweep says it
        raise LrlabError(f"every value of --seeds must be at least 0, got "
                         f"{next(s for s in seeds if s < 0)}")
    return seeds  # one listed twice: range_test says so


def _looks(result) -> list[str]:
    """One line per second look ``range_test(extend=True)`` took, first to last."""
    chain = [result]
    while chain[-1].first is not None:
        chain.append(chain[-1].first)
    lines = []
    for before, after in zip(chain[:0:-1], chain[-2::-1]):
        if not len(before.lrs) or not len(after.lrs) or after.lrs[0] < before.lrs[0]:
            at = f", at {before.lrs[-1]:.3g}" if len(before.lrs) else ""
            lines.append(f"the loss diverged at once ({len(before.lrs)} steps{at}): ran the "
                         "test again from a thousandth of the start")
        elif after.lrs[0] <= before.lrs[0]:
            lines.append(f"no descent up to {before.lrs[-1]:.3g}: ran the test again up to "
                         f"{after.lrs[-1]:.3g}")
        else:
            lines.append(f"the loss stayed flat, then broke upwards: ran a second test of "
                         f"{len(after.lrs)} steps from {after.lrs[0]:.3g} (the three decades "
                         "below the break), read below")
    check = result.steady
    if check is not None:
        lines.append(f"checked the flat curve's reading by training for {check.steps} steps "
                     f"({check.cost:.3g} member-epochs): {check.text()}")
    lower = result.below
    if lower is not None:
        lines.append(f"trained the reading against lower rates for {lower.steps} steps "
                     f"({lower.cost:.3g} member-epochs): {lower.text()}: {lower.outcome()}")
    return lines


def _report(result, name: str, optimizer: str, mode: str) -> None:
    from rich.table import Table

    from lrlab.cli._display import stdout

    table = Table(title=f"{name}: range test, {optimizer}")
    for column in ("reading", "rate", "why"):
        table.add_column(column, overflow="fold")
    above = None
    for reading_name, reading in result.suggestions().items():
        rate = "-" if math.isnan(reading.lr) else f"{reading.lr:.3g}"
        table.add_row(reading_name, rate,
                      "as above" if reading.why == above else as_flags(reading.why))
        above = reading.why
    stdout.print(table)
    if len(result.lrs):
        stdout.print(f"{len(result.lrs)} steps, rate {result.lrs[0]:.3g} to {result.lrs[-1]:.3g}"
                     f" ({mode}): {result.reason}; Smith's readings from the {result.read_on}.",
                     soft_wrap=True)
    rate = result.suggestion.lr
    smith = result.recommended.lr
    also = ("" if math.isnan(smith) else f"; the table's 'recommended' {smith:.3g} is Smith's "
            f"reading, from the {result.read_on}, a different rule")
    room = result.headroom
    margin = ("" if math.isnan(room.lr) or math.isnan(rate) else
              f", {room.lr / rate:.3g}x below {room.why} ({room.lr:.3g})")
    stdout.print(f"suggested rate: {rate:.3g}{margin} (lrlab's rule on the training loss{also})"
                 if not math.isnan(rate) else
                 f"no rate: {as_flags(result.suggestion.why.removeprefix('suggestion: '))}",
                 soft_wrap=True, markup=False)
    for line in result.warnings:
        stdout.print(f"warning: {as_flags(line)}", soft_wrap=True, markup=False)
    if result.next_step:
        stdout.print(f"next: {as_flags(result.next_step)}", soft_wrap=True, markup=False)


def _save(result, out: Path, settings: dict) -> None:
    """``curve.csv``, ``readings.json``, ``range_test.json`` (the settings) and, after
    several seeds, ``band.csv`` (lowest, median and highest smoothed loss per step)."""
    from lrlab._io import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "curve.csv", lambda p: result.to_frame().to_csv(p))
    atomic_write(out / "range_test.json",
                 lambda p: p.write_text(json.dumps(settings, indent=2) + "\n"))
    if len(result.runs) > 1:
        atomic_write(out / "band.csv", lambda p: result.band().to_csv(p))
    else:  # --overwrite: an earlier test's band would read as this one's
        (out / "band.csv").unlink(missing_ok=True)
    readings = {name: {"lr": None if math.isnan(r.lr) else r.lr, "why": r.why}
                for name, r in result.suggestions().items()}
    atomic_write(out / "readings.json",
            lambda p: p.write_text(json.dumps(readings, indent=2) + "\n"))


find.instead = {  # flags of the other commands a user may give find
    **{flag: "it raises the rate step by step from --start to --end; to train rates you "
             "choose, give them to lrlab grid TASK --lrs A,B,C" for flag in ("--lr", "--lrs")},
    "--epochs": "the range test trains --steps optimizer steps (100 by default), not epochs"}

