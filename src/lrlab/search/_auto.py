"""lrlab's default procedure: a range test to place the candidates, a short race to pick one.

A range test is cheap (a fraction of an epoch) but its readings are guesses about training
that has not happened; a grid trained for the full epochs answers the real question but
costs a full training per rate. :func:`auto` spends a little of each, in this order:

1. **Plan** (:func:`_race_plan`): the race's epochs and share of the data at ``budget`` of a
   full training each (:func:`short_run`) and up to three range-test seeds
   (:func:`range_seeds`); where the range tests cost more than their share (a small
   dataset), a race on less data (:func:`race_share`) or a trimmed test
   (:func:`range_steps`), so a run keeps to about 9.6% of a 16-rate grid.
2. **Place** (:func:`placement`): the bottom of the range test's loss trend (an adaptive
   rule's scaled down); without a clear descent, a tenth of the largest rate it reached.
3. **Race** (:class:`_Race`): ``candidates`` rates half a decade apart from ten times that
   bottom down, capped at the largest rate the test reached (:func:`candidate_rates`), one
   population scored on validation data as :func:`~lrlab.search.grid` scores. A rate counts
   when it beat chance and was stable (:data:`UNSTABLE`, :func:`stuck_above`); ties walk up
   for SGD-like rules and down for adaptive ones (:meth:`_Race.pick`).
4. **Move** (:func:`_move`, :class:`Move`): at most once, where the first race shows the
   rates that train lie elsewhere. An adaptive race that learned nothing from a clear
   descent stays at or below its placement instead (``_Race.cap``).
5. **Lengthen** (:meth:`_Race.lengthen`): still nothing learned, the stable rates train on,
   the horizon doubling while the budget pays; without a ranking the pick is a guess from
   the losses (:meth:`_Race.pick`), with a warning.
6. **Refine and check**: the rates a quarter decade either side of the pick race on the same
   budget, from the same weights and order (:meth:`_Race.refinement`), then the pick and
   the next lower rate that learned from ``seed + 1`` (:meth:`_Race.check`), each where the
   budget still pays.
7. **Settle** (:func:`_settle`, :class:`_Settled`): the rules that move the pick off the
   race's choice: a lower rate that trained as fast (:func:`caught_up`), a lone learner
   (:func:`~lrlab.search.lone`, :meth:`_Race.past_lone_top`), the edge of stability next to
   it (:func:`edge_moved`, :func:`edge_guessed`).
8. **Warn**: where the range test and the race disagree (:func:`past_bottom`,
   :func:`short_of_bottom`) or the race was too short to rank the rates (:func:`few_steps`,
   :func:`before_peak`, :func:`early_race`, :func:`short_on_loss`), beside
   :func:`~lrlab.search.assess`'s lines.

The constants (ten times the bottom, half-decade steps, five candidates, 15% of a training
each, the quarter-decade refinement) were calibrated on the built-in tasks against an oracle
grid (``benchmarks/finder_quality.py``, results in ``docs/benchmarks.md``): without the
refinement, mnist-cnn's optimum fell between two candidates and the pick lost a full point.
Each rule's docstring gives the measurement behind it; ``docs/architecture.md`` tells the
whole procedure.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd
import torch

from lrlab._checks import number, whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.metrics import SHARES
from lrlab.population import running_norms
from lrlab.schedules import ScheduleSpec
from lrlab.search._common import (
    Callback,
    Plan,
    SearchResult,
    examples,
    plan,
    rate,
    rates_text,
)
from lrlab.search._confidence import (
    BLOWN,
    HOLD,
    LEARNED,
    NEIGHBOUR,
    Baseline,
    Choice,
    Confidence,
    assess,
    baseline,
    by_loss,
    choose,
    falling,
    furthest,
    learned_mask,
    lone,
    lone_at_top,
    lone_kept,
    not_falling,
    one_next_step,
    pace,
    score_noise,
    scored_table,
    setback,
)
from lrlab.search._findings import Finding, kind_of, kinds_of
from lrlab.search._grid import _score_text, _seen, ranked
from lrlab.search._range_test import refuse_multiplier
from lrlab.search._readings import DEFAULT_RULES, rules_for
from lrlab.search._result import RangeTestResult
from lrlab.search._suggest import trend_bottom
from lrlab.search._task_range import range_test
from lrlab.tasks import Task
from lrlab.train import (
    Checkpoint,
    SweepResult,
    Untrained,
    fit,
    fork,
    mean_loss,
    rank,
    rescored,
    untrained,
)

__all__ = ["AutoResult", "auto", "before_peak", "candidate_rates", "caught_up", "early_race",
           "edge_moved", "few_steps", "moved_above", "moved_below", "moved_down", "past_bottom",
           "peak_step", "race_share", "races_allowed", "range_steps", "short_of_bottom",
           "short_on_loss", "short_run", "stuck_above", "with_loss_warning"]

#: Steps of the range test that places the candidates, over its rates ``_RANGE_START`` to
#: ``_RANGE_END`` (:func:`~lrlab.search.range_test`'s defaults).
_RANGE_STEPS = 100
_RANGE_START, _RANGE_END = 1e-7, 10.0
#: The steps of a range test that the plan cannot hold beside the race (:func:`range_steps`):
#: the 100-step test's ramp from 1e-5, at its pace.
_TRIMMED_STEPS = 75
#: The most candidates: half a decade apart, 17 span the 8 decades the range test looks at
#: (1e-7 to 10); 999 went down to rates of 0.0, refused only after the range test.
_MAX_CANDIDATES = 17


@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class AutoResult(SearchResult):
    """What :func:`auto` found (``evidence``: the race population).

    Attributes:
        range_test: the range test that placed the candidates.
        bottom: the rate at the bottom of the range test's loss trend.
        candidates: the rates raced, largest first.
        refined: the two rates a quarter decade either side of the race's winner, raced
            after it (empty with ``refine=False``).
        scores: the races' summaries in one table, best member first: a rate the longer
            race trained on by that race; ``epochs``, the length of each row's race.
        race_epochs: epochs each candidate trained.
        race_examples: training examples each candidate trained on.
        schedule: the schedule the races trained the start of (``lr`` is its peak), as
            written; ``None``: a constant rate.
        moved_from: the raced rate the pick went a quarter decade below, ``lr`` being the
            edge of what trained (:func:`edge_moved`: its neighbour above blew up later;
            :func:`edge_guessed`: a plateau's guess, its neighbour above did not fall);
            ``nan`` when the pick did not move so.
        edge: that neighbour above ``moved_from``, the raced rate that blew up or did not
            fall; ``nan`` with ``moved_from``.
    """

    procedure: ClassVar[str] = "auto"
    range_test: RangeTestResult
    bottom: float
    candidates: tuple[float, ...]
    refined: tuple[float, ...]
    scores: pd.DataFrame
    race_epochs: int
    race_examples: int
    schedule: str | None = None
    moved_from: float = math.nan
    edge: float = math.nan

    def verdict(self) -> str:
        """One line: the rate and how it was found."""
        raced = len(self.candidates) + len(self.refined)
        peak = f" at the peak of {self.schedule}" if self.schedule else ""
        return (f"auto: lr={rate(self.lr)}{peak} (raced {raced} rates placed by a range test; "
                f"{_score_text(self.evidence[0], self.scores, self.lr)}{self.sureness()})")

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
    """The summaries of several races from the same weights and order, ranked as one; a rate
    raced more than once (the longer race continues the stable ones) by its last race, whose
    length is its ``epochs``."""
    first = results[0]
    table = pd.concat([r.summary().assign(epochs=r.epochs) for r in results],
                      ignore_index=True)
    table = table.drop_duplicates("lr", keep="last")  # in race order, before ranking
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


def range_steps(unit: float, per: float, candidates: int, test_cost: float) -> int:
    """The range test's steps: ``_RANGE_STEPS``, or ``_TRIMMED_STEPS`` where the plan of
    :func:`races_allowed` cannot hold the 100-step test (``test_cost``, full-training
    epochs, all its seeds) beside the race and the refinement even at half their share
    (``per`` one rate's race, ``unit`` one rate's share of the plan), where
    :func:`race_share` gives up, and can hold the trimmed one: the ramp's lowest rates give
    way (the test starts at 1e-5 and climbs at the 100-step test's pace to the same top),
    and the race and the refinement fit what is left. Where even the trimmed test leaves
    them less than half their share (a training of under about 64 steps), the test keeps
    its 100 steps and the run overruns its plan, as :func:`race_share` keeps the race's.

    Below 1e-5 a 100-step test's loss barely moves (a step of 1e-5 moves an Adam weight by
    at most 1e-5), so its first 25 steps read the untrained loss again. On the seven
    ``new_user.py`` scenarios of 80-96 steps, which took 10.7-14.4% of a 16-rate grid, the
    runs came to 8.1-10.1% (their race on 0.57-0.72 of its data) and their mean regret fell
    from 3.5 to 1.1 points (43 to 31% on the two ranked by a loss).

    Example:
        >>> range_steps(unit=3.0, per=3.0, candidates=5, test_cost=3.2)   # within plan
        100
        >>> range_steps(unit=0.6, per=0.6, candidates=5, test_cost=4.27)  # 96 steps
        75
        >>> range_steps(unit=0.45, per=0.45, candidates=5, test_cost=10.0)  # 30 steps
        100
    """
    whole = unit * (candidates + 4 + candidates / 4)
    for steps in (_RANGE_STEPS, _TRIMMED_STEPS):
        if (whole - test_cost * steps / _RANGE_STEPS) / (candidates + 2) >= per / 2 - 1e-9:
            return steps  # the race's share gives way first (:func:`race_share`)
    return _RANGE_STEPS


class _RacePlan(NamedTuple):
    """How :func:`auto` spends its plan: the race's epochs and share of the training data
    (``cut``: a subset of it), the range tests (``seeds`` of ``steps``), one rate's share of
    the plan (``unit``, :func:`races_allowed`'s) and the examples the race would have had
    where the range tests took some (``fewer``; None where they did not)."""
    epochs: int
    share: float
    cut: bool
    seeds: int
    steps: int
    unit: float
    fewer: int | None


def _race_plan(p: Plan, budget: float, candidates: int, seeds: int | None) -> _RacePlan:
    """The plan of an ``auto`` run at ``budget`` (see :class:`_RacePlan`)."""
    race_epochs, share = short_run(p.epochs, budget)
    smallest = max(p.batch_size, p.task.num_classes or 1)  # one batch, every class
    searched = examples(p.task)
    # the race's examples (its subset is drawn once, by auto, when its share is settled); a
    # smaller share than one batch would make: one whole epoch of the searched data
    cut = share < 1 and round(share * searched) >= smallest
    race_examples = round(share * searched) if cut else searched
    test_cost = _RANGE_STEPS * p.batch_size / examples(p.full)
    race_cost = candidates * race_epochs * race_examples / examples(p.full)
    seeds = seeds or range_seeds(race_cost, test_cost)
    unit = max(race_cost / candidates, budget * p.epochs)  # one rate's share of the plan
    trimmed = range_steps(unit, race_cost / candidates, candidates, seeds * test_cost)
    test_cost *= trimmed / _RANGE_STEPS
    fitted = race_share(share, race_cost / candidates, unit, candidates, seeds * test_cost)
    fewer = None  # the examples the race would have had, when the range tests cost more
    if fitted < share and round(fitted * searched) >= smallest:
        fewer = race_examples
        share, cut = fitted, True
    return _RacePlan(race_epochs, share, cut, seeds, trimmed, unit, fewer)


def _enough_budget(p: Plan, budget: float, candidates: int, seeds: int | None,
                   steps: int) -> float | None:
    """The least budget, in hundredths above ``budget`` and at most 1, whose race trains
    each rate ``steps`` optimizer steps, as :func:`_race_plan` plans it (whole epochs, a
    share of the data cut for the range tests), or None where none does."""
    searched = examples(p.task)
    for cents in range(math.floor(budget * 100) + 1, 101):
        rp = _race_plan(p, cents / 100, candidates, seeds)
        n = round(rp.share * searched) if rp.cut else searched
        if rp.epochs * math.ceil(n / p.batch_size) >= steps:
            return cents / 100
    return None


def _range_test(p: Plan, seeds: int, optimizer: str, hparams: dict,
                steps: int = _RANGE_STEPS, scored: Untrained | None = None) -> RangeTestResult:
    """The range test on the searched task's model and data (its own loss, its batch size);
    with fewer than ``_RANGE_STEPS`` steps, the top of the 100-step test's ramp at its pace
    (:func:`range_steps`); ``scored``: the untrained model's evaluation, the race's too."""
    start = _RANGE_START * (_RANGE_END / _RANGE_START) ** ((_RANGE_STEPS - steps)
                                                          / (_RANGE_STEPS - 1))
    return range_test(p.task, optimizer=optimizer, hparams=hparams, seeds=seeds, seed=p.seed,
                      start=start, end=_RANGE_END,
                      steps=steps, batch_size=p.batch_size, validate=False,
                      device=p.settings.get("device"),  # where the races train
                      clip_grad_norm=p.settings.get("clip_grad_norm"),  # as they clip
                      untrained=scored)


def range_seeds(race_cost: float, test_cost: float, most: int = 3) -> int:
    """How many range tests to run: up to ``most``, while together they cost at most a
    quarter of the candidates' race (a range test has a fixed number of steps, so on a small
    dataset or a short training one test can cost as much as a candidate's whole race); at
    least one.

    Example:
        >>> range_seeds(race_cost=180.0, test_cost=10.0), range_seeds(2.7, 1.0)
        (3, 1)
    """
    return max(1, min(most, math.floor(race_cost / 4 / test_cost + 1e-9)))


def placement(test: RangeTestResult) -> tuple[float, bool]:
    """Where the race is placed: the bottom of the range test's loss trend (for an adaptive
    rule, scaled down by its rules' ``place``: x 1/3 for Adam) and whether the test showed a
    clear descent. Without one (a flat or noisy curve, or a fall too short to
    tell from the noise) the bottom is a tenth of the largest rate the test reached, so the
    race starts at that rate and goes down: the largest rate that did not diverge is the
    best guess of a curve that says nothing, and the trend's lowest point of such a curve is
    noise (on a recurrent network it sat at the very first rate).

    Example:
        >>> import numpy as np
        >>> lrs = np.geomspace(1e-4, 1.0, 60)
        >>> placement(RangeTestResult.build(lrs, np.ones(60)))
        (0.1, False)
    """
    bottom = trend_bottom(test.lrs, test.losses, rules=test.rules)
    if math.isfinite(bottom):  # adaptive rules read further below it (see ``suggest``)
        return bottom * test.rules.place, True
    return float(test.lrs[-1]) / 10, False


def moved_up(top: float, reached: float, count: int) -> list[float]:
    """Up to ``count`` rates half a decade apart from ``reached`` down, all above ``top``
    (by more than a quarter decade): where a race that learned nothing moves to.

    Example:
        >>> moved_up(0.01, 1.0, 6)
        [1.0, 0.316, 0.1, 0.0316]
    """
    rates = [float(f"{reached * 10 ** (-k / 2):.3g}") for k in range(count)]
    return [r for r in rates if r > top * 10 ** 0.25]


def moved_down(table: pd.DataFrame, lr: float, count: int, *, higher_is_better: bool,
               chance: float, monitor: str, n: int, binomial: bool | None = None) -> list[float]:
    """``count`` rates half a decade apart below ``lr`` when ``lr`` is the lowest rate raced
    and the raced rate next above it failed (diverged, unstable or never beat chance, as
    ``learned_mask`` reads them); empty otherwise: where a race that learned only at its
    bottom moves to (:class:`Move` ``"down"``), at the cost the refinement and the
    second-seed check would have had (``auto`` skips those that no longer fit its plan).

    The rates that train then lie below the race: a ReLU regression's Adam race of 10 down
    to 0.1 (placed from the largest rate its range test reached) diverged at every rate but
    0.1, and the pick 0.0562 left 10.5x the validation loss of the grid's best, 0.01, which
    the moved race picks.

    ``table`` has ``lr``, ``score``, ``diverged`` and optionally ``stable`` (see
    :func:`~lrlab.search.choose`).

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.316, 1.0], "score": [0.76, 9e4, 5e8],
        ...                   "diverged": [False, True, True]})
        >>> moved_down(t, 0.1, 3, higher_is_better=False, chance=0.83, monitor="loss", n=1000)
        [0.0316, 0.01, 0.00316]
        >>> moved_down(t.assign(diverged=False, score=[0.76, 0.5, 5e8]), 0.1, 3,
        ...            higher_is_better=False, chance=0.83, monitor="loss", n=1000)
        []
    """
    t = table.sort_values("lr").reset_index(drop=True)
    lrs = t["lr"].to_numpy(float)
    if len(t) < 2 or not math.isclose(lrs[0], lr):
        return []
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n, binomial=binomial))
    if not ok[0] or ok[1]:
        return []
    return [float(f"{lr * 10 ** (-k / 2):.3g}") for k in range(1, count + 1)]


#: How many rates, half a decade apart, a race whose best was the range test's end moves up
#: (:func:`moved_above`): a decade, as far as the ``highest_searched`` warning's advice goes.
ABOVE = 2


def moved_above(table: pd.DataFrame, lr: float, reached: float, count: int, *, ended: bool,
                higher_is_better: bool, chance: float, monitor: str, n: int,
                binomial: bool | None = None) -> list[float]:
    """``count`` rates half a decade apart above ``lr`` when ``lr`` is the highest rate raced
    and the largest the range test reached, that test ran to its end without diverging
    (``ended``), and the scores still rise towards it (:func:`~lrlab.search.assess` warns
    ``highest_searched``); empty otherwise: where an SGD-like race placed without a clear
    descent moves when its best is its top (:class:`Move` ``"above"``).

    The end of a range test that neither fell clearly nor diverged bounds the race only
    because it ended there: a bounded loss never blows up (an SGD weight-tied sigmoid
    autoencoder under MSE trains best at 21.5-100; its race to 10 picked 10 and left 26-36%
    more validation loss than the grid's best).

    Example:
        >>> t = pd.DataFrame({"lr": [1.0, 3.16, 10.0], "score": [0.23, 0.22, 0.07],
        ...                   "final": [0.23, 0.22, 0.07], "diverged": [False] * 3})
        >>> moved_above(t, 10.0, 10.0, 2, ended=True, higher_is_better=False, chance=0.231,
        ...             monitor="loss", n=1000)
        [31.6, 100.0]
        >>> moved_above(t, 10.0, 10.0, 2, ended=False, higher_is_better=False, chance=0.231,
        ...             monitor="loss", n=1000)
        []
    """
    t = table.sort_values("lr").reset_index(drop=True)
    lrs = t["lr"].to_numpy(float)
    if (not ended or len(t) < 2 or not math.isclose(lrs[-1], lr)
            or not math.isclose(lr, reached, rel_tol=1e-3)):
        return []
    c = assess(t, lr, higher_is_better=higher_is_better, chance=chance, monitor=monitor, n=n,
               binomial=binomial)
    if "highest_searched" not in kinds_of(c.warnings):
        return []
    return [float(f"{lr * 10 ** (k / 2):.3g}") for k in range(1, count + 1)]


def moved_below(lowest: float, count: int) -> list[float]:
    """``count`` rates half a decade apart below ``lowest``: where an adaptive race that
    learned nothing from a placement without a clear descent moves (its placement, the
    largest rate the range test reached, said nothing; the rates that train with Adam and
    its kin sit well below it).

    Example:
        >>> moved_below(0.1, 3)
        [0.0316, 0.01, 0.00316]
    """
    return [float(f"{lowest * 10 ** (-k / 2):.3g}") for k in range(1, count + 1)]


class Move(NamedTuple):
    """Where a race went after its first run, and why: at most one move a run (:func:`_move`).

    ``kind``:

    - ``"up"``: nothing learned under an SGD-like rule: up the range, above every rate
      raced (:func:`moved_up`).
    - ``"below"``: nothing learned under an adaptive rule, placed without a clear descent:
      down, below every rate raced (:func:`moved_below`); the moved race's top takes the
      placement's role (``_Race.cap``).
    - ``"down"``: learned at its lowest rate alone, the raced rate above it failing: down
      (:func:`moved_down`).
    - ``"above"``: an SGD-like race placed without a clear descent, best at its top, the
      end of a range test that never diverged: up a decade (:func:`moved_above`).

    ``rates``: the rates the moved race ran.
    """

    kind: Literal["up", "below", "down", "above"]
    rates: list[float]


def races_allowed(unit: float, per: float, candidates: int, range_cost: float) -> float:
    """What every race of one auto run may cost together (full-training epochs).

    The whole run may cost what its plan costs when :func:`range_seeds` keeps its promise:
    ``candidates + 4`` races (the race, two refinements, a two-rate check) and range tests
    of a quarter of the race, ``unit x (candidates + 4 + candidates / 4)`` with ``unit``
    one rate's share (``budget x epochs``, or one rate's race where whole epochs round it
    up): about 9.6% of a 16-rate grid at the defaults. One range test takes 100 steps
    whatever the data, so on a small training set (1,500 examples, batch 64: over 4 epochs)
    even one test costs more than planned; the races then give way: each rate races on
    less data, down to half (:func:`race_share`; beyond that the test's lowest 25 steps
    give way first where that lets them fit, :func:`range_steps`), then the check goes, then
    the refinement (never the race and the refinement both), and a race moved up the range
    (none learned) races as many rates as fit, at least three.

    Example:
        >>> races_allowed(unit=3.0, per=3.0, candidates=5, range_cost=3.2)   # within plan
        27.55
        >>> races_allowed(unit=1.5, per=1.5, candidates=5, range_cost=4.27)  # a small task
        11.105
    """
    whole = unit * (candidates + 4 + candidates / 4)
    return round(max(per * (candidates + 2), whole - range_cost), 10)


def race_share(share: float, per: float, unit: float, candidates: int,
               range_cost: float) -> float:
    """The share of the training data each rate races on, so that the race and the
    refinement fit the plan of :func:`races_allowed` beside range tests costing
    ``range_cost`` (full-training epochs): ``share`` when they fit; less, down to half of
    it, when the range tests cost more than planned; ``share`` again when even half would
    not fit (a plan that cannot be kept is not worth a race too short to rank).

    ``per`` is one rate's race at ``share``, ``unit`` one rate's share of the plan. On 3,000
    MNIST images (batch 100, 5 epochs) one 100-step range test costs 3.3 epochs, more than
    the five-rate race, and the run took 10.7% of a 16-rate grid; racing on 1,868 instead of
    2,250 examples keeps it at 9.6%.

    Example:
        >>> race_share(0.75, per=0.75, unit=0.75, candidates=5, range_cost=3.33)
        0.6224
        >>> race_share(0.75, per=0.75, unit=0.75, candidates=5, range_cost=1.0)  # fits
        0.75
    """
    room = (unit * (candidates + 4 + candidates / 4) - range_cost) / (candidates + 2)
    if per <= room or room < per / 2:
        return share
    return math.floor(share * room / per * 1e4) / 1e4


@warn_once()
def auto(task: Task | str, *, budget: float = 0.15, candidates: int = 5,
         seeds: int | None = None, refine: bool = True, check: bool = True,
         epochs: int | None = None, optimizer: str = "sgd", seed: int = 0,
         subset: float | None = None, confirm: bool = False, callbacks: Sequence[Callback] = (),
         schedule: str | ScheduleSpec | None = None, **settings: Any) -> AutoResult:
    """lrlab's default: a range test places ``candidates`` rates, a short race picks one.

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name.
        budget: each candidate's training as a share of a full training (0 < budget <= 1).
        candidates: how many rates race (2 to 17), half a decade apart.
        seeds: range tests run (as one population with plain SGD), read on their median;
            default: up to 3, as many as cost at most a quarter of the race
            (:func:`range_seeds`).
        refine: race two more rates, a quarter decade either side of the pick, on the
            same budget (:func:`refine_rates`), and pick again among all.
        check: train the pick and the next lower rate that learned again from another seed
            (``seed + 1``) on the same budget, and take the lower when the pick falls behind
            it by more than the noise, or behind on both seeds while gaining no faster at the
            end of both races, or stops learning (:func:`check_reason`).
        epochs: the full training length the rate is for (default: the task's).
        schedule: the schedule the full training will follow (``"wsd:warmup_frac=0.05,
            cooldown_frac=0.2"``, as :func:`~lrlab.sweep`'s ``schedules`` take one, or a
            :class:`~lrlab.schedules.ScheduleSpec`); the rate found is its peak (``lr0``).
            Every race trains the start of it as the full training will (its first steps,
            warm-up included; :attr:`~lrlab.train.SweepConfig.schedule_over`), and
            ``confirm`` all of it; the range test keeps its rising constant rate. Default: a
            constant rate.
        optimizer, seed, subset, confirm, callbacks, **settings: as :func:`~lrlab.search.grid`.

    Returns:
        an :class:`AutoResult`; ``compute`` counts the range tests and every race.

    Example:
        >>> result = auto("blobs", epochs=4, candidates=2, seeds=1)
        >>> len(result.candidates)
        2
    """
    number("budget", budget, low=0.0, strict=True)
    if budget > 1:
        raise LrlabError(f"budget must be at most 1 (a share of one full training), got {budget}")
    whole("candidates", candidates, low=2, high=_MAX_CANDIDATES,
          hint=" (half a decade apart, 17 span the 8 decades its range test looks at)")
    if seeds is not None:
        whole("seeds", seeds, low=1)
    p = plan("auto", task, subset=subset, epochs=epochs, optimizer=optimizer, seed=seed,
             callbacks=callbacks, settings=settings, schedule=schedule)
    if p.schedule is not None and p.schedule.follows_metric:
        raise LrlabError(f"auto races the start of a schedule of time; {p.schedule} follows a "
                         "validation metric, which keeps the rate constant over a race's few "
                         "epochs: search without a schedule (its rate is plateau's first)")
    refuse_multiplier(optimizer)  # a learning-rate-free rule: its range test reads no rate
    race_epochs, share, cut, seeds, trimmed, unit, fewer = _race_plan(p, budget, candidates,
                                                                       seeds)
    race_task = p.task.subset(share, seed=p.seed) if cut else p.task
    # the untrained model scored once: the range test's class shares and the race's chance
    scored = untrained(p.task, p.seed)
    test = _range_test(p, seeds, optimizer, settings.get("hparams") or {}, trimmed, scored)
    if len(test.lrs) < 2:
        raise LrlabError(f"auto: the range test stopped after {len(test.lrs)} steps "
                         f"({test.reason}); check the task's data and model")
    bottom, clear = placement(test)
    reached = float(test.lrs[-1])
    race = _Race(p, race_task, race_epochs, walk="up" if rules_for(optimizer) is DEFAULT_RULES
                 else "down", scored=scored)
    steps = max((len(r.lrs) for r in test.runs), default=len(test.lrs))  # in lockstep
    range_cost = seeds * steps * p.batch_size / examples(p.full)
    per = race_epochs * examples(race_task) / examples(p.full)  # one rate's race
    allowed = races_allowed(unit, per, candidates, range_cost)
    if clear:  # a tie is no evidence against the range test: ties walk up to its turn
        race.ceiling = bottom / test.rules.place * PAST_BOTTOM
    rates = candidate_rates(bottom, reached, candidates)
    choice = race.run(rates)
    if not choice.learned:  # at chance on BatchNorm's lagging running statistics?
        choice = race.rescore() or choice
    race.kept.clear()  # (only a rescoring reads the first race's weights after each epoch)
    choice = race.look_again(choice, allowed) or choice
    choice = _move(race, choice, rates, clear=clear, bottom=bottom, reached=reached,
                   ended=not test.stopped_early, allowed=allowed, per=per,
                   candidates=candidates)
    if not choice.learned:  # still nothing: a longer race of the stable rates
        choice = race.lengthen(allowed) or choice
        if race.longer:
            refine = check = False  # the budget went into the longer race
    skipped = []
    top = max([reached, *race.moved_to("above")])  # the largest rate a test or race reached
    refined = race.refinement(choice.lr, top) if refine and choice.learned else []
    if refined and race.overspends(len(refined) * per, allowed):
        skipped.append("the refinement")
        refined = []
    if refined:  # same weights and order: scores comparable across the populations
        choice = race.run(refined)
    spiked = choice.learned and choice.lr in race.recovered  # read at a longer horizon
    checked = None
    if check and choice.learned and not spiked:  # (a check races one epoch, not two)
        if race.overspends(2 * per, allowed):
            skipped.append("the second-seed check")
        else:
            checked = race.check(choice)
    settled = _settle(race, choice, checked, clear=clear, spiked=spiked)
    lr = settled.lr
    compute = range_cost + race.cost
    turn = bottom / test.rules.place  # where the test's loss trend stops falling
    extra = _extra_warnings(clear, choice, race, reached, lr, turn,
                            settled.edge if settled.guessed else None)
    extra += _settled_warnings(race, settled, choice, spiked)
    extra += _short_warnings(p, race, extra, settled, budget=budget, candidates=candidates,
                             seeds=seeds)
    confidence = _confidence(race, settled, extra, compute, candidates)
    scores = _ranked_together(race.races + race.longer)
    text = _explain(test, bottom, clear, race, refined, p, settled, skipped, fewer,
                    dipped=choice if choice.dipped else None,
                    held=choice if choice.held else None)
    text = confidence.explained(text)
    return AutoResult(
        lr=lr, evidence=tuple(race.populations),
        explanation=text,
        compute=compute, confirmation=p.confirm(lr) if confirm else None,
        confidence=confidence, range_test=test, bottom=bottom, candidates=tuple(rates),
        refined=tuple(refined), scores=scores, race_epochs=race_epochs,
        race_examples=examples(race_task), schedule=str(p.schedule) if p.schedule else None,
        moved_from=settled.scored if math.isfinite(settled.edge) else math.nan,
        edge=settled.edge)


class _Settled(NamedTuple):
    """Where the pick went from the race's choice, and why (:func:`_settle`): the rule of
    each field acted where it is not None (``nan``, ``False``)."""

    #: the pick
    lr: float
    #: the pick before an edge rule's quarter decade down (``edge``), as raced
    scored: float
    #: the second-seed check (:meth:`_Race.check`): the rate it kept and what it saw
    checked: tuple[float, str] | None
    #: :func:`caught_up`: the lower rate that trained as fast and what was seen
    caught: tuple[float, str] | None
    #: :func:`~lrlab.search.lone`: the lone learner's lower neighbour the pick went to
    alone: float
    #: :func:`~lrlab.search.lone_kept`: a lone learner kept, the rate above it calm
    kept: float | None
    #: :meth:`_Race.past_lone_top`: the rate below a lone learner at the top and how chosen
    topped: tuple[float, str] | None
    #: the lone learner the pick left (``alone`` or ``topped``)
    lone: float
    #: the raced rate next above ``scored`` that blew up later (:func:`edge_moved`) or, with
    #: ``guessed``, did not fall (:func:`edge_guessed`); the pick is a quarter decade below
    #: ``scored``
    edge: float
    guessed: bool
    #: the raced rates that blew up (:meth:`_Race.blew_up`): the epochs they had trained
    later: dict[float, int]


def _settle(race: _Race, choice: Choice, checked: tuple[float, str] | None, *, clear: bool,
            spiked: bool) -> _Settled:
    """The pick from the race's ``choice`` and the second-seed check's ``checked``: the rules
    that may move it, in turn (see :class:`_Settled`); ``spiked``: the pick came back from a
    spike, read at a longer horizon."""
    lr = checked[0] if checked else choice.lr
    ranked = choice.learned and not race.longer and not spiked  # one race's ranking
    caught = (race.caught_up(lr) if ranked and not (checked and checked[0] != choice.lr)
              else None)
    if caught is not None:
        lr = caught[0]
    asked = ranked and not (race.walk == "down" and race.moved_to("below", "down"))
    reading = {"higher_is_better": race.higher, "chance": race.chance, "monitor": race.monitor,
               "n": race.n, "binomial": race.binomial, "untrained": race.start[1]}
    alone = lone(race.table(), lr, **reading) if asked else math.nan
    kept = lr if asked and lone_kept(race.table(), lr, **reading) else None
    lone_lr = math.nan
    if math.isfinite(alone):
        lone_lr, lr = lr, alone
    topped = race.past_lone_top(lr) if ranked and not math.isfinite(alone) else None
    if topped is not None:  # learned alone at the top of the race: the others by their loss
        lone_lr, lr = lr, topped[0]
    later = race.blew_up()
    scored, above = lr, edge_moved(lr, race.raced, later)
    guessed = (not clear and not math.isfinite(above)
               and not choice.learned and choice.how == FELL and math.isclose(lr, choice.lr))
    if guessed:  # a plateau's guess, the last rate that trained: no margin from the edge
        above = edge_guessed(lr, race.raced, race.horizon)
        guessed = math.isfinite(above)
    if math.isfinite(above):
        lr = next((r for r in race.raced if math.isclose(r, refine_rates(lr)[1])),
                  refine_rates(lr)[1])
    return _Settled(lr, scored, checked, caught, alone, kept, topped, lone_lr, above, guessed,
                    later)


def _settled_warnings(race: _Race, s: _Settled, choice: Choice, spiked: bool
                      ) -> tuple[str, ...]:
    """The lines of the rules that moved or kept the pick (:class:`_Settled`), and of a pick
    back from a spike (``spiked``, :meth:`_Race.shaky`)."""
    out: tuple[str, ...] = ()
    if math.isfinite(s.alone):
        out += (Finding(f"{rate(s.lone)} was the only rate near it to beat chance, its "
                        "raced neighbours half a decade either side did not (a flicker of a "
                        "short race more often than a rate that trains), so the lower "
                        f"neighbour {rate(s.scored)}; train {rate(s.lone)} and {rate(s.scored)} for the full "
                        "epochs",
                        "lone_learner"),)
    if s.kept is not None:
        out += (Finding(f"{rate(s.kept)} was the only rate near it to beat chance, its raced "
                        "neighbours half a decade either side did not, but the raced rate "
                        "next above it showed no sign of the edge (stable, its training loss "
                        "below the untrained model's and no more than 1% below the pick's), "
                        "so it stays; train it and a rate half a decade below for the full "
                        "epochs", "lone_kept"),)
    if s.topped is not None:
        out += (Finding(f"{rate(s.lone)}, the highest rate raced, was the only rate near it "
                        "to beat chance, the raced rates half a decade below it did not, and "
                        "its training loss ended no lower than theirs (a rate too high "
                        "overshooting into the other classes more often than one that "
                        f"trains), so {rate(s.scored)}, {s.topped[1]}; train {rate(s.lone)} and "
                        f"{rate(s.scored)} for the full epochs", "lone_at_top"),)
    if spiked:
        first, end = race.spike(choice.lr)
        early = ("" if race.longer else f"the rates below it were read after {race.epochs} "
                 "epoch(s), which favours it, and ")
        out += (Finding(f"{rate(choice.lr)} was unstable after the {race.epochs}-epoch race "
                        f"(its training loss {first:.2g}x the untrained model's) and came "
                        f"back when it trained on to {2 * race.epochs} epochs ({end:.2g}x), "
                        "where it learned: a spike a longer training recovers from, not a "
                        f"divergence; but {early}a rate that spikes first lies near the "
                        "edge: train it and the rates half a decade either side for the "
                        "full epochs and keep the best", "spike_recovered"),)
    if math.isfinite(s.edge) and not s.guessed:
        out += (Finding(f"{rate(s.edge)} blew up by epoch {s.later[s.edge]} (its training "
                        f"loss over {BLOWN:g}x the untrained model's, where it had been "
                        "stable): the edge of stability moved down as the training went on, "
                        f"next to {rate(s.scored)}, and the full training is {race.p.epochs} "
                        f"epochs, so a quarter decade below it, {rate(s.lr)}"
                        f"{'' if s.lr in race.raced else ' (not raced)'}; train it and "
                        f"{rate(s.scored)} for the full epochs", "edge_moved"),)
    return out


def _short_warnings(p: Plan, race: _Race, extra: tuple[str, ...], s: _Settled, *,
                    budget: float, candidates: int, seeds: int) -> tuple[str, ...]:
    """The lines of a race too short to rank the rates: too few steps (:func:`few_steps`),
    before the schedule's peak (:func:`before_peak`), ended early in the training
    (:func:`early_race`, unless a line of ``extra`` says more)."""
    out: tuple[str, ...] = ()
    race_steps = race.epochs * math.ceil(examples(race.task) / p.batch_size)
    if short := few_steps(race_steps, p.epochs * math.ceil(examples(p.full) / p.batch_size),
                          _enough_budget(p, budget, candidates, seeds, FEW_STEPS)):
        out += (short,)
    horizon = race.horizon * math.ceil(examples(race.task) / p.batch_size)
    peak = peak_step(p)
    if early := before_peak(p, horizon, _enough_budget(p, budget, candidates, seeds, peak + 1)
                            if peak is not None and horizon <= peak else None):
        out += (early,)
    row = s.lr if s.lr in race.raced else s.scored  # an unraced pick has no row
    if not set(kinds_of(extra + out)) & set(SAYS_LESS) and (barely := early_race(
            _last_share(race.table(), row, race.start[0]), race.horizon, p.epochs)):
        out += (barely,)
    return out


def _confidence(race: _Race, s: _Settled, extra: tuple[str, ...], compute: float,
                candidates: int) -> Confidence:
    """The pick's :class:`~lrlab.search.Confidence`: the race's assessment of the raced rate
    it rests on, with ``extra`` and the notes that the rules of :class:`_Settled` change."""
    p = race.p
    raced = s.lr in race.raced
    confidence = race.confidence(s.lr if raced else s.scored, extra)  # an unraced lr: no row
    confidence = with_loss_warning(confidence, short_on_loss(race.horizon, p.epochs,
                                                             race.monitor, lr=s.lr))
    if math.isfinite(s.edge) and not raced:
        # the raced rate's own lines (at the lowest rate searched; its next higher rate, the
        # one that blew up) are not the pick's: the edge warning says both for it
        def pick(line: str) -> bool:  # (next_failed: ``s.edge``, the raced rate next up)
            return kind_of(line) not in ("lowest_searched", "next_failed")
        confidence = dataclasses.replace(
            confidence, lr=s.lr, scored=s.scored,
            warnings=tuple(filter(pick, confidence.warnings)),
            notes=tuple(filter(pick, confidence.notes)))
    if s.kept is not None:  # the rate above is stable and trained: its score alone reads no edge
        confidence = dataclasses.replace(confidence, notes=tuple(
            n for n in confidence.notes if kind_of(n) != "next_failed"))
    if s.caught is not None:  # behind the race's best for a reason, not a tie
        confidence = dataclasses.replace(
            confidence, behind="took the lower rate, which trained as fast (see the explanation)")
    if compute > candidates * p.epochs:  # a tiny task: the 100-step range test dominates
        dear = Finding(f"this search cost {compute:.3g} member-epochs, more than training its "
                       f"{candidates} candidates for the full {p.epochs} epoch(s) would "
                       f"({candidates * p.epochs}): on a task this small, a grid of rates "
                       "trained in full (lrlab grid) is cheaper", "costly")
        confidence = dataclasses.replace(confidence, notes=(*confidence.notes, dear))
    confidence = one_next_step(confidence)  # several lines advising: one thing to do
    return confidence


def _move(race: _Race, choice: Choice, rates: list[float], *, clear: bool, bottom: float,
          reached: float, ended: bool, allowed: float, per: float, candidates: int) -> Choice:
    """The pick after the race's one move (:class:`Move`), if its first run ``rates`` (the
    pick ``choice``) calls for one: ``allowed`` all races may cost, ``per`` one rate's race;
    the moved race runs at most ``candidates`` rates and at least three, as many as the
    budget pays for (a move ``"above"``: one or two, up to a decade).

    An adaptive race that learned nothing from a clear descent's placement does not move:
    nothing learned is too few steps, not too low a rate, so only the rates at or below
    its placement stay in the running (``_Race.cap``)."""
    fits = race.affords(allowed, per)
    if not choice.learned and race.walk == "down":
        if clear:  # (a race of two candidates stops short of its placement: its lowest)
            # the placement as the race rounded it (3 digits): 0.0041095 raced as 0.00411,
            # which the unrounded cap left out of its own longer race and of the pick
            race.cap = max(float(f"{bottom:.3g}"), min(rates))
            return race.pick()
        below = moved_below(min(rates), min(candidates, max(3, fits)))
        race.cap = below[0]  # the rates above the moved race are out of the running
        choice = race.go("below", below)
        if choice.learned:  # a ranking again: the refinement may go a step above it
            race.cap = math.inf
        return choice
    if not choice.learned:
        up = moved_up(max(rates), reached, min(candidates, max(3, fits)))
        return race.go("up", up) if up else choice
    if down := moved_down(race.table(), choice.lr, min(candidates, max(3, fits)),
                          higher_is_better=race.higher, chance=race.chance,
                          monitor=race.monitor, n=race.n, binomial=race.binomial):
        return race.go("down", down)
    if race.walk == "up" and not clear and (above := moved_above(
            race.table(), choice.lr, reached, min(ABOVE, max(1, fits)), ended=ended,
            higher_is_better=race.higher, chance=race.chance, monitor=race.monitor, n=race.n,
            binomial=race.binomial)):
        return race.go("above", above)
    return choice


#: A raced rate whose training loss (an epoch's mean) and validation loss never came within
#: this factor of the untrained model's is unstable: it did not learn, whatever its
#: validation score (see ``learned_mask``). Either loss will do: an epoch's mean training
#: loss carries the first steps' transient (blobs' first epoch averaged 13 from a start of
#: 4.0 and ended at a validation loss of 1.9), the validation loss the last step's luck.
UNSTABLE = 1.05

#: The training batches from which a rescored race (:meth:`_Race.rescore`) recomputes
#: BatchNorm's statistics before each evaluation
#: (:meth:`~lrlab.population.Population.recomputed_norms`): as many as the running
#: average's default momentum, 0.1, weighs most. A race of a few dozen steps moves the
#: weights faster than the running statistics follow: the depthwise CNN of
#: ``user_shapes3.mobilenet`` (Nesterov 0.9, a 14-step race) scored chance at every raced
#: rate on them, 20-65% on recomputed statistics. Only a race that learned nothing is
#: rescored: the full training is scored on running statistics too, whose lag at a high
#: rate a recomputed race does not see (every race so scored took audio's 1-D CNN 2-3x
#: higher, 0.4 -> 1.1 points mean regret).
NORM_BATCHES = 10

#: The most memory (bytes, on the CPU) a race on a model with BatchNorm keeps its members'
#: weights in after each epoch, for :meth:`_Race.rescore` to score them again without
#: training again: a member-epoch costs the model's parameters and buffers (the depthwise
#: CNN of ``user_shapes3.mobilenet``: 0.04 MB; a torchvision ResNet-18: 47 MB, so 5 members
#: by 6 epochs, 1.4 GB, are over it). A race over it is trained again to be rescored.
KEPT_BYTES = 2**30

#: The tie band of an SGD-like race: at least this share of the two rates' mean setback
#: (half: a band as wide as the whole swing let a deep tanh net's 2.15, stuck at 42% for
#: good, tie its best rate 1.0, which swings less).
SWING = 0.5


class _Race:
    """The races of one auto run: every population from the same weights and order, their
    scores in one table (:meth:`table`), the chance level and the pick (:meth:`pick`).

    ``walk`` is where a tie goes. ``"up"`` for SGD-like rules: their long-run best sits near
    the edge of stability and a short race favours lower rates (short-horizon bias, Wu et
    al. 2018: an MSE regression's race put 0.1 and 0.046 ahead of its 40-epoch optimum 0.215
    by less than its epoch-to-epoch swings, and lost 30-80% of its loss there); the band
    widens to half the two rates' setbacks (:data:`SWING`), and the second-seed check can
    undo the walk (:func:`held`). ``"down"`` for adaptive rules, whose best sits well below
    the edge, unless the raced rate next above the best ties it too (``Choice.held``: over
    84 adaptive new-user runs the 11 walks down past such a tie lost 27 points summed, their
    bests about 7); and an adaptive race ranked by a score picks no rate past
    :attr:`ceiling` while one at or below it learned (:attr:`turned`).

    The state a run builds up, in the order it does:

    - :attr:`races` (the first race, a move's, the refinement's) and :attr:`populations`
      (every one trained, the longer races and the check too); :attr:`cost`, what they took
      from the budget.
    - :attr:`ceiling` and :attr:`cap` (set by ``auto``): rates above them are out of the
      running; :attr:`passed` and :attr:`unwalked` say what :meth:`pick` did with them.
    - :attr:`looked`: a one-epoch race's unstable rates trained one more epoch (:meth:`shaky`).
    - :attr:`moved`: the race's one move (:class:`Move`).
    - :attr:`longer` and :attr:`horizon`: the longer races of a race that learned nothing
      (:meth:`lengthen`).
    """

    def __init__(self, p: Plan, task: Task, epochs: int, walk: str = "down",
                 scored: Untrained | None = None) -> None:
        self.p, self.task, self.epochs, self.walk = p, task, epochs, walk
        self.races: list[SweepResult] = []  # the raced rates' populations (:meth:`run`)
        self.populations: list[SweepResult] = []  # every population trained
        #: the longer races (:meth:`lengthen`): rates continued from a race's last epoch
        self.longer: list[SweepResult] = []
        self.horizon = epochs  # epochs the latest race's rates trained
        #: where the race moved after its first run, and why (:func:`_move`); None: it did not
        self.moved: Move | None = None
        #: ties walk up no further than this (:data:`PAST_BOTTOM` above the range test's
        #: trend bottom where it showed a clear descent); a :attr:`turned` race picks no rate
        #: above it while one at or below it learned
        self.ceiling = math.inf
        #: an adaptive race that learned nothing: its placement (or a move below's top),
        #: above which no rate is continued or picked
        self.cap = math.inf
        #: a :attr:`turned` race's best past :attr:`ceiling`, passed over (``nan``: none)
        self.passed = math.nan
        #: a race capped at a clear descent's placement kept its best over a tie below:
        #: ``(the best, the rate the walk would have reached)``; empty when it did not
        self.unwalked: tuple[float, ...] = ()
        #: a one-epoch race's unstable rates trained one more epoch (:meth:`shaky`), and the
        #: populations of that look, apart from the longer race
        self.looked: list[float] = []
        self._looks: list[SweepResult] = []
        self._saved: dict[int, Checkpoint] = {}  # id(race) -> its state after its last epoch
        self._cost = 0.0
        self.monitor, self.higher = p.task.monitor, p.task.higher_is_better
        self.base = baseline(p.task, p.seed, scored)
        self.n, self.chance = self.base.score_n, self.base.chance
        self.binomial = self.base.binomial
        self.start = _start_loss(task, p.seed)
        #: how the races are scored: on the running statistics, as a PyTorch evaluation
        #: reads them, until :meth:`rescore` (or the settings' ``norm_batches``) says otherwise
        self.scoring: dict[str, int] = {}
        #: whether :meth:`rescore` may rescore: the model keeps running statistics (BatchNorm)
        #: and the settings leave the scoring to auto
        model = task.init_model(p.seed).train()
        self.norms = "norm_batches" not in p.settings and bool(running_norms(model))
        #: one member-epoch of the weights :meth:`rescore` reads (see :data:`KEPT_BYTES`)
        self.member_bytes = (sum(t.numel() for t in model.state_dict().values())
                             * getattr(torch, p.settings.get("dtype") or "float32").itemsize)
        #: id(race) -> its checkpoints after every epoch, while it may still be rescored
        self.kept: dict[int, list[Checkpoint]] = {}

    @property
    def cost(self) -> float:
        """Full-training epochs every population so far cost (a longer race only the epochs
        it added), which is what the races take from the plan's budget: a race rescored from
        the weights it kept (:meth:`rescore`) trained nothing, and leaves the refinement and
        the check the budget a race trained again would have taken from them."""
        return self._cost

    @property
    def share(self) -> float:
        """One member-epoch of the race's data in full-training epochs."""
        return examples(self.task) / examples(self.p.full)

    @property
    def raced(self) -> list[float]:
        return [float(v) for r in self.races for v in r.members["lr"]]

    def moved_to(self, *kinds: str) -> list[float]:
        """The rates of the race's move (:attr:`moved`) when it is of one of ``kinds``; empty
        otherwise."""
        return self.moved.rates if self.moved and self.moved.kind in kinds else []

    @property
    def below(self) -> list[float]:
        """The rates of a move ``"below"`` (:class:`Move`): an adaptive race that learned
        nothing from a placement without a clear descent; empty otherwise."""
        return self.moved_to("below")

    def affords(self, allowed: float, each: float) -> int:
        """How many more trainings costing ``each`` (full-training epochs) the budget
        ``allowed`` (all races together) pays for after the races so far (:attr:`cost`)."""
        return math.floor((allowed - self.cost) / each + 1e-9)

    def overspends(self, extra: float, allowed: float) -> bool:
        """Whether ``extra`` more (full-training epochs) takes the races past ``allowed``."""
        return self.cost + extra > allowed * (1 + 1e-9)

    def refinement(self, lr: float, top: float) -> list[float]:
        """The rates a quarter decade either side of ``lr`` (:func:`refine_rates`) not raced
        yet, none above ``top`` (the largest rate a range test or race reached) nor, in a
        :attr:`turned` race, above :attr:`ceiling` (:meth:`pick` would pass them over)."""
        rates = [r for r in dict.fromkeys(min(r, top) for r in refine_rates(lr))
                 if r not in self.raced]
        if self.turned:
            rates = [r for r in rates if r <= self.ceiling * (1 + 1e-9)]
        return rates

    def scored(self, result: SweepResult, longer: bool = False) -> pd.DataFrame:
        """A population's ``scored_table`` with ``stable``, ``setback``, ``pace`` and the
        ``first`` and ``last`` epochs' training loss as a share of the untrained model's.

        A longer race (``longer``) is read where each rate ended: its score is the last
        epoch's, and a rate whose training loss ended above the untrained model's (by the
        5% of :data:`UNSTABLE`) is unstable: on a plateau a rate's score flickers (a tanh
        RNN at 3x its best rate scored 66% in its third epoch, 26% in its fourth)."""
        t = scored_table(result.summary(), self.monitor)
        val = result.curve(self.monitor, "val").to_numpy(float)
        t["setback"] = [setback(val[:, k], self.higher) for k in range(val.shape[1])]
        t["pace"] = [pace(val[:, k], self.higher) for k in range(val.shape[1])]
        if longer:
            t["score"] = t["final"]
        if any(math.isfinite(v) for v in self.start):
            stable = np.zeros(len(t), bool)
            for split, start in zip(("train", "val"), self.start):
                if math.isfinite(start):
                    curve = result.curve("loss", split)
                    low = curve.min().to_numpy(float)
                    ok = np.isfinite(low) & (low <= UNSTABLE * start)
                    if longer:
                        ok &= _last(curve) <= UNSTABLE * start
                    stable |= ok
            t["stable"] = stable
            split, start = next((s, v) for s, v in zip(("train", "val"), self.start)
                                if math.isfinite(v))
            curve = result.curve("loss", split)
            # a race of one epoch: a loss that fell in it fell from the untrained model's
            t["first"] = curve.iloc[0].to_numpy(float) / start if len(curve) > 1 else 1.0
            t["last"] = _last(curve) / start
        vloss = result.curve("loss", "val")
        t["vloss"] = _last(vloss) if longer else vloss.min().to_numpy(float)
        if "last" in t and math.isfinite(self.start[0]):  # (``last``: the training loss)
            # stable by its losses' return, yet stuck above both: no learning (the column
            # marks the rates this made unstable, for the explanation)
            t["stuck"] = t["stable"] & stuck_above(t["last"].to_numpy(float), vloss,
                                                   self.start[1])
            t["stable"] &= ~t["stuck"]
        if longer and "stable" in t and self.looked:
            # a looked-at rate is stable only back from its first epoch's spike and learning
            # (not stuck above: its loss still coming down); one that came back without
            # learning stays out of the guesses of a race that learned nothing, as before
            looked = t["lr"].isin(self.looked).to_numpy(bool)
            came = (looked & self._came_back(result)
                    & learned_mask(t.assign(stable=True), higher_is_better=self.higher,
                                   chance=self.chance, noise=self.noise(self.chance)))
            t["stable"] = np.where(looked, came, t["stable"].to_numpy(bool))
            if "stuck" in t:
                t["stuck"] &= ~looked
        return t

    def table(self) -> pd.DataFrame:
        """Every raced rate's row; a rate the longer race continued: its longer row."""
        rows = ([self.scored(r) for r in self.races]
                + [self.scored(r, longer=True) for r in self._looks + self.longer])
        return pd.concat(rows, ignore_index=True).drop_duplicates("lr", keep="last")

    def turned_unstable(self) -> dict[float, int]:
        """The rates stable in their first race and unstable where a longer race left them
        (:meth:`scored`: read at its last epoch), each with the epochs it had trained then:
        the explanation says so in that order, not "stable" and then "unstable" of one rate
        with nothing between."""
        if not self.longer:
            return {}
        first = pd.concat([self.scored(r) for r in self.races], ignore_index=True)
        if "stable" not in first:
            return {}
        before = dict(zip(first["lr"].to_numpy(float), first["stable"].to_numpy(bool)))
        out: dict[float, int] = {}
        for r in self.longer:  # in order: a rate's last longer race is where it stopped
            t = self.scored(r, longer=True)
            stuck = t["stuck"].to_numpy(bool) if "stuck" in t else np.zeros(len(t), bool)
            for v, ok, s in zip(t["lr"].to_numpy(float), t["stable"].to_numpy(bool), stuck):
                out.pop(float(v), None)
                if before.get(float(v), False) and not ok and not s:
                    out[float(v)] = int(r.records["epoch"].max())
        return out

    def blew_up(self) -> dict[float, int]:
        """The raced rates that blew up: stable in their race (a loss back within
        :data:`UNSTABLE` of the untrained model's at some epoch), then a training loss more
        than :data:`BLOWN` times the untrained model's at the end of their race or of the
        longer race; each with the epochs it had trained then (empty without the untrained
        model's loss)."""
        stable: dict[float, bool] = {}
        out: dict[float, int] = {}
        # in order: a rate's longer race (if any) is where it stopped
        for r, longer in [(r, False) for r in self.races] + [(r, True) for r in self.longer]:
            t = self.scored(r, longer=longer)
            if "last" not in t:
                return {}
            # stable by its losses' return: a rate stuck above them is still one that came
            # back and then went (``stuck_above``; a tanh RNN's 1 at 7x by its race's end)
            back = t["stable"] | t["stuck"] if "stuck" in t else t["stable"]
            for v, ok, last in zip(t["lr"].to_numpy(float), back, t["last"]):
                if not longer:
                    stable[float(v)] = bool(ok)
                if stable.get(float(v), False) and last > BLOWN:
                    out[float(v)] = int(r.records["epoch"].max())
        return out

    @property
    def turned(self) -> bool:
        """Whether the race picks no rate past :attr:`ceiling` while one at or below it
        learned: an adaptive rule's race ranked by a score (accuracy, AUC, a classifier's own
        metric), not a loss.

        A short race favours a rate that gains fast at first, and on a score such a rate
        past the range test's turn falls behind over the full training (under Adam, 29 of
        35 grid rates a quarter to half a decade past the turn missed the best by over 2
        points). A loss can keep falling through a whole training, and the faster rate may
        stay ahead: a raw-target regression trained best at 3x its turn."""
        return self.walk == "down" and self.monitor != "loss"

    @property
    def swing(self) -> float:
        """How much of the race's setbacks count as a tie (0 for a ``"down"`` walk: the
        validation noise alone)."""
        return SWING if self.walk == "up" else 0.0

    def noise(self, score: float) -> float:
        """The noise of one validation score (:meth:`Baseline.noise`, as every search reads it)."""
        return self.base.noise(score, self.monitor)

    def learned_any(self) -> bool:
        return bool(learned_mask(self.table(), higher_is_better=self.higher, chance=self.chance,
                                 noise=self.noise(self.chance)).any())

    def run(self, rates: list[float]) -> Choice:
        saved: list[Checkpoint] = []
        keep = (self.norms and not self.scoring and not self.races
                and not (self.p.schedule and self.p.schedule.follows_metric)
                and len(rates) * self.epochs * self.member_bytes <= KEPT_BYTES)
        result = self.p.train(rates, epochs=self.epochs, task=self.task,
                              on_checkpoint=saved.append, checkpoint_every=1 if keep else None,
                              **self.scoring)
        self._saved[id(result)] = saved[-1]
        if keep:  # the weights alone before the last epoch (what :meth:`rescore` reads)
            self.kept[id(result)] = [
                dataclasses.replace(s, population={k: v for k, v in s.population.items()
                                                   if k != "rule"}, records=[], steps=[])
                for s in saved[:-1]] + saved[-1:]
        self.races.append(result)
        self.populations.append(result)
        self._cost += self.p.cost(result, self.task)
        return self.pick()

    def go(self, kind: str, rates: list[float]) -> Choice:
        """Move the race (:class:`Move` ``kind``): race ``rates`` and pick again."""
        self.moved = Move(kind, rates)
        return self.run(rates)

    def rescore(self) -> Choice | None:
        """When no rate of the latest race beat chance on a model whose BatchNorm keeps
        running statistics: that race's evaluations again, each on statistics recomputed
        from :data:`NORM_BATCHES` training batches at the weights it kept after each epoch
        (:func:`~lrlab.train.rescored`: no training, no compute; a race over
        :data:`KEPT_BYTES` trains again from the same weights and order, to the same
        records), as every later race is then scored; its rows replace the latest race's.
        ``None`` (nothing run) otherwise."""
        if not self.norms or self.scoring or self.learned_any():
            return None
        first = self.races.pop()
        rates = [float(v) for v in first.members["lr"]]
        self.scoring = {"norm_batches": NORM_BATCHES}
        states = self.kept.pop(id(first), None)
        if states is None:
            return self.run(rates)
        config = self.p.config(rates, epochs=self.epochs, **self.scoring)
        result, last = rescored(self.task, config.members(), config, states)
        self._saved[id(result)] = last
        self.races.append(result)
        self.populations.append(result)
        return self.pick()  # (no training: no cost)

    def pick(self) -> Choice:
        """:func:`choose` on every row so far (at or below :attr:`cap`), then what it leaves:

        - a race capped at a clear descent's placement keeps its best over a tie below
          (:attr:`unwalked`): the placement is the best reading such a race has and a tie
          no evidence against it (a masked LM's walk from its best 0.00411 down to 0.0013
          lost 27.7 points over the full training, 0.00411 about 2.4);
        - a :attr:`turned` race whose choice lies past :attr:`ceiling` takes the best at or
          below it that learned (:attr:`passed`);
        - when none learned: the rate with the lowest validation loss where that loss fell
          clearly below the untrained model's (:func:`by_loss`: an accuracy can sit at
          chance while the loss already ranks the rates); capped, the highest rate whose
          training loss fell within 1% as far as any (:func:`furthest`), else the highest
          stable one (with Adam every rate up to the edge leaves a plateau the sooner the
          higher it is, so a lower rate can show the placement too high, never the other
          way: a ViT's rate 10x its placement learned first and ended 30 points behind it);
          else the highest rate whose training loss still fell (:func:`falling`), else the
          lowest stable rate (the one least likely to sit past the edge)."""
        t = self.table()
        capped = math.isfinite(self.cap)
        if capped:
            t = t[t["lr"] <= self.cap * (1 + 1e-9)]
        choice = choose(t, higher_is_better=self.higher, chance=self.chance,
                        monitor=self.monitor, n=self.n, binomial=self.binomial,
                        swing=self.swing, walk=self.walk, held=True,
                        ceiling=self.ceiling, paced=self.monitor == "loss")
        self.passed, self.unwalked = math.nan, ()
        if capped and not self.below and choice.learned and choice.lr < choice.best_lr:
            # placed by a clear descent, the race learned nothing at first: a tie below the
            # best is no evidence against the placement (the race can only lower it)
            self.unwalked = (choice.best_lr, choice.lr)
            choice = dataclasses.replace(choice, lr=choice.best_lr, tied=(), dipped=())
        under = t[t["lr"] <= self.ceiling * (1 + 1e-9)]
        if (self.turned and choice.learned and choice.lr > self.ceiling * (1 + 1e-9)
                and len(under)):
            # an adaptive rule's short race flatters a rate past the range test's turn: the
            # best at or below it, when one learned
            lower = choose(under,
                           higher_is_better=self.higher, chance=self.chance,
                           monitor=self.monitor, n=self.n, binomial=self.binomial,
                           swing=self.swing, walk=self.walk, held=True,
                           paced=self.monitor == "loss")
            if lower.learned:
                self.passed = choice.lr
                return lower
        if choice.learned or "last" not in t:
            return choice
        if self.monitor != "loss":  # the score did not move; the loss may have
            lr = by_loss(t, untrained=self.start[1], n=self.base.n, walk=self.walk)
            if math.isfinite(lr):
                return Choice(lr, math.nan, (), (), "the rate with the lowest validation "
                              "loss (which fell clearly below the untrained model's)")
        if capped:  # a lower rate may show the placement too high, never the other way
            lr = furthest(t, untrained=self.start[1])
            if math.isfinite(lr):
                return Choice(lr, math.nan, (), (), f"the highest rate at or below "
                              f"{rate(self.cap)} whose training loss fell within 1% as far as "
                              "any")
            steady = t[t["stable"] & ~t["diverged"]
                       & ~(t.get("vloss", 0.0) > BLOWN * self.start[1])]
            if len(steady):  # no rate trained clearly further: the placement holds
                return Choice(float(steady["lr"].max()), math.nan, (), (), f"the highest stable "
                              f"rate at or below {rate(self.cap)} (none ended 1% below the "
                              "untrained model's training loss: none trained clearly further)")
        lr = falling(t, untrained=self.start[1], rise=self.rise)
        if math.isfinite(lr):
            return Choice(lr, math.nan, (), (), FELL)
        steady = t[t["stable"] & ~t["diverged"]]
        if not len(steady):
            return choice
        return Choice(float(steady["lr"].min()), math.nan, (), (),
                      "the lowest stable rate, no rate's training loss having fallen")

    @property
    def rise(self) -> float:
        """How far a rate's training loss may rise over its race and still count as falling
        for :func:`falling`: :data:`HOLD` (1%) after a race of two epochs or more, else 1
        (must fall: one epoch's ``first`` is the untrained model's loss, not an epoch's mean).

        On a plateau two epochs' means differ by noise (a recurrent net's stable rates moved
        by -0.45% to +0.24% over 4 epochs); read strictly, a rise of 0.007% put an LSTM's
        best rates out of the running and its pick lost 64 points. A rate rising out of its
        plateau towards the edge rises further (the LSTM's 3.16, 1.0-2.6%)."""
        return HOLD if self.horizon > 1 else 1.0

    def lengthen(self, allowed: float) -> Choice | None:
        """Nothing learned: continue every stable rate from where its race stopped, doubling
        the horizon while the budget ``allowed`` (full-training epochs, all races) pays for
        it and nothing has learned. Each longer race is read at its end (:meth:`scored`).
        With :attr:`cap` set, only the rates at or below it, from the cap down, as many as
        the budget pays for (the rates nearest the placement first). After a one-epoch race,
        its unstable rates (:meth:`shaky`) go on too, in :attr:`looked`: the highest rates
        first where not all fit; alone for one more epoch (:meth:`_look`) where not even the
        stable ones fit, which then stop there as before. None when not even one doubling
        fits."""
        choice = None
        front: list[SweepResult] = []  # the populations at the current horizon
        while choice is None or not choice.learned:
            t = self.table()
            t = t[t.get("stable", True) & ~t["diverged"] & ~t["lr"].isin(self.looked)]
            if front:  # only the rates trained to the current horizon go on
                on = {float(v) for r in front for v in r.members["lr"]}
                t = t[t["lr"].isin(on)]
            keep = np.sort(t["lr"].to_numpy(float))[::-1]
            target = 2 * self.horizon
            each = (target - self.horizon) * self.share
            fits = max(0, self.affords(allowed, each))
            if math.isfinite(self.cap):
                keep = keep[keep <= self.cap * (1 + 1e-9)]
                keep = keep[:fits]
            elif not front and len(shaky := self.shaky()):
                # a one-epoch race's unstable rates go on too (:meth:`shaky`): with the stable
                # ones where they fit (the highest of all, as many as the budget pays for,
                # where only the stable ones fit); alone, one more epoch, where not even
                # the stable ones fit (as before, they do not go on)
                if len(keep) > fits:
                    return self._look(shaky, fits)
                keep = np.sort(np.concatenate([keep, shaky["lr"].to_numpy(float)]))[::-1]
                keep = keep[:fits]
                self.looked = sorted(float(v) for v in shaky["lr"] if float(v) in keep)
            sources = [r for r in (front or self.races)
                       if any(float(v) in keep for v in r.members["lr"])]
            extra = len(keep) * each
            if not len(keep) or self.overspends(extra, allowed):
                break
            front = self._continue(sources, keep, target)
            self.longer.extend(front)
            self._cost += extra
            self.horizon = target
            choice = self.pick()
        return choice

    def _continue(self, sources: list[SweepResult], keep: Collection[float],
                  target: int) -> list[SweepResult]:
        """The rates ``keep`` of each population of ``sources`` trained on from where it
        stopped to ``target`` epochs, one population per source (kept in
        :attr:`populations`; the caller counts the cost)."""
        out = []
        for source in sources:
            lrs = [float(v) for v in source.members["lr"]]
            index = [i for i, v in enumerate(lrs) if v in keep]
            config = self.p.config([lrs[i] for i in index], epochs=target, **self.scoring)
            members = config.members()
            start = fork(self._saved[id(source)], index, self.task, members, config)
            saved: list[Checkpoint] = []
            result = fit(self.task, members, config, callbacks=self.p.callbacks,
                         resume=start, on_checkpoint=saved.append)
            self._saved[id(result)] = saved[-1]
            out.append(result)
            self.populations.append(result)
        return out

    def shaky(self) -> pd.DataFrame:
        """The rows of a one-epoch race (of a longer training; SGD-like rules) unstable on
        that epoch alone: neither loss back within :data:`UNSTABLE` of the untrained model's,
        yet finite, not diverged and not stuck above (empty otherwise).

        One epoch's mean is no evidence of divergence: a spike in the first steps that the
        model recovers from weighs on it as much as a loss that blew up. A bag-of-words
        classifier over a sparse embedding (``new_user.py``'s ``sparse``: SGD, 4 epochs, the
        best rates 10-46) ended its first epoch at 10 at 2.9x the untrained model's training
        loss and 5x its validation loss, the second at 1.5x and 1.2x (validation accuracy
        69%, chance 52%), the fourth at 0.24x; the one-epoch race called 10 and 3.16
        unstable, and kept 0.3-1.8, which lost 18-26 points. Such a rate trains on one more
        epoch where it may decide the pick (:meth:`look_again`, :meth:`lengthen`), and is
        stable there if it came back and learned (:meth:`_came_back`). Not under adaptive
        rules, whose best rate sits well below the edge (see :class:`_Race`)."""
        t = self.table()
        if (self.horizon != 1 or self.p.epochs <= 1 or self.walk != "up" or self.longer
                or self._looks or "last" not in t):
            return t.iloc[:0]
        stuck = t["stuck"].to_numpy(bool) if "stuck" in t else np.zeros(len(t), bool)
        return t[~t["stable"].to_numpy(bool) & ~stuck & ~t["diverged"].to_numpy(bool)
                 & np.isfinite(t["last"].to_numpy(float))]

    def look_again(self, choice: Choice, allowed: float) -> Choice | None:
        """A one-epoch race that learned, where a rate it found unstable (:meth:`shaky`)
        scored better than the best that learned: train those rates on one more epoch, the
        best-scoring first, when the budget ``allowed`` (full-training epochs, all races)
        pays for them and still for the refinement (two rates) after, each read at its
        second epoch (:meth:`scored`, ``longer``). The new pick, or None when nothing was
        looked at. (A race that learned nothing looks again in :meth:`lengthen`.)"""
        shaky = self.shaky()
        if not choice.learned or not len(shaky):
            return None
        t = self.table()
        sign = 1.0 if self.higher else -1.0
        best = float(t.loc[np.isclose(t["lr"].to_numpy(float), choice.best_lr), "score"].iloc[0])
        shaky = shaky[sign * (shaky["score"].to_numpy(float) - best) > 0]
        if not len(shaky):
            return None
        return self._look(shaky, self.affords(allowed, self.share) - 2)

    def _look(self, shaky: pd.DataFrame, fits: int) -> Choice | None:
        """The rows ``shaky`` of a one-epoch race, at most ``fits`` of them, the best-scoring
        first, trained on one more epoch (:attr:`looked`), apart from the longer race: the
        new pick, or None when none fits."""
        if not len(shaky) or fits < 1:
            return None
        sign = 1.0 if self.higher else -1.0
        order = np.argsort(-sign * shaky["score"].to_numpy(float), kind="stable")
        keep = [float(v) for v in shaky["lr"].to_numpy(float)[order][:fits]]
        sources = [r for r in self.races if any(float(v) in keep for v in r.members["lr"])]
        self.looked = sorted(keep)
        self._looks = self._continue(sources, keep, 2 * self.horizon)
        self._cost += len(keep) * self.share
        return self.pick()

    def _came_back(self, result: SweepResult) -> np.ndarray:
        """Per member of a longer population: whether its training loss came back from its
        first epoch's spike: its last epoch's mean at most :data:`BLOWN` x the untrained
        model's and at least halfway back down from the first's to it (:meth:`scored` marks a
        looked-at rate that came back and learned stable)."""
        start = self.start[0]
        curve = result.curve("loss", "train")
        if not math.isfinite(start) or len(curve) < 2:
            return np.zeros(curve.shape[1], bool)
        first, end = curve.iloc[0].to_numpy(float), _last(curve)
        return (np.isfinite(end) & (end <= BLOWN * start)
                & (end - start <= (first - start) / 2))

    def spike(self, lr: float) -> tuple[float, float]:
        """A looked-at rate's (:attr:`looked`) training loss in its first and its second
        epoch, as shares of the untrained model's."""
        for r in self._looks + self.longer:
            lrs = [float(v) for v in r.members["lr"]]
            if lr in lrs:
                curve = r.curve("loss", "train").to_numpy(float)[:, lrs.index(lr)]
                return float(curve[0] / self.start[0]), float(curve[-1] / self.start[0])
        return math.nan, math.nan

    @property
    def recovered(self) -> list[float]:
        """The looked-at rates (:attr:`looked`) stable at their second epoch: back from their
        spike, and learned (:meth:`scored`)."""
        if not self.looked:
            return []
        t = self.table()
        t = t[t["lr"].isin(self.looked)]
        return sorted(float(v) for v in t["lr"][t.get("stable", False)])

    def check(self, choice: Choice) -> tuple[float, str] | None:
        """Race the pick and the next lower rate that learned from ``seed + 1``: the rate to
        keep and what was seen, or None when no lower rate learned."""
        lower = [r for r in choice.learned if r < choice.lr]
        if not lower:
            return None
        below = max(lower)
        result = self.p.train([choice.lr, below], epochs=self.epochs, task=self.task,
                              seed=self.p.seed + 1, **self.scoring)
        self.populations.append(result)
        self._cost += self.p.cost(result, self.task)
        t = self.scored(result).set_index("lr")
        mine, other = float(t.loc[choice.lr, "score"]), float(t.loc[below, "score"])
        noise = max(self.noise(mine if math.isfinite(mine) else other),
                    self.swing * float(t["setback"].mean()))
        learned = bool(learned_mask(t.loc[[choice.lr]], higher_is_better=self.higher,
                                    chance=self.chance, noise=self.noise(self.chance))[0])
        raced = self.table().set_index("lr")
        scores = [(float(f.loc[choice.lr, "score"]), float(f.loc[below, "score"]))
                  for f in (raced, t)]
        paces = [(float(f.loc[choice.lr, "pace"]), float(f.loc[below, "pace"]))
                 for f in (raced, t)]
        why = "unlearned" if not learned else check_reason(scores, paces, noise, self.higher)
        return (choice.lr if why in HELD else below), checked_words(
            why, choice.lr, below, scores, noise, self.p.seed)

    def caught_up(self, lr: float) -> tuple[float, str] | None:
        """The raced rate a quarter decade below ``lr`` and what was seen, when it trained as
        fast (:func:`caught_up`); None otherwise."""
        t = self.table()

        def ask(level: float) -> float:
            return caught_up(t, lr, higher_is_better=self.higher, chance=self.chance,
                             monitor=self.monitor, n=self.n, binomial=self.binomial,
                             walk=self.walk, level=level)
        # the level (a forward pass) only where the tolerance alone would take the lower rate
        level = math.inf  # (the tolerance wherever the pick's loss stood)
        low = ask(level)
        if math.isfinite(low) and not math.isfinite(ask(0.0)):  # (0: no tolerance anywhere)
            level = self.level
            low = ask(level)
        if not math.isfinite(low):
            return None
        lrs = t["lr"].to_numpy(float)
        mine, other = (t[np.isclose(lrs, v)].iloc[0] for v in (lr, low))
        within = (f", within {100 * (HOLD - 1):.0f}%" if mine["last"] < level * (2 - HOLD)
                  else "")
        return low, (f"{rate(lr)} scored {mine['score']:.4f} and {rate(low)} a quarter decade "
                     f"below it {other['score']:.4f}, but {rate(low)}'s training loss ended the "
                     f"race no higher{within} ({other['last']:.4f} of the "
                     f"untrained model's, "
                     f"{rate(lr)} {mine['last']:.4f}): the higher rate no longer trained "
                     f"faster, so the lower {rate(low)}")

    @functools.cached_property
    def level(self) -> float:
        """Where a race's training loss starts, as a share of the untrained model's
        (``start``, read in evaluation mode, which ``last`` is a share of): its training loss
        in training mode (:func:`_start_loss`; dropout's, BatchNorm's batch statistics', an
        auxiliary head's loss too), 1 where either is unknown. Read by :meth:`caught_up`
        only, whose tolerance asks how far the pick's loss fell (an auxiliary head's
        ``0.3 x`` its loss puts a start at 1.30, dropout's at 1.01 of the untrained model's)."""
        trained = _start_loss(self.task, self.p.seed, training=True)[0]
        ratio = trained / self.start[0]
        return float(ratio) if math.isfinite(ratio) and ratio > 0 else 1.0

    def past_lone_top(self, lr: float) -> tuple[float, str] | None:
        """When ``lr`` learned alone at the top of the race (:func:`lone_at_top`): the rate
        with the lowest validation loss among the others, ties going down
        (:func:`by_loss`; the rates near a flicker at the top are the suspect ones), else
        the next lower stable rate; with what chose it, in words. None otherwise."""
        t = self.table()
        if not lone_at_top(t, lr, higher_is_better=self.higher, chance=self.chance,
                           monitor=self.monitor, n=self.n, binomial=self.binomial):
            return None
        rest = t[~np.isclose(t["lr"].to_numpy(float), lr)]
        low = by_loss(rest, untrained=self.start[1], n=self.base.n, walk="down")
        if math.isfinite(low):
            return low, "the rate with the lowest validation loss of the others"
        steady = rest[~rest["diverged"] & rest.get("stable", True) & (rest["lr"] < lr)]
        if not len(steady):
            return None
        return float(steady["lr"].max()), "the next lower stable rate"

    def confidence(self, lr: float, extra: tuple[str, ...]) -> Confidence:
        t = self.table()
        searched = (float(t["lr"].min()), float(t["lr"].max()))
        if math.isfinite(self.cap):  # the rates above it were out of the running (``pick``):
            # one that sat at chance in its short race is no edge next to the pick
            t = t[t["lr"] <= self.cap * (1 + 1e-9)]
        c = assess(t, lr, higher_is_better=self.higher, chance=self.chance,
                   monitor=self.monitor, n=self.n, binomial=self.binomial, extra=extra,
                   searched=searched, raced=True)
        if "race_unlearned" in kinds_of(extra):
            # auto's own line says it, with the budget and what to try: one line, not two
            c = dataclasses.replace(c, warnings=tuple(
                w for w in c.warnings if kind_of(w) != "no_rate_learned"))
        return c


