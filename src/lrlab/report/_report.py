"""The report of a run: what to show for a sweep, a range test, a search or a learning
curve, gathered into one :func:`~lrlab.report.write_page`.

:func:`load_run` reads a folder any ``--out`` wrote; :func:`report_content` decides the
verdict, settings, tables and figures; :func:`write_report` writes the page. The report
reads records only: it never trains.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lrlab._checks import page_file, repeated
from lrlab._errors import LrlabError
from lrlab.report._curves import (
    CURVE_METRICS,
    curves_info,
    grad_norm_info,
    plot_curves,
    plot_grad_norm,
)
from lrlab.report._grids import heatmap_info, plot_heatmap, plot_sse, sse_info
from lrlab.report._learning import LearningCurve, learning_curve_info, plot_learning_curve
from lrlab.report._page import write_page
from lrlab.report._range import RangeInfo, load_range_test, plot_range_test, range_test_info
from lrlab.report._schedules import plot_schedules, schedule_info
from lrlab.report._sensitivity import plot_sensitivity, sensitivity_info
from lrlab.report._style import rate_colors
from lrlab.report._tables import member_table, robustness_table, target_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lrlab.train import SweepResult

__all__ = ["PLOTS", "RangeRun", "ReportContent", "SearchRun", "load_run", "report_content",
           "write_report"]

#: Every plot a report can hold, by the name ``--plots`` takes.
PLOTS = ("curves", "heatmap", "sse", "grad_norm", "schedule", "sensitivity", "range_test",
         "learning_curve")

_SWEEP_PLOTS = ("curves", "heatmap", "sse", "grad_norm", "schedule", "sensitivity")


@dataclass(frozen=True)
class RangeRun:
    """A range test as the report sees it: its info and its settings."""

    info: RangeInfo
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SearchRun:
    """A search as the report sees it: ``search.json``'s content and its populations."""

    meta: dict
    stages: tuple[SweepResult, ...]
    confirmation: SweepResult | None
    range_test: RangeInfo | None = None


@dataclass
class ReportContent:
    """What a page shows (the arguments of :func:`~lrlab.report.write_page`)."""

    title: str
    verdict: str
    settings: dict
    tables: list[tuple[str, pd.DataFrame]]
    figures: list[tuple[str, Figure]]
    notes: str | None = None
    warnings: list[str] = field(default_factory=list)


def load_run(path: str | os.PathLike) -> SweepResult | RangeRun | SearchRun | LearningCurve:
    """Read a folder written by ``--out`` of ``sweep``/``train``, ``find``, ``grid``,
    ``fastest``, ``halving`` or ``learning-curve``.

    Raises:
        LrlabError: the folder does not exist, or holds no lrlab records.
    """
    from lrlab.train import SweepResult

    folder = Path(path)
    if not folder.is_dir():
        raise LrlabError(f"run directory {folder} does not exist; give a folder written by "
                         "--out of lrlab sweep, train, find, grid, fastest or halving")
    try:
        if (folder / "search.json").is_file():
            meta = json.loads((folder / "search.json").read_text())
            stages, i = [], 1
            while (folder / f"stage{i}" / "summary.json").is_file():
                stages.append(_checked(SweepResult.load(folder / f"stage{i}"), folder))
                i += 1
            confirm = folder / "confirm"
            return SearchRun(meta, tuple(stages), _checked(SweepResult.load(confirm), folder)
                             if (confirm / "summary.json").is_file() else None)
        if (folder / "readings.json").is_file() and (folder / "curve.csv").is_file():
            return RangeRun(*load_range_test(folder))
        if (folder / "learning_curve.json").is_file():
            curve = LearningCurve.load(folder)
            for run in curve.runs:
                _checked(run, folder)
            return curve
        if (folder / "summary.json").is_file():
            return _checked(SweepResult.load(folder), folder)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        if isinstance(err, LrlabError):
            raise
        raise LrlabError(f"cannot read the run in {folder} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'unreadable'}); "
                         "write it again with --out") from None
    raise LrlabError(_not_a_run(folder))


