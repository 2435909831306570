"""lrlab's default procedure: a range test to place the candidates, a short race to pick one.

A range test is cheap (a fraction of an epoch) but its readings are guesses about training
that has not happened; a grid trained for the full epochs answers the real question but
costs a full training per rate. :func:`auto` spends a little of each:

1. **Place.** A range test (up to three seeds, one vectorised population) finds the bottom
   of the loss curve: the rate where its robust trend reaches its minimum (lrlab's
   :func:`~lrlab.search.suggest`; without a clear descent, the trend's lowest point).
2. **Race.** ``candidates`` rates, half a decade apart, from ten times that bottom down,
   train as one population for ``budget`` of a full training each (fewer epochs, then a
   stratified subset when one epoch is already too much), scored on validation data as
   :func:`~lrlab.search.grid` scores.
3. **Refine.** The two rates a quarter decade either side of the winner race on the same
   budget, from the same weights and order, so all scores compare; the best of the three
   wins.

The top candidate is capped at the largest rate the range test reached, so a test that
diverged early bounds the race. The constants (ten times the bottom, half-decade steps, six
candidates, 15% of a training each, the quarter-decade refinement) were calibrated on the
built-in tasks against an oracle grid (``benchmarks/finder_quality.py``, results in
``docs/benchmarks.md``): without the refinement, mnist-cnn's optimum fell between two
candidates and the pick lost a full point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab.search._common import (
    Callback,
    Plan,
    SearchResult,
    check_number,
    examples,
    plan,
    rate,
    rates_text,
)
from lrlab.search._grid import _score_text, _seen, _winner, ranked
from lrlab.search._result import RangeTestResult
from lrlab.search._smooth import trend
from lrlab.search._task_range import range_test
from lrlab.tasks import Task
from lrlab.train import SweepResult, rank

__all__ = ["AutoResult", "auto", "candidate_rates", "short_run"]

#: Steps of the range test that places the candidates.
_RANGE_STEPS = 100


@dataclass(frozen=True, eq=False)
class AutoResult(SearchResult):
    """What :func:`auto` found (``evidence``: the race population).

    Attributes:
        range_test: the range test that placed the candidates.
        bottom: the rate at the bottom of the range test's loss trend.
        candidates: the rates raced, largest first.
        refined: the two rates a quarter decade either side of the race's winner, raced
            after it (empty with ``refine=False``).
        scores: both races' summaries in one table, best member first.
        race_epochs: epochs each candidate trained.
        race_examples: training examples each candidate trained on.
    """

    procedure: ClassVar[str] = "auto"
    range_test: RangeTestResult
    bottom: float
    candidates: tuple[float, ...]
    refined: tuple[float, ...]
    scores: pd.DataFrame
    race_epochs: int
    race_examples: int

    def verdict(self) -> str:
        """One line: the rate and how it was found."""
        raced = len(self.candidates) + len(self.refined)
        return (f"auto: lr={rate(self.lr)} (raced {raced} rates placed by a range test; "
                f"{_score_text(self.evidence[0], self.scores)})")

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`SearchResult.to_dict`, with the range test as its readings."""
        out = super().to_dict()
        out["range_test"] = {name: r.lr for name, r in self.range_test.suggestions().items()}
        return out


def candidate_rates(bottom: float, reached: float, count: int) -> list[float]:
    """``count`` rates half a decade apart, from ``min(10 * bottom, reached)`` down.

    Example:
        >>> candidate_rates(0.1, 100.0, 4)
        [1.0, 0.316, 0.1, 0.0316]
    """
    top = min(10 * bottom, reached)
    return [float(f"{top * 10 ** (-k / 2):.3g}") for k in range(count)]


def refine_rates(winner: float) -> list[float]:
    """The rates a quarter decade above and below ``winner`` (3 significant digits).

    Example:
        >>> refine_rates(0.1)
        [0.178, 0.0562]
    """
    return [float(f"{winner * 10 ** k:.3g}") for k in (0.25, -0.25)]


def _ranked_together(results: Sequence[SweepResult]) -> pd.DataFrame:
    """The summaries of several races from the same weights and order, ranked as one."""
    first = results[0]
    table = pd.concat([r.summary() for r in results], ignore_index=True)
    return rank(table, first.monitor, first.higher_is_better)


def short_run(epochs: int, budget: float) -> tuple[int, float]:
    """Epochs and the share of the training data that cost ``budget`` of a full training.

    Whole epochs first (at least one); when even one epoch is too much, a subset.

    Example:
        >>> short_run(200, 0.15)
        (30, 1.0)
        >>> short_run(4, 0.125)
        (1, 0.5)
    """
    short = max(1, round(epochs * budget))
    return short, min(1.0, budget * epochs / short)


def _range_test(p: Plan, seeds: int, optimizer: str, hparams: dict) -> RangeTestResult:
    """The range test on the searched task's model and data (its own loss, its batch size)."""
    return range_test(p.task, optimizer=optimizer, hparams=hparams, seeds=seeds, seed=p.seed,
                      steps=_RANGE_STEPS, batch_size=p.batch_size, validate=False)


def range_seeds(race_cost: float, test_cost: float, most: int = 3) -> int:
    """How many range tests to run: up to ``most``, while together they cost at most a
    third of the race (a range test has a fixed number of steps, so on a small dataset or a
    short training one test can cost as much as a candidate's whole race); at least one.

    Example:
        >>> range_seeds(race_cost=180.0, test_cost=10.0), range_seeds(2.7, 1.0)
        (3, 1)
    """
    return max(1, min(most, math.floor(race_cost / 3 / test_cost + 1e-9)))