def checked_words(why: str, lr: float, below: float, scores: Sequence[tuple[float, float]],
                  noise: float, seed: int) -> str:
    """What the second-seed check of ``lr`` against the lower ``below`` saw and why the
    pick held or fell (``why``: :func:`check_reason`'s word, or ``"unlearned"``); ``scores``
    as :func:`check_reason` takes them, the race's from ``seed`` and the check's from
    ``seed + 1``; ``noise`` the band of a score.

    Example:
        >>> checked_words("first", 0.739, 0.416, [(0.9666, 0.9582), (0.9331, 0.9387)],
        ...               0.0095, 0)
        "from seed 1, 0.739 scored 0.9331 and 0.416 0.9387, ahead by less than the check's noise (0.0095), where from seed 0 0.739 had led (0.9666 against 0.9582): 0.739 held"
        >>> checked_words("first", 0.739, 0.416, [(0.9582, 0.9582), (0.9331, 0.9387)],
        ...               0.0095, 0).split("where ")[1]
        'from seed 0 0.739 had tied (0.9582 against 0.9582): 0.739 held'
    """
    (first, low_first), (mine, other) = scores
    pick, low = rate(lr), rate(below)
    seen = f"from seed {seed + 1}, {pick} scored {mine:.4f} and {low} {other:.4f}"
    # the check's own band (its race's noise and swing), not the headline's margin noise
    band = f"the check's noise ({noise:.2g})"
    fell = f"{pick} did not hold, so the pick is the lower {low}"
    led = "had tied" if first == low_first else "had led"
    return {
        "unlearned": f"{seen}: {pick} did not learn there, so the pick is the lower {low}",
        "beyond": f"{seen}, ahead by more than {band}: {fell}",
        "everywhere": f"{seen}, ahead by less than {band} and ahead from seed {seed} too "
                      f"({low_first:.4f} against {first:.4f}), gaining at least as fast at the "
                      f"end of both races: {fell}",
        "ahead": f"{seen}: {pick} held",
        "first": f"{seen}, ahead by less than {band}, where from seed {seed} {pick} {led} "
                 f"({first:.4f} against {low_first:.4f}): {pick} held",
        "pace": f"{seen}, ahead by less than {band} and ahead from seed {seed} too "
                f"({low_first:.4f} against {first:.4f}), but {pick} still gained faster at the "
                f"end of a race: {pick} held",
    }[why]