#: The --out folders of the studies, by the file each writes: (command, result class).
_STUDIES = {"cooldown.json": ("cooldown", "CooldownResult"), "race.json": ("race", "RaceResult"),
            "scaling.json": ("scaling", "ScalingResult"), "width.json": ("width", "WidthResult")}


def _not_a_run(folder: Path) -> str:
    """Why ``folder`` is no run: a reproduction's or a study's --out (each holding runs
    report reads, named), or no lrlab folder at all."""
    def inside() -> str:  # (two levels down at most: a reproduction's runs/NAME)
        runs = sorted({str(p.parent) for pattern in ("*/summary.json", "*/*/summary.json")
                       for p in folder.glob(pattern)})
        more = ", ..." if len(runs) > 4 else ""
        return f"; lrlab report reads each run in it: {', '.join(runs[:4])}{more}" if runs else ""

    if (folder / "evidence.json").is_file():
        return (f"{folder} is a reproduction (lrlab reproduce --out), not one run: its page is "
                f"{folder / 'report.html'}{inside()}")
    for name, (command, cls) in _STUDIES.items():
        if (folder / name).is_file():
            return (f"{folder} is an lrlab {command} study (its --out), not one run: its page "
                    f"is {command}'s --report (from Python: lrlab.studies.{cls}.load(folder)"
                    f".write_report(PAGE)){inside()}")
    return (f"{folder} holds no lrlab records (no summary.json, search.json or readings.json); "
            "give a folder written by --out")


def _checked(run: SweepResult, folder: Path) -> SweepResult:
    if run.records.empty:
        raise LrlabError(f"{folder} holds no records (the records file is empty); "
                         "train again with --out")
    return run


def check_plots(plots: Sequence[str] | None) -> tuple[str, ...] | None:
    """``plots`` as a tuple of known names (``None``: every plot that applies)."""
    if plots is None:
        return None
    names = tuple(p.strip() for p in plots if p.strip())
    unknown = [p for p in names if p not in PLOTS]
    if unknown or not names:
        raise LrlabError(f"unknown plot {unknown[0] if unknown else ''!r}; choose from "
                         f"{', '.join(PLOTS)}")
    if (twice := repeated(names)) is not None:  # each is drawn once
        raise LrlabError(f"plots lists {twice!r} twice; give each once")
    return names


def report_content(run: Any, *, target: float | None = None,
                   plots: Sequence[str] | None = None, title: str | None = None,
                   draw: bool = True) -> ReportContent:
    """Verdict, settings, tables and figures for ``run`` (see :func:`write_report`);
    ``draw=False`` checks ``plots`` against the run but draws nothing."""
    from lrlab.search import RangeTestResult, SearchResult
    from lrlab.train import SweepResult

    chosen = check_plots(plots)
    if isinstance(run, (str, os.PathLike)):
        run = load_run(run)
    if isinstance(run, SweepResult):
        kind, build = "a sweep", _sweep_content
    elif isinstance(run, (RangeTestResult, RangeRun)):
        kind, build = "a range test", _range_content
        if target is not None:  # it would be dropped without a word
            raise LrlabError("target must be left out for a range test: it times how fast "
                             "a sweep's members reach a value, and a range test trains none")
        # a result from Python carries its warnings itself (the CLI's settings hold them too)
        run = (run if isinstance(run, RangeRun) else
               RangeRun(range_test_info(run), {"warnings": list(run.said())}))
    elif isinstance(run, (SearchResult, SearchRun)):
        kind, build = "a search", _search_content
        if not isinstance(run, SearchRun):
            placed = getattr(run, "range_test", None)  # auto: the range test behind the race
            run = SearchRun(run.to_dict(), tuple(run.evidence), run.confirmation,
                            range_test_info(placed) if placed is not None else None)
    elif isinstance(run, LearningCurve):
        kind, build = "a learning curve", _learning_content
    else:
        raise LrlabError(f"cannot report on a {type(run).__name__}; give a SweepResult, a "
                         "RangeTestResult, a search result, a LearningCurve or a run folder")
    applies = _APPLIES[build]
    if chosen is not None:
        extra = [p for p in chosen if p not in applies]
        if extra:
            raise LrlabError(f"plot {extra[0]!r} does not apply to {kind}; it has: "
                             f"{', '.join(applies)}")
    content = build(run, target=target, plots=(chosen or applies) if draw else ())
    if title:
        content.title = title
    return content


