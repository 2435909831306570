"""Grid search on a validation set, and coarse to fine: whole decades, then inside the best.

Both train each stage as one population (every rate from the same initial weights and
example order) and score members the way :meth:`lrlab.train.SweepResult.best` does: the best
validation ``task.monitor`` over the epochs. The pick is :func:`~lrlab.search.choose`'s: a
rate that did not beat the untrained model never wins, and a lower rate within the noise of
the best takes the tie. The result's ``confidence`` gives the margin and the warnings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lrlab._checks import number, positive_rates, whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.search._common import (
    Callback,
    SearchResult,
    examples,
    plan,
    rate,
    rates_text,
)
from lrlab.search._confidence import (
    Confidence,
    assess,
    baseline,
    choose,
    scored_table,
)
from lrlab.search._findings import Finding
from lrlab.tasks import Task
from lrlab.train import SweepResult

__all__ = ["CoarseToFineResult", "GridResult", "coarse_to_fine", "decades", "fine_rates", "grid",
           "pick", "ranked"]


@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class GridResult(SearchResult):
    """What :func:`grid` found.

    Attributes:
        scores: the population's :meth:`~lrlab.train.SweepResult.summary`, best member
            first (diverged members, which have no score, last).
    """

    procedure: ClassVar[str] = "grid"
    scores: pd.DataFrame

    def verdict(self) -> str:
        """One line: the rate, its score, and how many rates it beat."""
        scored = _score_text(self.evidence[-1], self.scores, self.lr)
        return f"grid: lr={rate(self.lr)} ({scored}{self.sureness()})"


@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class CoarseToFineResult(SearchResult):
    """What :func:`coarse_to_fine` found (``evidence``: the decades, then the fine stage).

    Attributes:
        coarse_lr: the best whole decade of stage 1.
        decade: ``(low, high)``, the interval stage 2 searched.
        coarse_scores, fine_scores: each stage's summary, best member first.
    """

    procedure: ClassVar[str] = "coarse_to_fine"
    coarse_lr: float
    decade: tuple[float, float]
    coarse_scores: pd.DataFrame
    fine_scores: pd.DataFrame

    @property
    def coarse(self) -> SweepResult:
        """Stage 1: one member per decade."""
        return self.evidence[0]

    @property
    def fine(self) -> SweepResult:
        """Stage 2: the rates inside the best decade."""
        return self.evidence[1]

    def verdict(self) -> str:
        """One line: the rate, the decade it came from, its score."""
        return (f"coarse_to_fine: lr={rate(self.lr)} (inside {rate(self.decade[0])}.."
                f"{rate(self.decade[1])} around decade {rate(self.coarse_lr)}; "
                f"{_score_text(self.fine, self.fine_scores, self.lr)}{self.sureness()})")


def ranked(result: SweepResult) -> pd.DataFrame:
    """``result.summary()`` best member first (:meth:`~lrlab.train.SweepResult.ranked`)."""
    return result.ranked()


def _winner(result: SweepResult, what: str) -> pd.Series:
    best = result.best()
    if best is None or result.members["diverged"].all():
        raise LrlabError(f"{what}: every rate diverged ({rates_text(result.members['lr'])}); "
                         "try smaller learning rates")
    return best


def pick(result: SweepResult, task: Task, seed: int, what: str) -> tuple[float, Confidence]:
    """The rate :func:`~lrlab.search.choose` picks from ``result`` and its confidence."""
    _winner(result, what)  # every rate diverged: one error line
    table = scored_table(result.summary(), result.monitor)
    base = baseline(task, seed)
    chance, n = base.chance, base.score_n
    choice = choose(table, higher_is_better=result.higher_is_better, chance=chance,
                    monitor=result.monitor, n=n, binomial=base.binomial)
    extra = () if choice.learned else (_nothing_learned(table),)
    return choice.lr, assess(table, choice.lr, higher_is_better=result.higher_is_better,
                             chance=chance, monitor=result.monitor, n=n, extra=extra,
                             binomial=base.binomial)


def _nothing_learned(table: pd.DataFrame) -> str:
    """What to try when no rate beat chance: larger rates only below the first that
    diverged (past it, larger ones diverge too), else more epochs."""
    return Finding(_what_to_try(table), "no_rate_learned")


def _what_to_try(table: pd.DataFrame) -> str:
    t = table.sort_values("lr")
    lrs = t["lr"].to_numpy(float)
    gone = t["diverged"].to_numpy(bool) | ~np.isfinite(t["final"].to_numpy(float))
    if gone.all():
        return (f"no rate beat chance and none stayed finite: try rates below {rate(lrs[0])}, "
                "and check the data and the loss")
    top = lrs[~gone][-1]
    above = lrs[gone & (lrs > top)]
    if not len(above):
        return f"no rate beat chance: try rates above {rate(top)} (it did not diverge) or more epochs"
    if above[0] > 3 * top:
        return (f"no rate beat chance: try rates between {rate(top)} and {rate(above[0])} "
                "(which diverged), or more epochs")
    return (f"no rate beat chance, and {rate(above[0])} diverged: train longer (more "
            "epochs); larger rates will not help")


def _score_text(result: SweepResult, scores: pd.DataFrame, lr: float | None = None) -> str:
    """The verdict's score: the pick's (``lr``; default: the best row's) best validation
    score, and the best row's beside it when the pick is another rate (a lower rate within
    the noise, a lone learner's neighbour, the second seed's choice) or was not raced (a
    margin kept below a rate that blew up: then the best row's alone, and the confidence's
    clause says that the pick was not raced)."""
    top, m = scores.iloc[0], result.monitor
    at = (np.flatnonzero(np.isclose(scores["lr"].to_numpy(float), lr)) if lr is not None
          else [0])
    best = f"the best of {len(scores)} rates: {rate(top['lr'])} at {top[f'best_val_{m}']:.4f}"
    if not len(at):
        return best
    mine = scores.iloc[at[0]]
    epochs = int(mine["epochs"]) if "epochs" in mine else result.epochs  # its race's length
    text = (f"best validation {m} {mine[f'best_val_{m}']:.4f} at epoch "
            f"{int(mine['best_epoch'])} of {epochs}")
    return f"{text}, among {len(scores)} rates" if at[0] == 0 else f"its {text}; {best}"


def _seen(result: SweepResult, scores: pd.DataFrame) -> str:
    """What a population showed: the winner, the runner-up, the diverged."""
    m, top = result.monitor, scores.iloc[0]
    text = f"{rate(top['lr'])} scored best (validation {m} {top[f'best_val_{m}']:.4f})"
    if len(scores) > 1 and not pd.isna(scores.iloc[1][f"best_val_{m}"]):
        second = scores.iloc[1]
        text += f", then {rate(second['lr'])} ({second[f'best_val_{m}']:.4f})"
    diverged = result.members.loc[result.members["diverged"], "lr"].tolist()
    if diverged:
        text += f"; {rates_text(diverged)} diverged"
    return text


@warn_once()
def grid(task: Task | str, lrs: Sequence[float], *, epochs: int | None = None,
         optimizer: str = "sgd", seed: int = 0, subset: float | None = None,
         confirm: bool = False, callbacks: Sequence[Callback] = (),
         **settings: Any) -> GridResult:
    """Grid search: train every rate as one population and keep the best on validation data.

    Each member is scored by its best validation ``task.monitor`` over the epochs (as
    :meth:`~lrlab.train.SweepResult.best`); the pick is :func:`~lrlab.search.choose`'s: only
    rates that beat the untrained model by twice the noise of a score can win, and walking
    down from the best, a lower rate within that noise takes the tie.

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name.
        lrs: the rates to try, all positive.
        epochs: epochs per member (default: the task's).
        optimizer: the update rule's name.
        seed: the initial weights and example order every member shares (and the subset).
        subset: search on part of the training data: a count or a fraction.
        confirm: also train the winner on all the data for ``epochs`` (``confirmation``).
        callbacks: progress callbacks, called after every epoch of every population.
        **settings: other :class:`~lrlab.train.SweepConfig` fields (``batch_size``, ...).

    Returns:
        a :class:`GridResult`.

    Example:
        >>> result = grid("blobs", [0.1, 0.01], epochs=2)
        >>> result.lr in (0.1, 0.01)
        True

    Reference: Karpathy, cs231n "Neural Networks Part 3: Learning and Evaluation"
    (hyperparameter optimization: a single validation set, rates on a log scale).
    """
    lrs = positive_rates("grid lrs", lrs)
    p = plan("grid", task, subset=subset, epochs=epochs, optimizer=optimizer, seed=seed,
             callbacks=callbacks, settings=settings)
    result = p.train(lrs)
    lr, confidence = pick(result, p.task, p.seed, "grid")
    scores = ranked(result)
    explanation = (
        f"Trained {len(lrs)} rates ({rates_text(lrs)}) for {p.epochs} epochs on "
        f"{examples(p.task)} training examples, from one set of initial weights, and scored "
        f"each by its best validation {result.monitor}; "
        + (f"a rate must beat chance ({confidence.chance:.4f}: the untrained model, or "
           "always answering the majority class) by twice the noise, and "
           if math.isfinite(confidence.chance) else "")
        + f"a lower rate within the noise of the best takes the tie. {_seen(result, scores)}."
        f" So lr={rate(lr)}.")
    return GridResult(lr=lr, evidence=(result,), explanation=confidence.explained(explanation),
                      compute=p.cost(result), confirmation=p.confirm(lr) if confirm else None,
                      scores=scores, confidence=confidence)


def decades(lo: float, hi: float) -> list[float]:
    """Whole decades ``lo, 10 lo, 100 lo, ...`` up to ``hi`` (12 significant digits).

    Example:
        >>> decades(1e-3, 1.0)
        [0.001, 0.01, 0.1, 1.0]
    """
    count = math.floor(math.log10(hi / lo) + 1e-9) + 1
    return [float(f"{lo * 10.0 ** k:.12g}") for k in range(count)]


def fine_rates(best: float, count: int, *, lo: float = 0.0,
               hi: float = math.inf) -> tuple[tuple[float, float], list[float]]:
    """The interval around the best decade and ``count`` log-spaced rates spanning it.

    The interval is ``[best / sqrt(10), best * sqrt(10)]``, cut to ``[lo, hi]``: the rates
    nearer ``best`` than either neighbouring decade, on a log scale. Rates are rounded to 3
    significant digits (the interval is the rounded first and last).

    Example:
        >>> fine_rates(0.01, 5)
        ((0.00316, 0.0316), [0.00316, 0.00562, 0.01, 0.0178, 0.0316])
    """
    low, high = max(lo, best / math.sqrt(10)), min(hi, best * math.sqrt(10))
    rates = list(dict.fromkeys(float(f"{v:.3g}") for v in np.geomspace(low, high, count)))
    return (rates[0], rates[-1]), rates


#: The most rates coarse-to-fine's stage 2 spreads over its decade: 25 are 1.1x apart, the
#: finest step its verdict holds worth telling apart ("0.01 vs 0.011 are not"); more put
#: rates closer than that (fine=1000 ran hundreds of trainings of rates 1.002x apart).
FINE_MOST = 1 + math.floor(math.log(10) / math.log(1.1))


def _check_range(lo: float, hi: float, fine: int) -> None:
    for name, value in (("lo", lo), ("hi", hi)):
        number(name, value, low=0.0, strict=True)
    if hi < 10 * lo * (1 - 1e-9):
        raise LrlabError(f"hi={hi:g} must be a decade or more above the lowest rate ({lo:g}, "
                         f"hi >= 10 * lo): give hi={10 * lo:g} or more, or a lower lo")
    whole("fine", fine, low=2)
    if fine > FINE_MOST:
        raise LrlabError(f"fine={fine} puts the rates {10 ** (1 / (fine - 1)):.3f}x apart "
                         "across the decade, closer than coarse-to-fine tells apart (1.1x: 0.01 "
                         f"vs 0.011); give fine={FINE_MOST} or fewer")


@warn_once()
def coarse_to_fine(task: Task | str, *, lo: float = 1e-7, hi: float = 1.0, fine: int = 5,
                   epochs: int | None = None, optimizer: str = "sgd", seed: int = 0,
                   subset: float | None = None, confirm: bool = False,
                   callbacks: Sequence[Callback] = (), **settings: Any) -> CoarseToFineResult:
    """Coarse to fine: whole decades first, then a finer sweep inside the best decade.

    Stage 1 trains ``lo, 10 lo, ..., hi`` as one population and keeps the best decade ``r``
    (as :func:`grid` scores). Stage 2 trains ``fine`` log-spaced rates spanning
    ``[r / sqrt(10), r * sqrt(10)]`` (cut to ``[lo, hi]``) as a second population and keeps
    the best. Stage 1 saw ``r`` beat ``r / 10`` and ``10 r``, so the optimum lies nearer ``r``
    than either: between the log-midpoints, half a decade on each side (``[r, 10 r]`` would
    assume, without evidence, that it lies above ``r``). Five rates are ~1.8x apart: finer
    than that is not worth distinguishing (0.01 vs 0.011).

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name.
        lo, hi: the smallest and largest decade (``hi >= 10 lo``).
        fine: how many rates stage 2 tries (2 to :data:`FINE_MOST`, 25; odd counts retrain
            ``r`` itself).
        epochs, optimizer, seed, subset, confirm, callbacks, **settings: as :func:`grid`.

    Returns:
        a :class:`CoarseToFineResult`.

    Example:
        >>> result = coarse_to_fine("blobs", lo=1e-3, hi=1.0, fine=3, epochs=2)
        >>> result.decade[0] <= result.lr <= result.decade[1]
        True

    Reference: Karpathy, cs231n "Neural Networks Part 3: Learning and Evaluation" ("stage
    your search from coarse to fine").
    """
    _check_range(lo, hi, fine)
    p = plan("coarse_to_fine", task, subset=subset, epochs=epochs, optimizer=optimizer,
             seed=seed, callbacks=callbacks, settings=settings)
    coarse = p.train(decades(lo, hi))
    coarse_lr = float(_winner(coarse, "coarse_to_fine (stage 1)")["lr"])
    decade, rates = fine_rates(coarse_lr, fine, lo=lo, hi=hi)
    fine_result = p.train(rates)
    lr, confidence = pick(fine_result, p.task, p.seed, "coarse_to_fine (stage 2)")
    coarse_scores, fine_scores = ranked(coarse), ranked(fine_result)
    return CoarseToFineResult(
        lr=lr, evidence=(coarse, fine_result),
        explanation=confidence.explained(_c2f_explanation(
            p.epochs, coarse, coarse_scores, fine_result, fine_scores, decade, lr)),
        compute=p.cost(coarse) + p.cost(fine_result),
        confirmation=p.confirm(lr) if confirm else None, coarse_lr=coarse_lr, decade=decade,
        coarse_scores=coarse_scores, fine_scores=fine_scores, confidence=confidence)


def _c2f_explanation(epochs: int, coarse: SweepResult, coarse_scores: pd.DataFrame,
                     fine: SweepResult, fine_scores: pd.DataFrame, decade: tuple[float, float],
                     lr: float) -> str:
    r = float(coarse_scores.iloc[0]["lr"])
    step = (decade[1] / decade[0]) ** (1 / max(1, len(fine.members) - 1))
    text = (f"Stage 1 trained the decades {rates_text(coarse.members['lr'])} as one population "
            f"for {epochs} epochs: {_seen(coarse, coarse_scores)}. Stage 2 searched inside "
            f"{rate(r)}'s decade, {len(fine.members)} log-spaced rates from {rate(decade[0])} "
            f"to {rate(decade[1])} (the rates nearer {rate(r)} than either neighbouring "
            f"decade): {_seen(fine, fine_scores)}. These are ~{step:.2g}x apart; finer steps "
            f"(0.01 vs 0.011) are not worth telling apart, so lr={rate(lr)}.")
    tried = coarse.members["lr"]
    if r in (tried.min(), tried.max()):
        low = r == tried.min()
        beyond = f"lo={rate(r / 10)}" if low else f"hi={rate(r * 10)}"
        text += (f" {rate(r)} is the {'lowest' if low else 'highest'} decade tried; widen the "
                 f"range to look beyond it ({beyond}).")
    return text