#: :func:`check_reason`'s words for a pick that keeps its place.
HELD = ("ahead", "first", "pace")


def check_reason(scores: Sequence[tuple[float, float]], paces: Sequence[tuple[float, float]],
                 band: float, higher_is_better: bool) -> str:
    """Whether a pick keeps its place over the next lower rate after the second-seed check,
    and why: one of :data:`HELD` (it keeps it) or ``"beyond"``, ``"everywhere"`` (it falls).

    ``scores`` and ``paces`` hold one ``(pick, lower rate)`` pair per seed, the race's first
    and the check's second: the best score and the end pace (:func:`pace`, higher is
    better). The pick falls when the lower rate is ahead by more than ``band`` on the
    check's seed (``"beyond"``), or when every piece of evidence points down: the lower rate
    ahead on every seed (by any amount) and gaining at least as fast at the end of every
    curve (``"everywhere"``). A tie walked up rests on the higher rate catching up later
    (short-horizon bias); two seeds that both order the lower rate first, with the higher
    one not closing in, leave the walk nothing to stand on. Any seed or curve the other way
    keeps the pick: not behind on the check's seed (``"ahead"``), ahead on an earlier one
    (``"first"``), or gaining faster at the end of a curve (``"pace"``).

    Example:
        >>> check_reason([(0.52, 0.50), (0.50, 0.51)], [(0.1, 0.1), (0.1, 0.1)], 0.05, True)
        'first'
        >>> check_reason([(0.50, 0.51), (0.46, 0.47)], [(0.06, 0.07), (0.14, 0.15)], 0.05, True)
        'everywhere'
    """
    sign = 1.0 if higher_is_better else -1.0
    mine, other = scores[-1]
    if math.isfinite(other) and sign * (other - mine) > band:
        return "beyond"
    behind = [math.isfinite(o) and (not math.isfinite(m) or sign * (o - m) > 0)
              for m, o in scores]
    slower = [not mp > op for mp, op in paces]  # a nan pace closes in on nothing
    if all(behind):
        return "everywhere" if all(slower) else "pace"
    return "ahead" if not behind[-1] else "first"