def write_report(run: Any, out: str | os.PathLike, *, target: float | None = None,
                 plots: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write the HTML report of ``run``: the verdict, the settings, the tables, the plots.

    Args:
        run: a :class:`~lrlab.train.SweepResult`, a :class:`~lrlab.search.RangeTestResult`,
            a search result (:func:`~lrlab.search.grid`, ``fastest``, ...), a
            :class:`LearningCurve`, or a folder one of them was saved in.
        out: the ``.html`` file (written atomically; its folder must exist).
        target: the value of the monitored validation metric that counts as converged
            (default: 95% of the best member's best; see :func:`member_table`); within
            the metric's range (0 to 1 for accuracy, error and AUC); none for a range test.
        plots: names from :data:`PLOTS` (default: every one that applies).
        title: the page title (default: from the run).

    Returns:
        ``out`` as a path.

    Example:
        >>> from lrlab import sweep
        >>> write_report(sweep("blobs", lrs=[1.0, 0.1], epochs=2), "/tmp/report.html").name
        'report.html'
    """
    page_file(out)  # before the plots are drawn
    return write_content(report_content(run, target=target, plots=plots, title=title), out)


def write_content(content: ReportContent, out: str | os.PathLike) -> Path:
    """Write ``content`` (:func:`report_content`'s, perhaps reworded, as the command line
    says its advice in flags) as the HTML page ``out``; :func:`write_page` refuses a file
    lrlab did not write there."""
    return write_page(out, title=content.title, verdict=content.verdict,
                      settings=content.settings, tables=content.tables,
                      figures=content.figures, notes=content.notes, warnings=content.warnings)


# -- sweeps -------------------------------------------------------------------------------

def run_tables(run: SweepResult, *, target: float | None = None,
               prefix: str = "") -> list[tuple[str, pd.DataFrame]]:
    """The per-member table and, with several seeds, the robustness table."""
    goal = target_value(run, target)
    how = "given" if target is not None else "95% of the best member's best" \
        if run.higher_is_better else "the best member's best / 0.95"
    sign = ">=" if run.higher_is_better else "<="
    tables = [((f"{prefix}per member (target: validation {run.monitor} {sign} {goal:.4g}, "
               f"{how})"), member_table(run, target=target))]
    spread = robustness_table(run, target=target)
    if spread is not None:
        tables.append((f"{prefix}robustness: spread over seeds per setting", spread))
    basins = sensitivity_info(run)
    if any(len(b.rates) >= 2 for b in basins.basins):
        tables.append(((f"{prefix}sensitivity: the basin of good rates ({basins.rule()}; "
                       "open: it reaches the edge of the rates swept)"), basins.frame()))
    return tables


def _run_settings(run: SweepResult) -> dict:
    order = "higher" if run.higher_is_better else "lower"
    settings = {"task": run.task, "monitor": f"validation {run.monitor} ({order} is better)",
                "members": len(run.members)}
    settings.update({k: v for k, v in run.config.items() if v not in (None, {}, [])})
    return settings


def page_colors(*runs: SweepResult) -> dict[float, tuple]:
    """The one colour per rate of a page: :func:`rate_colors` over every rate of ``runs``
    (a search's stages and confirmation, a learning curve's sizes), passed to every plot."""
    return rate_colors(lr for run in runs for lr in run.members["lr"])


def sweep_figures(run: SweepResult, plots: Sequence[str], prefix: str = "",
                  metrics: Sequence[str] = CURVE_METRICS, *,
                  colors: Mapping[float, tuple] | None = None,
                  ) -> tuple[list[tuple[str, Figure]], list[str]]:
    """The figures of ``plots`` that ``run``'s records allow (``curves``: one per metric of
    ``metrics`` recorded), and the names skipped; every rate in its colour of ``colors``
    (the page's :func:`page_colors`; default: ``run``'s own)."""
    colors = page_colors(run) if colors is None else colors
    recorded = set(zip(run.records["split"], run.records["metric"]))
    figures, skipped = [], []

    def add(name: str, needs: tuple[str, str], caption: str, make: Callable[[], Figure]):
        if needs in recorded:
            figures.append((prefix + caption, make()))
        else:
            skipped.append(f"{prefix}{name} ({needs[0]} {needs[1]} not recorded)")

    for name in plots:
        if name == "curves":
            for metric in (m for m in metrics if ("val", m) in recorded
                           or ("train", m) in recorded):
                figures.append((f"{prefix}{metric} per epoch",
                                plot_curves(curves_info(run, metric), colors=colors)))
        elif name == "heatmap":
            add(name, ("val", run.monitor), f"validation {run.monitor}: rate x epoch",
                lambda: plot_heatmap(heatmap_info(run)))
        elif name == "sse":
            add(name, ("train", "sse"), "training SSE per rate, first and last epoch",
                lambda: plot_sse(sse_info(run), colors=colors))
        elif name == "grad_norm":
            add(name, ("train", "grad_norm"), "gradient norm per epoch",
                lambda: plot_grad_norm(grad_norm_info(run), colors=colors))
        elif name == "schedule":
            add(name, ("train", "lr"), "learning rate over training",
                lambda: plot_schedules(schedule_info(run), log=True, colors=colors))
        elif name == "sensitivity":
            info = sensitivity_info(run)
            if any(len(b.rates) >= 2 for b in info.basins):
                figures.append(((f"{prefix}final validation {run.monitor} against the rate, "
                                "the basin of good rates shaded"), plot_sensitivity(info, colors=colors)))
            else:
                skipped.append(f"{prefix}sensitivity (fewer than two rates)")
    return figures, skipped


def _sweep_content(run: SweepResult, *, target, plots) -> ReportContent:
    figures, skipped = sweep_figures(run, plots)
    return ReportContent(
        title=f"lrlab: {run.task}, {run.optimizer}, {run.epochs} epochs",
        verdict=run.verdict(), settings=_run_settings(run),
        tables=run_tables(run, target=target), figures=figures,
        notes="not drawn: " + "; ".join(skipped) if skipped else None)


# -- range tests --------------------------------------------------------------------------

def _range_content(run: RangeRun, *, target, plots) -> ReportContent:
    info = run.info
    rows = info.readings[info.readings["name"] == "suggestion"]
    why = rows["why"].iloc[0] if len(rows) else ""
    room = run.settings.get("headroom") or {}  # lrlab find's margin (older runs lack it)
    margin = (f", {room['lr'] / info.suggestion:.3g}x below {room.get('why', '')} "
              f"({room['lr']:.3g})" if isinstance(room.get("lr"), (int, float))
              and math.isfinite(info.suggestion) and info.suggestion > 0 else "")
    verdict = (f"suggested rate {info.suggestion:.3g}{margin}: {why}"
               if math.isfinite(info.suggestion)
               else f"no rate: {why.removeprefix('suggestion: ')}" if why
               else "no rate could be read from this curve")
    curve = info.curve
    skip = ("warnings", "warning_kinds", "next_step", "headroom", "looks")
    settings = {**{k: v for k, v in run.settings.items() if k not in skip},
                "steps": len(curve),
                "rates": f"{curve['lr'].iloc[0]:.3g} to {curve['lr'].iloc[-1]:.3g}"}
    if info.reason:
        settings["stopped"] = info.reason
    if info.read_on:
        settings["Smith's readings taken from"] = info.read_on
    if run.settings.get("looks"):  # lrlab find ran the test again (range_test, extend=True)
        settings["looked again"] = "; ".join(str(x) for x in run.settings["looks"])
    if info.band is not None:
        settings["seeds"] = settings.get("seeds", "several (band: lowest to highest)")
    name = run.settings.get("task", "")
    return ReportContent(
        title=f"lrlab: range test{f' on {name}' if name else ''}", verdict=verdict,
        settings=settings, warnings=[str(w) for w in run.settings.get("warnings") or []]
        + ([f"next: {run.settings['next_step']}"] if run.settings.get("next_step") else []),
        tables=[("readings and suggestions", info.readings)],
        figures=[("range test: loss and accuracy against the rate, every reading marked",
                  plot_range_test(info))] if "range_test" in plots else [])


# -- searches -----------------------------------------------------------------------------

def _search_content(run: SearchRun, *, target, plots) -> ReportContent:
    meta = run.meta
    procedure = str(meta.get("procedure", "search"))
    tables, settings = [], {"procedure": procedure}
    for key, value in meta.items():
        if key in ("verdict", "explanation", "warnings", "next_step"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((key.replace("_", " "), pd.DataFrame(value)))
        elif isinstance(value, dict) and value and all(
                v is None or isinstance(v, (int, float)) for v in value.values()):
            tables.append((key.replace("_", " "), pd.DataFrame(
                {"name": list(value), "value": [math.nan if v is None else v
                                                for v in value.values()]})))
        else:
            settings[key] = value
    figures, skipped = [], []
    if "range_test" in plots:
        if run.range_test is not None:
            figures.append(("range test that placed the candidates",
                            plot_range_test(run.range_test)))
        elif "range_test" in meta:
            skipped.append("range test (only its readings are saved with the search)")
    populations = [(f"stage {i}: ", stage) for i, stage in enumerate(run.stages, start=1)]
    if run.confirmation is not None:
        populations.append(("confirmation: ", run.confirmation))
    colors = page_colors(*(population for _, population in populations))
    for prefix, population in populations:
        if populations:
            settings.setdefault("task", population.task)
        tables += run_tables(population, target=target, prefix=prefix)
        shown = [p for p in plots if p != "sse" or (procedure == "fastest" and prefix ==
                                                    "stage 1: ")]
        more, missed = sweep_figures(population, shown, prefix,
                                     metrics=dict.fromkeys(("loss", population.monitor)),
                                     colors=colors)
        figures += more
        skipped += missed
    notes = str(meta.get("explanation", ""))
    if skipped:
        notes += "\n\nnot drawn: " + "; ".join(skipped)
    return ReportContent(title=f"lrlab: {procedure} search on {settings.get('task', '')}",
                         verdict=str(meta.get("verdict", "")), settings=settings,
                         tables=tables, figures=figures, notes=notes or None,
                         warnings=[str(w) for w in meta.get("warnings") or []]
                         + ([f"next: {meta['next_step']}"] if meta.get("next_step") else []))


# -- learning curves ----------------------------------------------------------------------

def _learning_content(curve: LearningCurve, *, target, plots) -> ReportContent:
    info = learning_curve_info(curve)
    largest = curve.runs[-1]
    colors = page_colors(*curve.runs)
    figures = []
    if "learning_curve" in plots:
        name = f"learning curve: best validation {info.metric} against training examples"
        figures.append((name, plot_learning_curve(info, colors=colors)))
    more, skipped = sweep_figures(largest, [p for p in plots if p in _SWEEP_PLOTS],
                                  f"{curve.sizes[-1]} examples: ", colors=colors)
    settings = {"task": curve.task, "sizes": list(curve.sizes), **_run_settings(largest)}
    settings["task"] = curve.task
    return ReportContent(
        title=f"lrlab: learning curve on {curve.task}",
        verdict=f"with all {curve.sizes[-1]} examples, {largest.verdict()}",
        settings=settings,
        tables=[(info.title, info.frame),
                *run_tables(largest, target=target, prefix=f"{curve.sizes[-1]} examples: ")],
        figures=figures + more, notes="not drawn: " + "; ".join(skipped) if skipped else None)


_APPLIES: dict[Callable, tuple[str, ...]] = {
    _sweep_content: _SWEEP_PLOTS,
    _range_content: ("range_test",),
    _search_content: ("range_test", *_SWEEP_PLOTS),
    _learning_content: ("learning_curve", *_SWEEP_PLOTS),
}