def auto(task: Task | str, *, budget: float = 0.15, candidates: int = 6,
         seeds: int | None = None, refine: bool = True,
         epochs: int | None = None, optimizer: str = "sgd", seed: int = 0,
         subset: float | None = None, confirm: bool = False, callbacks: Sequence[Callback] = (),
         **settings: Any) -> AutoResult:
    """lrlab's default: a range test places ``candidates`` rates, a short race picks one.

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name.
        budget: each candidate's training as a share of a full training (0 < budget <= 1).
        candidates: how many rates race (>= 2), half a decade apart.
        seeds: range tests run (as one population with plain SGD), read on their median;
            default: up to 3, as many as cost at most a third of the race
            (:func:`range_seeds`).
        refine: race two more rates, a quarter decade either side of the winner, on the
            same budget (:func:`refine_rates`), and keep the best of the three.
        epochs: the full training length the rate is for (default: the task's).
        optimizer, seed, subset, confirm, callbacks, **settings: as :func:`~lrlab.search.grid`.

    Returns:
        an :class:`AutoResult`; ``compute`` counts the range tests and the race.

    Example:
        >>> result = auto("blobs", epochs=4, candidates=2, seeds=1)
        >>> len(result.candidates)
        2
    """
    check_number("budget", budget, low=0.0, strict=True)
    if budget > 1:
        raise LrlabError(f"budget must be at most 1 (a share of one full training), got {budget}")
    check_number("candidates", candidates, low=2, integer=True)
    if seeds is not None:
        check_number("seeds", seeds, low=1, integer=True)
    p = plan("auto", task, subset=subset, epochs=epochs, optimizer=optimizer, seed=seed,
             callbacks=callbacks, settings=settings)
    race_epochs, share = short_run(p.epochs, budget)
    smallest = max(p.batch_size, p.task.num_classes or 1)  # one batch, every class
    if share < 1 and round(share * examples(p.task)) >= smallest:
        race_task = p.task.subset(share, seed=p.seed)
    else:  # a smaller share would not make one batch: one whole epoch of the searched data
        race_task = p.task
    test_cost = _RANGE_STEPS * p.batch_size / examples(p.full)
    raced = candidates + (2 if refine else 0)
    race_cost = raced * race_epochs * examples(race_task) / examples(p.full)
    seeds = seeds or range_seeds(race_cost, test_cost)
    test = _range_test(p, seeds, optimizer, settings.get("hparams") or {})
    if len(test.lrs) < 2:
        raise LrlabError(f"auto: the range test stopped after {len(test.lrs)} steps "
                         f"({test.reason}); check the task's data and model")
    bottom = test.suggestion.lr * test.rules.divisor  # the trend's bottom, no margin
    if not math.isfinite(bottom):  # no clear descent: the trend's lowest point still places
        bottom = float(test.lrs[int(np.nanargmin(trend(test.losses, window=test.rules.window)))])
    reached = float(test.lrs[-1])
    rates = candidate_rates(bottom, reached, candidates)
    race = p.train(rates, epochs=race_epochs, task=race_task)
    winner = float(_winner(race, "auto (race)")["lr"])
    races = [race]
    refined = ([r for r in dict.fromkeys(min(r, reached) for r in refine_rates(winner))
                if r not in rates] if refine else [])
    if refined:  # same weights and order: scores comparable across the two populations
        races.append(p.train(refined, epochs=race_epochs, task=race_task))
    scores = _ranked_together(races)
    lr = float(scores.iloc[0]["lr"])
    steps = max((len(r.lrs) for r in test.runs), default=len(test.lrs))  # in lockstep
    range_cost = seeds * steps * p.batch_size / examples(p.full)
    compute = range_cost + sum(p.cost(r, race_task) for r in races)
    return AutoResult(
        lr=lr, evidence=tuple(races),
        explanation=_explain(test, bottom, rates, race, winner, refined, scores, race_epochs,
                             race_task, p, lr),
        compute=compute, confirmation=p.confirm(lr) if confirm else None, range_test=test,
        bottom=bottom, candidates=tuple(rates), refined=tuple(refined), scores=scores,
        race_epochs=race_epochs, race_examples=examples(race_task))


def _explain(test: RangeTestResult, bottom: float, rates: list[float], race, winner: float,
             refined: list[float], scores, race_epochs: int, race_task: Task, p: Plan,
             lr: float) -> str:
    runs = f"{len(test.runs)} range tests (median)" if test.runs else "A range test"
    reached = float(test.lrs[-1])
    cap = (f" (capped at {rate(reached)}, the largest rate the test reached)"
           if reached < 10 * bottom else "")
    return (f"{runs} over {len(test.lrs)} steps: the loss trend bottoms out at "
            f"{rate(bottom)}. Raced {rates_text(rates)} (from 10x that bottom{cap}, half a "
            f"decade apart) as one population for {race_epochs} of {p.epochs} epochs on "
            f"{examples(race_task)} of {examples(p.full)} training examples: "
            f"{_seen(race, ranked(race))}." + _refined_text(race, winner, refined, scores)
            + f" So lr={rate(lr)}.")


def _refined_text(race, winner: float, refined: list[float], scores: pd.DataFrame) -> str:
    if not refined:
        return ""
    m = race.monitor
    value = scores.set_index("lr")[f"best_val_{m}"]
    tried = ", ".join(f"{rate(r)} ({value[r]:.4f})" for r in refined)
    return (f" Then a quarter decade either side of {rate(winner)} on the same budget: "
            f"{tried}, against {value[winner]:.4f}.")