def held(scores: Sequence[tuple[float, float]], paces: Sequence[tuple[float, float]],
         band: float, higher_is_better: bool) -> bool:
    """Whether a pick keeps its place over the next lower rate after the second-seed check
    (:func:`check_reason`).

    Example:
        >>> held([(0.52, 0.50), (0.50, 0.51)], [(0.1, 0.1), (0.1, 0.1)], 0.05, True)
        True
        >>> held([(0.50, 0.51), (0.46, 0.47)], [(0.06, 0.07), (0.14, 0.15)], 0.05, True)
        False
    """
    return check_reason(scores, paces, band, higher_is_better) in HELD


#: How far below the pick :func:`caught_up` looks for a rate that trained as fast: a quarter
#: decade (the refinement's step, the race's finest), and 1% for rates kept to 3 digits. A rate
#: half a decade down (the race's own step) is too far to take on a training loss alone.
CAUGHT_UP_REACH = 10 ** 0.25 * 1.01


def caught_up(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
              monitor: str, n: int, walk: str = "up", factor: float = HOLD,
              binomial: bool | None = None, level: float = 1.0) -> float:
    """The raced rate a quarter decade below ``lr`` (:data:`CAUGHT_UP_REACH`) when it trained
    as fast; ``nan`` otherwise.

    As fast: both learned (:func:`learned_mask`) and the lower rate's last training loss
    (``last``, a share of the untrained model's) ended the race at most ``factor``
    (:data:`HOLD`, 1%) above ``lr``'s; no higher than ``lr``'s where ``lr``'s fell by no more
    than ``factor`` from where the race's training loss started (``level``, a share of the
    untrained model's loss like ``last``: ``_Race.level``). Only for an SGD-like race
    (``walk="up"``) ranked by a share (:data:`~lrlab.metrics.SHARES`: accuracy, error, AUC).

    The race ranks rates by a noisy best validation score; the training loss says whether a
    higher rate still buys faster training. Where the lower rate trains as fast, the higher
    one's lead rests on the score's noise, nearer an edge that moves down as the training
    goes on, and on a share the lower rate loses little (a deep tanh net: 1.0 led 0.562
    after 3 of 20 epochs by 3 noise units with a training loss 1.3% higher, and lost 4.7
    points in full where 0.562 lost 0.3). A loss does not level off: on an MSE regression
    the lower rate lost 14-48% more, so a race ranked by a loss keeps its pick.

    Where ``lr``'s loss fell by no more than the tolerance (a race inside a warm-up or
    barely off a plateau), the losses' order is the rates' pace and the tolerance would
    cover the whole fall: an SE-ResNet's one-cycle race ended every rate at 0.98-0.9997 of
    the untrained model's loss, and the lower neighbour taken within 1% lost 23.4 points.

    Example:
        >>> t = pd.DataFrame({"lr": [0.316, 0.562, 1.0], "score": [0.40, 0.43, 0.48],
        ...                   "diverged": [False] * 3, "last": [0.86, 0.837, 0.847]})
        >>> caught_up(t, 1.0, higher_is_better=True, chance=0.26, monitor="accuracy", n=1000)
        0.562
        >>> caught_up(t.assign(last=[0.86, 0.86, 0.847]), 1.0, higher_is_better=True,
        ...           chance=0.26, monitor="accuracy", n=1000)  # 1.5% higher: slower
        nan
        >>> caught_up(t.assign(last=[0.999, 0.9985, 0.997]), 1.0, higher_is_better=True,
        ...           chance=0.26, monitor="accuracy", n=1000)  # 1.0 fell 0.3%: no tolerance
        nan
    """
    if walk != "up" or monitor not in SHARES or "last" not in table:
        return math.nan
    t = table.sort_values("lr").reset_index(drop=True)
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n, binomial=binomial))
    lrs, last = t["lr"].to_numpy(float), t["last"].to_numpy(float)
    i = np.flatnonzero(np.isclose(lrs, lr))
    below = np.flatnonzero((lrs < lr / (1 + 1e-9)) & (lrs >= lr / CAUGHT_UP_REACH))
    if not (len(i) and len(below)):
        return math.nan
    i, j = int(i[0]), int(below[-1])
    if not (ok[i] and ok[j] and math.isfinite(last[i]) and math.isfinite(last[j])):
        return math.nan
    # a tolerance for losses that fell further than it; nearer the start, no higher is no higher
    within = factor if last[i] < level * (2 - factor) else 1.0
    return float(lrs[j]) if last[j] <= within * last[i] else math.nan


