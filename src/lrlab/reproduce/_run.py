"""Run a reproduction end to end: train, save, judge, draw, write the report.

:func:`reproduce` is what ``lrlab reproduce NAME --out DIR`` calls; :func:`judge` recomputes
the verdicts of a finished run from its files alone.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.reproduce._claims import VERDICTS, Claim, claims_frame
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import SIZES, Context, Experiment, Progress, Size
from lrlab.reproduce._registry import get_experiment
from lrlab.train import check_writable

__all__ = ["Outcome", "judge", "reproduce"]


@dataclass(frozen=True)
class Outcome:
    """A finished reproduction.

    Attributes:
        experiment: the experiment's name.
        size: the size it ran at.
        claims: the verdict table, one :class:`Claim` per claim of the brief.
        evidence: the records it trained (also under ``out``).
        out: the folder holding the records, ``claims.csv``, ``report.html`` and
            ``figures/``.
        report: the HTML report.
        figures: the PNG files of the report's figures.
        seconds: wall time of the whole run.
    """

    experiment: str
    size: Size
    claims: tuple[Claim, ...]
    evidence: Evidence
    out: Path
    report: Path
    figures: tuple[Path, ...]
    seconds: float

    def table(self) -> pd.DataFrame:
        """The verdict table: claim, measured, verdict, rule."""
        return claims_frame(self.claims)

    def verdict(self) -> str:
        """One line: how many claims hold, partly hold, do not hold."""
        return tally(self.experiment, self.size, self.claims)


def tally(name: str, size: str, claims: tuple[Claim, ...] | list[Claim]) -> str:
    """``blobs-sgd (reduced): of 7 claims, 4 hold, 2 partly, 1 does not``."""
    counts = Counter(c.verdict for c in claims)
    words = {"holds": ("holds", "hold"), "partly": ("partly", "partly"),
             "does not hold": ("does not", "do not"), "not run": ("not run", "not run")}
    parts = [f"{counts[v]} {words[v][counts[v] != 1]}" for v in VERDICTS
             if counts[v] or v == "holds"]
    return f"{name} ({size}): of {len(claims)} claims, " + ", ".join(parts)


def reproduce(name: str, out: str | os.PathLike, *, size: Size = "reduced",
              data_dir: str | os.PathLike | None = None, download: bool = True,
              device: str | None = None, progress: Progress | None = None,
              say: Callable[[str], None] | None = None, figures: bool = True) -> Outcome:
    """Run the experiment ``name`` at ``size``, judge the brief's claims, write the report.

    Args:
        name: one of :data:`~lrlab.reproduce.EXPERIMENTS` (``lrlab list experiments``).
        out: a folder (created if needed) for the records (``runs/``, ``tables/``,
            ``evidence.json``), the verdicts (``claims.csv``, ``claims.json``), the report
            (``report.html``) and its figures (``figures/NAME-N.png``).
        size: ``"reduced"`` (a few minutes on 2 CPU cores), ``"full"`` (the brief's size)
            or ``"test"`` (seconds; for the test suite).
        data_dir: where MNIST's IDX files are (else ``$LRLAB_DATA``, else a cache).
        download: whether missing dataset files may be downloaded.
        device: ``cpu``, ``cuda``, ... (default: CUDA when available).
        progress: wraps each population's training (see :data:`Progress`).
        say: gets a line for each step that is not a population's training.
        figures: also write each figure as ``figures/NAME-N.png`` (the report embeds them
            either way).

    Returns:
        An :class:`Outcome`; its verdicts equal :func:`judge` ``(out)``.

    Example:
        >>> outcome = reproduce("decay-schedules", "/tmp/decay", size="test")
        >>> outcome.table().columns.tolist()
        ['claim', 'measured', 'verdict', 'rule']
    """
    experiment = get_experiment(name)
    if size not in SIZES:
        raise LrlabError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    out = Path(out)
    check_writable(out)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise LrlabError(f"data directory {data_dir} does not exist; point --data-dir at the "
                         "folder holding the MNIST IDX files")
    start = time.perf_counter()
    ctx = Context(size, experiment.sizes[size], None if data_dir is None else str(data_dir),
                  download, device, **({"progress": progress} if progress else {}),
                  **({"say": say} if say else {}))
    evidence = experiment.train(ctx)
    evidence.save(out)
    claims = tuple(experiment.judge(evidence))
    _save_claims(claims, out)
    drawn = experiment.figures(evidence)
    pngs = tuple(_save_png(fig, out / "figures" / f"{experiment.name}-{i}.png")
                 for i, (_, fig) in enumerate(drawn, start=1)) if figures else ()
    report = _write_report(experiment, evidence, claims, drawn, out / "report.html")
    return Outcome(experiment.name, size, claims, evidence, out, report, pngs,
                   time.perf_counter() - start)


def judge(out: str | os.PathLike) -> list[Claim]:
    """The verdicts of the reproduction saved in ``out``, recomputed from its records."""
    evidence = Evidence.load(out)
    return get_experiment(evidence.experiment).judge(evidence)


def _save_claims(claims: tuple[Claim, ...], out: Path) -> None:
    frame = claims_frame(claims)
    atomic_write(out / "claims.csv", lambda p: frame.to_csv(p, index=False))
    rows = [{"claim": c.claim, "measured": c.measured, "verdict": c.verdict, "rule": c.rule,
             "values": dict(c.values)} for c in claims]
    text = json.dumps(rows, indent=2, default=float) + "\n"
    atomic_write(out / "claims.json", lambda p: p.write_text(text))


def _save_png(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))


def _write_report(experiment: Experiment, evidence: Evidence, claims: tuple[Claim, ...],
                  figures: list, path: Path) -> Path:
    from lrlab.report import write_page

    settings = {"experiment": experiment.name, "brief": experiment.section,
                "size": evidence.size, **evidence.settings}
    notes = ("Each verdict is computed from this run's records with the thresholds in its "
             "'rule' column; `lrlab.reproduce.judge(DIR)` recomputes them from the files.")
    return write_page(path, title=f"{experiment.name}: {experiment.summary}",
                      verdict=tally(experiment.name, evidence.size, claims), settings=settings,
                      tables=[("Claims of the brief and what this run measured",
                               claims_frame(claims)), *experiment.tables(evidence)],
                      figures=figures, notes=notes)