#: A pick more than this factor above the bottom of the range test's loss trend lies past
#: it: a quarter decade (the race's finest step), and 1% for rates kept to 3 digits.
PAST_BOTTOM = 10 ** 0.25 * 1.01


def past_bottom(lr: float, bottom: float) -> str:
    """A warning when the pick lies more than a quarter decade (:data:`PAST_BOTTOM`) above the
    bottom of the range test's loss trend, where that test's loss had stopped falling
    (``""`` otherwise).

    The two instruments then disagree: the race trained the pick for a share of the epochs
    and it did best, while the range test, ramping the rate through it, saw the loss turn
    up there. A race cannot see what happens after its last epoch, and a rate past the
    turn is the first to go unstable in a longer training (a BatchNorm + Dropout net's race
    winner at 5.6x the bottom lost 2 points over the full 15 epochs to a rate at 1.8x).

    Example:
        >>> past_bottom(0.3, 0.3)
        ''
        >>> past_bottom(1.36, 0.242).split(":")[0]
        "the pick 1.36 lies 5.6x above the bottom of the range test's loss trend (0.242)"
    """
    if not (math.isfinite(bottom) and bottom > 0 and lr > bottom * PAST_BOTTOM):
        return ""
    return Finding(f"the pick {rate(lr)} lies {lr / bottom:.2g}x above the bottom of the range "
                   f"test's loss trend ({rate(bottom)}): where that test's loss had turned up, a "
                   "longer training than the race may go unstable; compare it with a lower "
                   "raced rate over the full epochs", "past_bottom")


#: A pick this factor or more below the bottom of the range test's loss trend lies short of
#: it: half a decade (the race's step), and 1% for rates kept to 3 digits.
SHORT_OF_BOTTOM = 10 ** 0.5 / 1.01


def short_of_bottom(lr: float, bottom: float, failed: Sequence[float] = ()) -> str:
    """A warning when an SGD-like race's pick lies half a decade (:data:`SHORT_OF_BOTTOM`) or
    more below the bottom of the range test's loss trend, where that test's loss still fell
    (``""`` otherwise, and when a raced rate above the pick toward the bottom failed:
    ``failed``, see :func:`_failed_above`; the race then saw what a rate near the bottom
    does, and advice to compare with one would point at a rate that fails).

    The instruments disagree the other way round from :func:`past_bottom`: the range test
    saw the loss fall fastest up to its bottom, the race (a few epochs, a few dozen steps
    on a small dataset) ranked a lower rate first. A short race favours lower rates, which
    gain faster at first (short-horizon bias, Wu et al. 2018): on 3,000 MNIST images an
    MLP's one-epoch race of 23 steps ranked 0.161 clearly first, a third of the test's
    bottom 0.509, and lost 3.4 points over the full 5 epochs to 1.0.

    Example:
        >>> short_of_bottom(0.2, 0.356)
        ''
        >>> short_of_bottom(0.161, 0.509).split(":")[0]
        "the pick 0.161 lies 3.2x below the bottom of the range test's loss trend (0.509)"
        >>> short_of_bottom(0.161, 0.509, failed=[0.509])
        ''
    """
    if not (math.isfinite(bottom) and lr > 0 and lr * SHORT_OF_BOTTOM <= bottom) or failed:
        return ""
    return Finding(f"the pick {rate(lr)} lies {bottom / lr:.2g}x below the bottom of the range "
                   f"test's loss trend ({rate(bottom)}): where that test's loss still fell, a "
                   "short race favours lower rates (they gain faster at first); compare it with "
                   "a rate near the bottom over the full epochs", "short_of_bottom")


def edge_moved(lr: float, raced: Sequence[float], later: Collection[float]) -> float:
    """The raced rate next above ``lr`` (at most half a decade up) when it is among the rates
    ``later`` that blew up (``_Race.blew_up``); ``nan`` otherwise. ``auto`` then takes the
    rate a quarter decade below ``lr``.

    A rate that was stable (its training loss back near the untrained model's) and then blew
    up (its training loss ended its race, or the longer race run when nothing learned, more
    than :data:`BLOWN` times the untrained model's) shows the edge of stability moving down
    as the training goes on, and the full training is longer still: the pick next to it is
    the next to go. A quarter decade below the pick, the race's finest step, keeps a margin
    from the edge. On a tanh RNN (seeds 0-9 of its benchmark task) 1 blew up in the longer
    race of 4 epochs on five seeds; 0.316 next to it scored 67% over the full 15 epochs on
    two of them, 0.178 the grid's best on all five. A rate that blew up in its first epoch
    was never stable, and one that only crept over :data:`UNSTABLE` is no such sign (an
    LSTM's 3.16 sat 3% above the untrained model's loss from its first epoch; its pick 1.0
    trained best).

    Example:
        >>> edge_moved(0.316, [10.0, 3.16, 1.0, 0.316, 0.1], later={1.0})
        1.0
        >>> edge_moved(0.1, [10.0, 3.16, 1.0, 0.316, 0.1], later={1.0})  # not next to it
        nan
    """
    above = sorted(r for r in raced if lr * (1 + 1e-9) < r <= lr * NEIGHBOUR)
    return next((r for r in later if above and math.isclose(above[0], r)), math.nan)


#: How ``_Race.pick`` names its guess when no rate learned and the highest rate whose
#: training loss still fell was taken (:func:`~lrlab.search.falling`).
FELL = "the highest rate whose training loss still fell"


def edge_guessed(lr: float, raced: Sequence[float], epochs: int) -> float:
    """The raced rate next above ``lr`` (at most half a decade up), where ``lr`` is the guess
    of a race that learned nothing in ``epochs`` (its longer race's, if any): the highest
    rate whose training loss still fell (:func:`~lrlab.search.falling`), so the one above it
    did not; ``nan`` when no raced rate lies that close above, or the race trained one
    epoch. ``auto`` then takes the rate a quarter decade below ``lr``, as :func:`edge_moved`
    does, and asks only where the range test showed no clear descent.

    Such a guess sits at the edge of what trained, with no margin, on a net that waits on a
    plateau (a recurrent memory, saturated units), and the edge moves down as a training
    goes on: a quarter decade below the guess against the guess, in full on ten seeds, a
    tanh RNN scored 97.3% against 88.6% (an LSTM 80.8% against 77.9%, a GRU a tie). Where
    the test's loss clearly fell the net trains from the start and the guess stands (an
    ``nn.LSTM`` counting tokens scored 100% at its guess, 96.7% a quarter decade below). A
    one-epoch race is no such edge: its "fell" is read from the epoch's mean, and a high
    rate that rises first, then trains, did not fall by that reading (two ``new_user.py``
    nets lost 4.5 and 2.8 points a quarter decade below such a guess).

    Example:
        >>> edge_guessed(1.0, [10.0, 3.16, 1.0, 0.316, 0.1], epochs=4)
        3.16
        >>> edge_guessed(10.0, [10.0, 3.16, 1.0, 0.316, 0.1], epochs=4)  # the top of the race
        nan
    """
    if epochs < 2:
        return math.nan
    above = sorted(r for r in raced if lr * (1 + 1e-9) < r <= lr * NEIGHBOUR)
    return above[0] if above else math.nan


def _failed_above(table: pd.DataFrame, lr: float, bottom: float, *, higher_is_better: bool,
                 chance: float, monitor: str, n: int, binomial: bool | None = None
                 ) -> list[float]:
    """The raced rates above ``lr`` up to half a decade past ``bottom`` that failed: diverged,
    unstable (``stable`` false, where the table has it) or, where chance is known, within
    the noise of it at their last epoch (collapsed, or never learned).

    Example:
        >>> t = pd.DataFrame({"lr": [0.05, 0.16, 0.5, 1.6], "final": [0.8, 0.9, 0.1, 0.1],
        ...                   "diverged": [False, False, False, True]})
        >>> _failed_above(t, 0.16, 0.509, higher_is_better=True, chance=0.1,
        ...              monitor="accuracy", n=1000)
        [0.5, 1.6]
    """
    lrs = table["lr"].to_numpy(float)
    final = table["final"].to_numpy(float)
    gone = table["diverged"].to_numpy(bool) | ~np.isfinite(final)
    if "stable" in table:
        gone |= ~table["stable"].to_numpy(bool)
    if math.isfinite(chance):
        sign = 1.0 if higher_is_better else -1.0
        gone |= sign * (final - chance) <= LEARNED * score_noise(chance, monitor, n,
                                                                 binomial=binomial)
    near = (lrs > lr * (1 + 1e-9)) & (lrs <= bottom * NEIGHBOUR)
    return sorted(float(v) for v in lrs[near & gone])


#: A race of fewer optimizer steps per rate than this ranks the rates on their first steps
#: alone: with momentum 0.9 (an average over about ten steps) a race of 6 steps tied 0.2 and
#: 0.36 where 0.1 trained best over the full 38 (0.36 lost 10 points); the built-in and
#: benchmark tasks race 34 steps or more.
FEW_STEPS = 20


def few_steps(steps: int, full: int, enough: float | None = math.nan) -> str:
    """A warning when a race trained each rate fewer than :data:`FEW_STEPS` optimizer steps
    (``""`` otherwise): ``steps`` per rate, ``full`` in the full training; ``enough``, the
    least budget that gives :data:`FEW_STEPS` (:func:`_enough_budget`), is named, None where
    no budget does (``nan``: not known). The advice is full trainings either side of the
    pick; the budget is named with what it buys, since it helps only where the rates part
    within those steps (a 3-epoch BatchNorm CNN whose rates part in the second epoch lost
    more at the named budget than at the default; docs/benchmarks.md, "Short trainings").

    Example:
        >>> few_steps(34, 272)
        ''
        >>> few_steps(6, 38).split(":")[0]
        "the race trained each rate 6 optimizer steps of the full training's 38"
        >>> few_steps(6, 38, 0.75).split("; ")[1].split(" (")[0]
        'train the pick and a rate half a decade either side for the full epochs and keep the best'
        >>> few_steps(6, 38, 0.75).split(" (")[2].split(",")[0]
        'budget=0.75 or more gives the race 20 steps a rate'
    """
    if steps >= FEW_STEPS:
        return ""
    more = ("" if enough is None else
            " (" + ("a larger budget gives the race more steps" if math.isnan(enough) else
                    f"budget={enough:g} or more gives the race {FEW_STEPS} steps a rate")
            + ", which helps only where the rates part within those steps)")
    return Finding(f"the race trained each rate {steps} optimizer steps of the full training's "
                   f"{full}: too few to rank rates reliably (a small dataset or a short "
                   "training); train the pick and a rate half a decade either side for the "
                   f"full epochs and keep the best{more}", "few_steps")


def peak_step(p: Plan) -> int | None:
    """The first step (from 0) at which the full training's schedule (``p.schedule``)
    reaches its peak rate; None without a schedule of time.

    Example:
        >>> from lrlab.schedules import parse_schedule
        >>> peak_step(Plan(None, None, 10, "sgd", 0, {}, (), schedule=parse_schedule(
        ...     "cosine:warmup=2"), schedule_over=(10, 10)))
        20
    """
    if p.schedule is None or p.schedule.follows_metric:
        return None
    epochs, per = p.schedule_over
    total = epochs * per
    curve = p.schedule.build(1.0, epochs=epochs, steps_per_epoch=per)(
        torch.arange(total, dtype=torch.float64)).reshape(total)
    return int((curve >= curve.max() * (1 - 1e-9)).to(torch.uint8).argmax())


def before_peak(p: Plan, steps: int, enough: float | None = None) -> str:
    """A warning when a race under the full training's schedule (``p.schedule``) trained
    each rate ``steps`` optimizer steps and stopped before the schedule reached its peak
    (:func:`peak_step`; ``""`` otherwise, and without a schedule): a warm-up longer than the
    race, or a one-cycle rising past it, read every rate below its peak. ``enough``, the
    least budget whose race reaches the peak (:func:`_enough_budget`; None where none does),
    is named as a fact, not as advice: a one-cycle SE-ResNet's auto at that budget lost more
    on every seed than at the default one (docs/benchmarks.md), so the line advises full
    trainings half a decade either side.

    Example:
        >>> from lrlab.schedules import parse_schedule
        >>> p = Plan(None, None, 10, "sgd", 0, {}, (), schedule=parse_schedule(
        ...     "cosine:warmup=2"), schedule_over=(10, 10))
        >>> before_peak(p, 30)
        ''
        >>> before_peak(p, 15).split(":")[0]
        'the race ended before the schedule reached its peak rate'
    """
    peak = peak_step(p)
    if peak is None or steps > peak:
        return ""
    more = (f" (budget={enough:g} or more lets the race reach the peak, but it still ranks "
            "the rates by how fast they start)" if enough else "")
    return Finding(f"the race ended before the schedule reached its peak rate: {p.schedule} "
                   f"peaks at step {peak + 1} of the full training's "
                   f"{p.schedule_over[0] * p.schedule_over[1]}, and the race "
                   f"trained each rate {steps} steps, so it read every rate below its peak, "
                   f"and the pick may be too low or too high{more}; train the pick and a rate "
                   "half a decade either side for the full epochs and keep the best",
                   "before_peak")


#: A race ended early in the training when the pick's training loss (its last epoch's mean)
#: was still above this share of the untrained model's: it fell by less than a fifth.
EARLY = 0.8

#: Warnings after which :func:`early_race`'s line says nothing new: the race learned nothing
#: (in its budget, or only when it trained on), or trained too few steps to rank anything.
SAYS_LESS = ("race_unlearned", "learned_longer", "few_steps", "spike_recovered")


def early_race(last: float, race_epochs: int, epochs: int) -> str:
    """A warning when the race stopped early in the training (``""`` otherwise): its pick's
    training loss, its last epoch's mean, was still above :data:`EARLY` of the untrained
    model's (``last``, that share) after ``race_epochs`` of the full training's ``epochs``.

    Such a race ranks how fast the rates start, not where they end: the rates within its
    noise of each other have hardly begun to part. A deep tanh MLP under heavy-ball momentum
    (3 of 20 epochs, the pick's loss at 0.82 of the untrained model's) tied 0.089-0.282 and
    0.132-0.234, and the picks lost 2.5 and 4.7 points to 0.0464, half a decade below the
    ties; an MLP under a class-weighted loss ranked by balanced accuracy (1 of 5 epochs,
    0.82) tied three rates across half a decade and lost 2.4 and 3.4, unwarned. On the
    finder-quality tables (default and unseen tasks, SGD, momentum and Adam, seeds 0-4) no
    good pick that no other line warned had raced this early (the nearest, a deep tanh MLP
    under Adam, 0.72-0.75); the picks it also warns were warned already (a recurrent net's
    plateau, no clear descent). Where the race learned nothing or trained too few steps,
    those lines say more (:data:`SAYS_LESS`). Measured in docs/benchmarks.md.

    Example:
        >>> early_race(0.75, 3, 20), early_race(0.82, 20, 20)
        ('', '')
        >>> early_race(0.82, 3, 20).split(":")[0]
        'the race ended early in the training'
    """
    if not last > EARLY or race_epochs >= epochs:
        return ""
    return Finding(f"the race ended early in the training: after {race_epochs} of {epochs} "
                   f"epochs the pick's training loss was still {last:.0%} of the untrained "
                   "model's, so the race ranked how fast the rates start, not where they end; "
                   "train the pick and the rates half a decade either side for the full "
                   "epochs and keep the best", "early_race")


def _last_share(table: pd.DataFrame, lr: float, untrained: float) -> float:
    """The ``last`` column (the training loss's last epoch mean as a share of the untrained
    model's, ``untrained``) of ``lr``'s row in a race's table; ``nan`` without one, and where
    the untrained model's loss is not above 0 (a Poisson or Gaussian negative log-likelihood
    can be negative: a share of it says nothing about how far the loss fell)."""
    if "last" not in table or not untrained > 0:
        return math.nan
    row = table[np.isclose(table["lr"].to_numpy(float), lr)]
    return float(row["last"].iloc[0]) if len(row) else math.nan


def short_on_loss(race_epochs: int, epochs: int, monitor: str, *, lr: float) -> str:
    """A warning when a race ranked the rates by a loss (``monitor`` ``"loss"``: an MSE
    regression, a multi-label BCE model) in fewer epochs than the full training (``""``
    otherwise); it names the rates to train for the full epochs: the pick ``lr`` and a
    quarter decade either side (:func:`refine_rates`).

    An accuracy levels off where the rates that learned meet; a loss keeps falling through
    the whole training, and which rate ends lowest often shows only late: a Friedman
    regression's rates from 0.02 to 0.2 all sat on one plateau (what a linear fit leaves)
    for the first 20 of 40 epochs, and the highest stable rate left it furthest by the end;
    a multi-label model's high rates reached their best by epoch 6 of 15 and then rose. A
    16-rate grid read after the first 15% of the epochs (the race's horizon) picked a rate
    over 5% of validation loss off the full training's best on 20 of 40 loss-scored runs (30%
    of the epochs: 12), and ``auto`` did on 21 of 60, 4 of them with no other warning. No
    shape of the race's own curves told those apart from the good picks (end pace, the
    margin, the leader changing in the last epoch, the second seed's order), so the line
    says what kind of evidence it is rather than that this race went wrong.

    The line names the three rates, as ``find``'s loss line does: on the finder-quality
    regression (40 epochs, AMD EPYC, ``benchmarks/loss_advice.py``) the best of the pick and
    its quarter-decade neighbours, each trained for the full epochs, left at worst 15.2%
    more validation loss than the oracle with SGD (the pick alone 25.8%) and 8.8% with Adam
    (11.5%); the rates half a decade either side bought nothing there.

    Example:
        >>> short_on_loss(6, 40, "accuracy", lr=0.1), short_on_loss(40, 40, "loss", lr=0.1)
        ('', '')
        >>> print(short_on_loss(6, 40, "loss", lr=0.105))
        ranked by a loss after 6 of 40 epochs: a loss keeps falling through a training and which rate ends lowest often shows only late; where a few percent matter, train 0.059, 0.105 and 0.187 (the pick and a quarter decade either side) for the full epochs and keep the lowest validation loss
    """
    if monitor != "loss" or race_epochs >= epochs:
        return ""
    up, down = refine_rates(lr)
    return Finding(f"ranked by a loss after {race_epochs} of {epochs} epochs: a loss keeps "
                   "falling through a training and which rate ends lowest often shows only "
                   f"late; where a few percent matter, train {rate(down)}, {rate(lr)} and "
                   f"{rate(up)} (the pick and a quarter decade either side) for the full "
                   "epochs and keep the lowest validation loss", "short_on_loss")


#: Warnings that say more about a race ranked by a loss than :func:`short_on_loss`'s blanket
#: line: with one of them, that line is left out.
SAYS_MORE = ("moving_tie", "no_rate_learned", "race_unlearned", "learned_longer")


def with_loss_warning(confidence: Confidence, lossy: str) -> Confidence:
    """``confidence`` with :func:`short_on_loss`'s line ``lossy`` added (``""``: unchanged),
    unless a warning of a kind in :data:`SAYS_MORE` already speaks about the race.

    Example:
        >>> c = Confidence(0.1, 0.01, 0.3, 1.0)
        >>> line = short_on_loss(6, 40, "loss", lr=0.1)
        >>> with_loss_warning(c, line).kinds
        ('short_on_loss',)
        >>> tie = Finding("a tie still moving: ...", "moving_tie")
        >>> with_loss_warning(dataclasses.replace(c, warnings=(tie,)), line).kinds
        ('moving_tie',)
    """
    if not lossy or set(kinds_of(confidence.warnings)) & set(SAYS_MORE):
        return confidence
    return dataclasses.replace(confidence, warnings=(*confidence.warnings, lossy))


def _extra_warnings(clear: bool, choice: Choice, race: _Race, reached: float, lr: float,
                    turn: float, stuck: float | None = None) -> tuple[str, ...]:
    """``stuck``: the raced rate next above the race's guess, when the pick went a quarter
    decade below that guess (:func:`edge_guessed`)."""
    out = []
    longer = (f" (the stable ones trained on to {race.horizon})" if race.longer else "")
    if not choice.learned:
        why = f"the pick, {rate(choice.lr)}, is {choice.how or 'the best score'}"
        adam = "try optimizer='adam', " if race.walk == "up" else ""  # not to Adam's kin
        if stuck is not None:  # the guess is the edge of what trained (``edge_guessed``)
            why = (f"the race's guess, {rate(choice.lr)}, is {choice.how}, and {rate(stuck)} "
                   f"next above it {_not_falling(race, stuck)}: the guess is the edge of what "
                   "trained, which moves "
                   f"down as a training lengthens (the full training is {race.p.epochs} "
                   f"epochs), so the pick {rate(lr)} lies a quarter decade below it"
                   f"{'' if lr in race.raced else ' (not raced)'}")
        elif not math.isclose(lr, choice.lr):  # moved below a moving edge (``edge_moved``)
            why = (f"the race's guess, {rate(choice.lr)}, is {choice.how or 'the best score'}, "
                   f"and the pick {rate(lr)} lies a quarter decade below it (see below)")
        out.append(Finding(
            f"no rate learned in the budget: in {race.epochs} epoch(s){longer} on "
            f"{examples(race.task)} examples, none of {rates_text(sorted(race.raced))} (up to "
            f"the largest rate the range test reached, {rate(reached)}) beat chance; {why}, a "
            "guess: train it and a rate half a decade either side for the full epochs, give a "
            f"larger budget, {adam}or check that the targets are learnable",
            "race_unlearned"))
    elif race.longer:
        out.append(Finding(f"nothing learned in the {race.epochs}-epoch race; {rate(choice.lr)} "
                           f"learned when the {'race' if race.looked else 'stable rates'} "
                           f"trained on to {race.horizon} epochs, "
                           "with no budget left to refine or check it on a second seed: train it "
                           "and its raced neighbours for the full epochs",
                           "learned_longer"))
    elif not clear:
        up = (", then moved up past it (its best was there, where the test ended without "
              "diverging)" if race.moved_to("above") else "")
        out.append(Finding("the range test showed no clear descent: the race was placed from "
                           f"the largest rate it reached down{up}; check the pick against the "
                           "rates half a decade either side, each trained for the full epochs",
                           "no_clear_descent"))
    elif math.isfinite(race.passed):  # the race's best lay past the turn: passed over
        out.append(Finding(
            f"the race's best, {rate(race.passed)}, lies {race.passed / turn:.2g}x above the "
            f"bottom of the range test's loss trend ({rate(turn)}), where that test's loss had "
            f"turned up: with {race.p.optimizer} a short race favours a rate that gains fast "
            "at first and falls behind or goes unstable in a longer training, so the pick is "
            f"the best raced rate at most a quarter decade past that bottom, {rate(lr)}; "
            "compare the two over the full epochs", "past_bottom"))
    elif lr < max(race.raced) / (1 + 1e-9) and (past := past_bottom(lr, turn)):
        # (a pick at the top of the raced rates has the edge warning instead: its race says
        # a higher rate might be better, and two warnings advising opposite ways help nobody)
        out.append(past)
    elif (race.walk == "up" and lr > min(race.raced) * (1 + 1e-9)
          and (short := short_of_bottom(lr, turn, _failed_above(
              race.table(), lr, turn, higher_is_better=race.higher, chance=race.chance,
              monitor=race.monitor, n=race.n, binomial=race.binomial)))):
        # (SGD-like rules only: an adaptive rule's race is centred a third below the turn;
        # a pick at the lowest raced rate has the edge warning instead)
        out.append(short)
    # a pick the second-seed check replaced by the lower rate is no warning: the check did
    # its job and nothing is left for a user to do (the explanation says what it saw)
    return tuple(out)


def _under(p: Plan) -> str:
    """How the races followed the full training's schedule, if one was given."""
    if p.schedule is None:
        return ""
    epochs, per = p.schedule_over
    return (f", each rate the peak of {p.schedule}, whose start they trained as the full "
            f"training's {epochs} epochs of {per} steps will (the range test at its rising "
            "constant rate)")


def _not_falling(race: _Race, lr: float) -> str:
    """Why ``falling`` passed over the raced rate ``lr``, in words."""
    t = race.table()
    at = int(np.flatnonzero(np.isclose(t["lr"].to_numpy(float), lr))[0])
    return not_falling(t, untrained=race.start[1], rise=race.rise)[at] or "did not fall"


def _explain(test: RangeTestResult, bottom: float, clear: bool, race: _Race,
             refined: list[float], p: Plan, settled: _Settled, skipped: list[str],
             fewer: int | None = None, dipped: Choice | None = None,
             held: Choice | None = None) -> str:
    """The run in words: the range test, each race, and each rule that moved the pick."""
    lr, checked = settled.lr, settled.checked
    lone_lr = settled.lone if math.isfinite(settled.lone) else None
    topped = settled.topped[1] if settled.topped else None
    edge = (settled.edge, settled.scored) if math.isfinite(settled.edge) else None
    caught = settled.caught[1] if settled.caught is not None else None
    guessed = settled.guessed
    runs = f"{len(test.runs)} range tests (median)" if test.runs else "A range test"
    reached = float(test.lrs[-1])
    first = race.races[0]
    rates = [float(v) for v in first.members["lr"]]
    place = test.rules.place
    if not clear:
        placed = ("no clear descent, so the race starts at the largest rate reached, "
                  f"{rate(reached)}")
    elif place == 1:
        placed = f"the loss trend bottoms out at {rate(bottom)}"
    else:  # an adaptive rule's race is centred below the turn (see ``placement``)
        placed = (f"the loss trend bottoms out at {rate(bottom / place)}, and the race is "
                  f"placed at {place:.2g}x that, {rate(bottom)}")
    cap = (f" (capped at {rate(reached)}, the largest rate the test reached)"
           if clear and reached < 10 * bottom else "")
    rescored = (f" (scored on BatchNorm statistics recomputed from {NORM_BATCHES} training "
                "batches at each evaluation, as every later race: on the running statistics, "
                "which lag weights that move fast in a race this short, no rate beat chance)"
                if race.scoring and race.norms else "")
    text = (f"{runs} over {len(test.lrs)} steps: {placed}. Raced {rates_text(rates)}"
            f"{' (from 10x that bottom' + cap + ', half a decade apart)' if clear else ''} "
            f"as one population for {race.epochs} of {p.epochs} epochs on "
            f"{examples(race.task)} of {examples(p.full)} training examples{_under(p)}: "
            f"{_seen(first, ranked(first))}{rescored}. "
            + _chance_text(race.base, race.monitor))
    for extra in race.races[1:]:
        more = [float(v) for v in extra.members["lr"]]
        if refined and set(more) == set(refined):
            text += _refined_text(extra, refined, race)
        else:  # the one other race a run has: its move (``race.moved``)
            text += _moved_text(race, extra, rates)
    if dipped is not None:
        text += " " + _dipped_text(race, dipped)
    if held is not None:
        text += " " + _held_text(race, held)
    if math.isfinite(race.passed):
        text += (f" {rate(race.passed)} scored best, but more than a quarter decade past the "
                 f"bottom of the range test's loss trend: with {p.optimizer} only the rates at "
                 f"or below {rate(race.ceiling)} could be picked.")
    if math.isfinite(race.cap) and not race.below:
        text += (f" Nothing learned: with {p.optimizer} that means too few steps rather than "
                 "too low a rate (every rate up to the edge leaves a plateau the sooner the "
                 "higher it is), so the race stayed where the range test placed it and only "
                 f"the rates at or below {rate(race.cap)} could be picked.")
    if race.longer:
        rates_on = sorted({float(v) for r in race.longer for v in r.members["lr"]})
        if math.isfinite(race.cap):
            text += (f" The stable rates at or below {rate(race.cap)}, {rates_text(rates_on)}, "
                     f"trained on to {race.horizon} epochs (as many as the budget allowed, the "
                     "nearest to it first), each read at its last epoch.")
        elif race.looked:
            text += (f" Nothing learned, so the stable rates and those unstable after one "
                     f"epoch (see below), the highest the budget paid for, "
                     f"{rates_text(rates_on)}, trained on to {race.horizon} epochs (doubling "
                     "while the budget allowed), each read at its last epoch.")
        else:
            text += (f" Nothing learned, so the stable rates, {rates_text(rates_on)}, trained "
                     f"on to {race.horizon} epochs (doubling while the budget allowed), each "
                     "read at its last epoch.")
    if race.unwalked:
        text += " " + _unwalked_text(race)
    if race.looked:
        back = set(race.recovered)
        seen = []
        for v in race.looked:
            first, end = race.spike(v)
            seen.append(f"{rate(v)} {'came back' if v in back else 'did not'} ({first:.3g}x "
                        f"-> {end:.3g}x)")
        text += (f" Unstable after {race.epochs} of {p.epochs} epochs: "
                 f"{rates_text(race.looked)}; one epoch's mean is no evidence of divergence (a "
                 "first steps' spike the model recovers from weighs on it as much), so they "
                 f"trained on to {2 * race.epochs} epochs, each read at its last, stable where "
                 "its training loss came back under 2x the untrained model's, at least "
                 f"halfway down from its first epoch's, and it learned: {', '.join(seen)}.")
    table = race.table()
    stuck = table["stuck"].fillna(False).astype(bool) if "stuck" in table else False
    if "stable" in table and not (table["stable"] | stuck).all():
        shaky = sorted(table["lr"][~table["stable"] & ~stuck])
        turned = race.turned_unstable()
        if len(set(shaky) - set(turned)):
            text += (f" Unstable (neither loss came back to the untrained model's, "
                     f"{race.start[0]:.4g} training, {race.start[1]:.4g} validation): "
                     f"{rates_text([v for v in shaky if v not in turned])}.")
        for n in sorted(set(turned.values())):
            these = sorted(v for v, m in turned.items() if m == n)
            text += (f" Stable after {race.epochs} epoch{'s' * (race.epochs > 1)}, unstable "
                     f"at the end of {n} (neither loss ended within {UNSTABLE - 1:.0%} of "
                     f"the untrained model's): {rates_text(these)}.")
    if "stuck" in table and stuck.any():
        text += (f" Stuck above the untrained model's losses (the training loss ended over "
                 f"{UNSTABLE - 1:.0%} above it, the validation loss never below it: no "
                 f"learning, whatever the score): {rates_text(sorted(table['lr'][stuck]))}.")
    if checked:
        text += f" Checked on a second seed: {checked[1]}."
    if caught:
        text += f" {caught}."
    if fewer:
        text += (f" The races ran on {examples(race.task)} rather than {fewer} examples: "
                 "the range test cost more than its share of the budget.")
    if skipped:
        text += (f" Skipped {' and '.join(skipped)}: the range test and the races used the "
                 "budget.")
    if not checked and not race.learned_any() and math.isfinite(race.cap):
        text += (f" No rate learned: the pick is the rate at or below {rate(race.cap)} with "
                 "the lowest validation loss where that loss fell clearly below the untrained "
                 "model's, else the highest one whose training loss fell within 1% as far as "
                 "any (a lower rate that trained clearly further shows the higher one too "
                 "high), else, none having fallen 1% below the untrained model's, the highest "
                 "stable one.")
    elif not checked and not race.learned_any():
        noise = (" (or rose less than 1% over the race: on a plateau two epochs' means differ "
                 "by noise)" if race.rise > 1 else "")
        text += (" No rate learned: the pick is the rate with the lowest validation loss "
                 "where that loss fell clearly below the untrained model's, else the highest "
                 f"rate whose training loss still fell{noise} and ended within 1% of the "
                 "untrained model's (a rate stuck above it is too high, however stable), else "
                 "the lowest stable rate.")
    if lone_lr is not None:  # the pick is not the race's winner: say what it scored itself
        low = edge[1] if edge is not None else lr  # the lone learner's lower neighbour
        mine = table.loc[np.isclose(table["lr"].to_numpy(float), low), "score"]
        if topped:
            text += (f" {rate(lone_lr)}, the highest rate raced, learned alone (the raced "
                     "rates half a decade below it stayed at chance) and its training loss "
                     f"ended no lower than theirs, so the pick is {topped}, {rate(low)}, "
                     f"whose own best validation {race.monitor} was {float(mine.iloc[0]):.4f}.")
        else:
            text += (f" {rate(lone_lr)} learned alone (its raced neighbours half a decade "
                     f"either side stayed at chance), so the pick is its lower neighbour "
                     f"{rate(low)}, whose own best validation {race.monitor} was "
                     f"{float(mine.iloc[0]):.4f}.")
    if edge is not None and guessed:
        above, edge_lr = edge
        text += (f" {rate(above)}, next above {rate(edge_lr)}, {_not_falling(race, above)}: "
                 f"{rate(edge_lr)} is the edge of what trained, and the full training is "
                 f"longer: a quarter decade below {rate(edge_lr)}.")
    elif edge is not None:
        above, edge_lr = edge
        text += (f" {rate(above)}, next above {rate(edge_lr)}, blew up as it trained on: a "
                 f"quarter decade below {rate(edge_lr)}.")
    return text + f" So lr={rate(lr)}."


def _chance_text(base: Baseline, monitor: str = "accuracy") -> str:
    """What a rate had to beat, in words (on a loss or another score that is no share, the
    untrained model's level is no chance level: it is named for what it is)."""
    if not math.isfinite(base.chance):
        return ("Chance is not known here (the task's own metric, on a model that is no "
                "classifier or that the metric cannot score always answering the majority "
                "class), so every finite score counts as learned.")
    if not math.isfinite(base.untrained):
        return (f"Chance is {base.chance:.4f}, the task's own metric on always answering "
                "the majority class.")
    if base.chance == base.untrained:
        return (f"The untrained model scores {base.chance:.4f} (chance)." if monitor in SHARES
                else f"The untrained model's validation {monitor} is {base.chance:.4f}: a rate "
                "learned when it ends better than that.")
    return (f"Chance is {base.chance:.4f}, always answering the majority class (the untrained "
            f"model scores {base.untrained:.4f}).")


def _refined_text(result: SweepResult, refined: list[float], race: _Race) -> str:
    value = race.table().set_index("lr")["score"]
    tried = ", ".join(f"{rate(r)} ({value[r]:.4f})" for r in refined)
    side = "higher" if race.walk == "up" else "lower"
    unless = (", unless its loss fell less than the best's in the last epoch (by more than "
              "that noise)" if race.walk == "down" and race.monitor == "loss" else "")
    return (f" Then a quarter decade either side on the same budget: {tried}; ties within "
            f"the noise of a score go to the {side} rate{unless}.")


def _moved_text(race: _Race, result: SweepResult, first: list[float]) -> str:
    """Why the race moved (:attr:`_Race.moved`) from its first rates ``first``, and what the
    moved race ``result`` saw, in words."""
    why = {"up": "Nothing learned, so the race moved up",
           "below": ("Nothing learned, and the race had been placed without a clear descent: "
                     f"with {race.p.optimizer} the rates that train sit well below the largest "
                     "one the test reached, so the race moved down"),
           "down": ("Only the lowest rate learned, and the one above it failed, so the race "
                    "moved down"),
           "above": (f"The best, {rate(max(first))}, was the highest rate raced and the largest "
                     "the range test reached, which ended there without diverging: no edge, "
                     "so the race moved up")}[race.moved.kind]
    more = [float(v) for v in result.members["lr"]]
    return f" {why}: {rates_text(more)}: {_seen(result, ranked(result))}."


def _dipped_text(race: _Race, choice: Choice) -> str:
    """Where the tie walk down stopped at a dip (``choice.dipped``: a rate outside the tie
    with a rate below it that ties the best again), in words."""
    value = race.table().set_index("lr")["score"]
    dip, below = choice.dipped
    return (f"The walk down stopped at {rate(dip)} ({value[dip]:.4f}), outside the noise of "
            f"the best, {rate(choice.best_lr)} ({value[choice.best_lr]:.4f}), though "
            f"{rate(below)} below it tied the best again ({value[below]:.4f}): a rate outside "
            "the tie ends the walk, as a reading as good as the tie's.")


def _held_text(race: _Race, choice: Choice) -> str:
    """Where a tie did not walk down because the rate next above the best tied it too
    (``choice.held``), in words."""
    value = race.table().set_index("lr")["score"]
    above, low = choice.held
    best = choice.best_lr
    return (f"{rate(low)} ({value[low]:.4f}) tied the best, {rate(best)} "
            f"({value[best]:.4f}), but so did {rate(above)} above it ({value[above]:.4f}): "
            "a rate above the best that holds up as well shows no edge next to the best, "
            f"so the tie stays at it rather than walking down.")


def _unwalked_text(race: _Race) -> str:
    """Where a race capped at a clear descent's placement kept its best rather than walking
    a tie down (``race.unwalked``), in words."""
    value = race.table().set_index("lr")["score"]
    best, low = race.unwalked
    return (f"{rate(low)} ({value[low]:.4f}) tied the best, {rate(best)} ({value[best]:.4f}), "
            "within the noise: a tie is no evidence against the range test's placement, so "
            "the pick stays at the best rather than walking down.")


def _start_loss(task: Task, seed: int, training: bool = False) -> tuple[float, float]:
    """The untrained model's mean training and validation loss on ``task`` (at most the first
    8192 examples of each; ``nan`` for an iterable dataset's training data, whose length is
    unknown, or when the loss cannot be had, a loss of the model's own that returns no
    number): the levels a stable rate's losses must come back to. A dataset's random
    transforms (a contrastive loss's augmented views) draw from ``seed``, so the levels are
    the same from run to run. ``training``: the training loss alone (the validation loss
    ``nan``), in training mode (:func:`~lrlab.train.mean_loss`'s ``training``: dropout,
    BatchNorm's batch statistics, an auxiliary head's loss), where a race's training loss
    starts from."""
    from lrlab.data import num_examples, subset_of
    from lrlab.tasks import Split

    model = task.init_model(seed)
    out = []
    for name, data in (("train", task.train), ("val", task.val)):
        if training and name == "val":
            out.append(math.nan)
            continue
        n = len(data) if isinstance(data, Split) else num_examples(data)
        try:
            if n is None and name == "train":
                raise ValueError("an iterable dataset: no cheap first examples")
            if n is not None and n > _START_EXAMPLES:
                data = (Split(data.x[:_START_EXAMPLES], data.y[:_START_EXAMPLES])
                        if isinstance(data, Split) else subset_of(data, range(_START_EXAMPLES)))
            out.append(float(mean_loss(model, task, data, seed=seed, training=training)))
        except Exception:  # noqa: BLE001 - stability is then judged on the other loss
            out.append(math.nan)
    return out[0], out[1]


def stuck_above(last: np.ndarray, vloss: pd.DataFrame, untrained: float) -> np.ndarray:
    """Per raced rate: whether it is stuck above the untrained model's losses at the end of a
    race of two epochs or more. ``last``: its last epoch's mean training loss as a share of
    the untrained model's; ``vloss``: its validation loss per epoch (one column per rate);
    ``untrained``: the untrained model's validation loss.

    Stuck: the training loss ended more than :data:`UNSTABLE` (5%) above the untrained
    model's and the validation loss never went below the untrained model's: it learned
    nothing, whatever its score (``_Race.scored`` marks it unstable). Near the edge a
    recurrent net's score flickers off chance there: a GRU's 3.16, its training loss 15%
    above the start, scored 63.9% against chance 50.4% in a 2-epoch race and passed for a
    lone learner (the pick lost 8.4 points). A one-epoch race is read from the epoch's mean,
    whose first steps' transient can end above the start in a rate that trains: never stuck.

    Example:
        >>> v = pd.DataFrame({3.16: [0.73, 0.716], 1.0: [0.70, 0.69]})
        >>> stuck_above(np.array([1.154, 0.995]), v, untrained=0.7007).tolist()
        [True, False]
        >>> stuck_above(np.array([1.154, 0.995]), v.iloc[:1], untrained=0.7007).tolist()
        [False, False]
    """
    if len(vloss) < 2 or not math.isfinite(untrained):
        return np.zeros(len(last), bool)
    low = vloss.min().to_numpy(float)
    return (np.asarray(last, float) > UNSTABLE) & ~(low < untrained)


def _last(curve: pd.DataFrame) -> np.ndarray:
    """Each column's last finite value (``nan`` for an all-NaN column)."""
    return curve.ffill().iloc[-1].to_numpy(float)


#: Examples the untrained model's losses are measured on (at most).
_START_EXAMPLES = 8192
