"""How sure a search is: the untrained model's score, the noise of a score, and the pick.

A search that ranks rates by a validation score can be fooled three ways: every rate learned
nothing and one of the ties wins; two rates differ by less than the validation set can tell
apart and the larger wins; or the race is too short to show that the winner collapses later.
This module holds the pure rules that guard against those, and the :class:`Confidence` every
search result carries:

* **chance**: the score of a model that learned nothing (:func:`baseline`): the untrained
  model's validation score, and for accuracy at least the largest class's share of the
  validation targets (counted as that evaluation scored them, so labels that only a
  Dataset's ``__getitem__`` gives count too), for AUC at least 0.5; for a classifier's own
  metric (a macro-F1), its value on outputs that always answer the majority class.
* **noise** of a score ``s`` on ``n`` validation examples (counted by the same evaluation;
  :func:`lrlab.metrics.score_noise`, re-exported here): for a share (accuracy, error, AUC)
  the binomial standard error ``sqrt(p (1 - p) / n)`` with ``p`` clipped to
  ``[0.02, 0.98]``; for a loss, ``|s| / sqrt(n)``.
* **learned**: better than chance by more than twice the noise at chance, not diverged, and
  (where the table says) stable: its training or validation loss came back near the untrained model's.
* **the pick** (:func:`choose`): among the rates that learned, the best; then, walking down
  to lower rates (or up, when asked), the last one still within the noise of the best (or
  within the scores' own swings, :func:`setback`): a tie goes to the lower rate by default
  (in ``auto``'s adaptive races, unless the rate next above the best ties it too: ``held``).
  When none learned: the highest stable rate, else the best score (``auto`` reads its
  races' loss trends instead: :func:`falling`).
* **warnings** (:func:`assess`): a tie with a runner-up more than half a decade away (a tie
  with a neighbour is only in the margin line: either trains about as well), or, on a loss,
  with a neighbour while both losses still fall fast (:func:`moving_tie`); no rate learned;
  the pick's next higher rate (at most half a decade up) diverged or collapsed (its final
  score back at chance) after it had learned, or while the pick's own score fell back
  (:func:`edge_failed`); the pick at an edge of the searched rates with the scores still
  rising towards it (:func:`at_edge`). What is no weakness (a neighbour that never learned
  above a pick that held; a plateau that reaches the edge) is a note for the explanation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lrlab.metrics import LEARNED, LabelCounts, score_noise, share_examples
from lrlab.search._findings import (
    Finding,
    by_kind,
    kind_of,
    kinds_of,
    one_advice,
    split_advice,
)
from lrlab.tasks import Task
from lrlab.train import Untrained, untrained

__all__ = ["Baseline", "Choice", "Confidence", "assess", "at_edge", "baseline", "by_loss",
           "chance_score", "choose", "edge_failed", "falling", "furthest", "lone", "lone_at_top",
           "lone_kept", "moving_tie", "not_falling", "score_noise", "setback"]

#: A higher rate at most this factor above the pick is its neighbour (half a decade).
NEIGHBOUR = 10 ** 0.5 * 1.01

@dataclass(frozen=True)
class Baseline:
    """What a model that learned nothing scores on a task's validation set, from one
    evaluation of the untrained model (:func:`baseline`).

    Attributes:
        untrained: the untrained model's validation monitor (``nan`` when the monitor is
            one of the task's own metrics).
        chance: the score a rate must beat to have learned (:func:`chance_score`); for
            one of the task's own metrics, its value on outputs that always answer the
            majority class (:attr:`lrlab.train.Untrained.majority`), ``nan`` (not checked)
            when the model is no classifier or the metric cannot score such outputs.
        n: validation examples scored: what the noise of a score (and of a loss) counts.
        binomial: whether a score's noise is a share's (:func:`score_noise`): ``True`` for
            one of the task's own metrics whose chance lies in ``[0, 1]`` (a macro-F1, a
            balanced accuracy); ``None``: as the monitor's name says.
        balanced: with ``binomial``, the examples the score's average over classes counts
            (:meth:`~lrlab.metrics.LabelCounts.balanced_examples`): what its noise counts
            in place of ``n`` (:attr:`score_n`).
    """

    untrained: float
    chance: float
    n: int
    binomial: bool | None = None
    balanced: float = math.nan

    @property
    def score_n(self) -> float:
        """What the noise of a score counts: :attr:`balanced` for a share of the task's own,
        else :attr:`n`."""
        return self.balanced if self.binomial else self.n

    def noise(self, score: float, monitor: str) -> float:
        """The noise of a validation ``monitor`` score ``score`` on this task
        (:func:`~lrlab.metrics.score_noise` on :attr:`score_n`, a share's when
        :attr:`binomial`): what every search's verdict allows.

        Example:
            >>> round(Baseline(math.nan, 0.5, 200, binomial=True, balanced=48.6).noise(0.5, "f1"), 3)
            0.072
        """
        return score_noise(score, monitor, self.score_n, binomial=self.binomial)


def baseline(task: Task, seed: int, scored: Untrained | None = None) -> Baseline:
    """The untrained model (initialised from ``seed``) scored as a fit scores it
    (:func:`lrlab.train.untrained`: tensors or a loader, class scores on any axis, one binary
    logit, a model that computes its own loss), and what that evaluation counted: the
    majority class's level and the validation examples. ``scored``: that evaluation where
    the caller has it (``auto`` reads its range test's class shares from the same one).

    Example:
        >>> from lrlab.tasks import get_task
        >>> b = baseline(get_task("blobs"), seed=0)
        >>> b.chance >= 0.5, b.n
        (True, 500)
    """
    scored = scored if scored is not None else untrained(task, seed)
    # a loader task not yet resolved: the monitor its first batch gives (see lrlab.train)
    monitor = task.monitor or ("accuracy" if "accuracy" in scored.metrics else "loss")
    n = scored.labels.examples
    if monitor in task.metrics:  # the task's own: its value on majority answers, if known
        chance = scored.majority.get(monitor, math.nan)
        many = share_examples(scored.labels, chance)
        if math.isfinite(many):  # a share: as noisy as its rare classes
            return Baseline(math.nan, chance, n, binomial=True, balanced=many)
        return Baseline(math.nan, chance, n)
    score = scored.metrics.get(monitor, math.nan)
    return Baseline(score, chance_score(monitor, score, scored.labels), n)


def chance_score(monitor: str, untrained: float, labels: LabelCounts) -> float:
    """The score of a model that learned nothing: the untrained one's, or always answering
    the majority class of ``labels`` (:meth:`~lrlab.metrics.LabelCounts.chance`; accuracy
    or error) when that is better; for AUC at least 0.5.

    Example:
        >>> labels = LabelCounts(examples=4, positions=4, counts=(3, 1))
        >>> chance_score("accuracy", 0.5, labels), chance_score("auc", 0.4, labels)
        (0.75, 0.5)
    """
    if not math.isfinite(untrained):
        return untrained
    major = labels.chance(monitor)
    if math.isfinite(major):
        return max(untrained, major) if monitor == "accuracy" else min(untrained, major)
    if monitor == "auc":
        return max(untrained, 0.5)
    return untrained


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` decided.

    Attributes:
        lr: the pick (when none learned: the highest stable rate, else the best score).
        best_lr: the best-scoring rate that learned (``nan`` when none did).
        learned: the rates that learned, increasing.
        tied: the rates within the noise of the best that the pick walked through.
        how: when none learned, which rule chose the pick, in words ("the highest stable
            rate"); empty otherwise.
        dipped: where a walk down stopped at a rate outside the tie though the rate
            below it ties the best again: ``(that rate, the one below)``; empty otherwise.
        held: where a walk down was not taken because a raced rate above the best (at most
            half a decade up) ties it too: ``(that rate, the rate the walk would have
            reached)``; empty otherwise.
    """

    lr: float
    best_lr: float
    learned: tuple[float, ...]
    tied: tuple[float, ...]
    how: str = ""
    dipped: tuple[float, ...] = ()
    held: tuple[float, ...] = ()


def _better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def learned_mask(table: pd.DataFrame, *, higher_is_better: bool, chance: float, noise: float
                 ) -> np.ndarray:
    """Per row of ``table`` (``lr``, ``score``, ``diverged``, optionally ``stable``): whether
    it learned. A row marked not ``stable`` (neither its training nor its validation loss
    came back near where it started) did not learn, whatever its validation score says: an
    unstable rate's score
    flickers off chance by luck (a recurrent net at 10x its good rate scored 69% once, from
    a training loss ten times the untrained one's)."""
    sign = 1.0 if higher_is_better else -1.0
    score = table["score"].to_numpy(float)
    ok = np.isfinite(score) & ~table["diverged"].to_numpy(bool)
    if "stable" in table:
        ok &= table["stable"].to_numpy(bool)
    if not math.isfinite(chance):  # chance unknown (a loader task): every finite score
        return ok
    return ok & (sign * (score - chance) > LEARNED * noise)


def choose(table: pd.DataFrame, *, higher_is_better: bool, chance: float, monitor: str,
           n: int, swing: float = 0.0, walk: str = "down", ceiling: float = math.inf,
           binomial: bool | None = None, paced: bool = False, held: bool = False) -> Choice:
    """The pick among raced rates (see the module docstring).

    Args:
        table: one row per rate: ``lr``, ``score`` (best validation monitor), ``diverged``,
            optionally ``stable`` (see :func:`learned_mask`).
        higher_is_better: whether a larger score is better.
        chance: the score of a model that learned nothing (:attr:`Baseline.chance`).
        monitor: the score's metric name (for :func:`score_noise`).
        n: validation examples.
        swing: with a ``setback`` column (:func:`setback`), the tie band between the best
            and a rate is at least ``swing`` times the mean setback of the two: a short
            race's epoch-to-epoch swings make scores within them a tie too.
        walk: ``"down"``: a tie goes to the lower rate; ``"up"``: to the higher one. The
            walk stops at the first rate outside the tie, even where the rate below it ties
            the best again (a dip, kept in ``Choice.dipped`` for the explanation): a dip is a
            reading like the tie's: on the finder-quality deep tanh MLP under Adam (seed 1)
            0.00411 scored best in the race, 0.576, 0.00231 below it 0.559, outside the
            noise, and 0.0013 0.562, inside it; in full 0.0013 scored 0.799, 4.9 points
            below 0.00411's 0.848.
        ceiling: a walk up stops below rates above this (``auto``: where its range test's
            loss trend turned up); the best itself may lie above it.
        paced: with a ``pace`` column (:func:`pace`), a walk down stops at a rate whose
            score improved less than the best's in the race's last epoch, by more than the
            tie's band: the lower rate of a tie earns it by catching up later, and one the
            best still outpaces has not (``auto`` on a race ranked by a loss).
        held: with ``walk="down"``, no walk where a raced rate above the best, at most half
            a decade up, ties the best too, it and every rate between them having learned
            (``Choice.held`` says so): the walk's reason, a best that a short race flatters
            next to the edge where it collapses later, is gone when a rate above holds up as
            well, and the best is the middle of the tie (``auto``'s races under adaptive
            rules; see its ``_Race``). A rate between them outside the tie is a dip, a
            reading like the tie's (see ``walk``): a masked LM under AdamW (47-step race)
            tied 0.00495 (best, 0.220) and 0.0157 (0.206), the refinement's 0.0088 between
            them scored 0.200, and the walk down to 0.00157 lost 13.9 points where 0.00464
            lost none.

    When no rate learned, the pick is the highest rate marked ``stable`` (the one most
    likely to learn in a longer training), or without that column the best score.

    Example:
        >>> t = pd.DataFrame({"lr": [0.01, 0.1, 1.0], "score": [0.80, 0.905, 0.91],
        ...                   "diverged": [False, False, False]})
        >>> choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000).lr
        0.1
        >>> choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000,
        ...        walk="up").lr
        1.0
    """
    t = table.sort_values("lr").reset_index(drop=True)
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n, binomial=binomial))
    scores = t["score"].to_numpy(float)
    if not ok.any():
        steady = (t["stable"].to_numpy(bool) & ~t["diverged"].to_numpy(bool)
                  if "stable" in t else np.zeros(len(t), bool))
        if steady.any():
            return Choice(float(t["lr"][np.flatnonzero(steady)[-1]]), math.nan, (), (),
                          "the highest stable rate")
        finite = np.where(np.isfinite(scores), scores, -np.inf if higher_is_better else np.inf)
        i = int(np.argmax(finite) if higher_is_better else np.argmin(finite))
        return Choice(float(t["lr"][i]), math.nan, (), (),
                      "the best score, no rate being stable" if "stable" in t else
                      "the best score")
    idx = np.flatnonzero(ok)
    best = int(idx[np.argmax(scores[idx])] if higher_is_better else idx[np.argmin(scores[idx])])
    noise = score_noise(scores[best], monitor, n, binomial=binomial)
    back = t["setback"].to_numpy(float) if "setback" in t else np.zeros(len(t))
    paces = t["pace"].to_numpy(float) if paced and "pace" in t else np.zeros(len(t))
    def ties(j: int) -> bool:
        band = max(noise, swing * (back[best] + back[j]) / 2)
        return bool(ok[j] and abs(scores[j] - scores[best]) <= band and not (
            walk == "up" and t["lr"][j] > ceiling) and not (
            walk == "down" and paces[j] < paces[best] - band))

    pick, tied, dipped = best, [], ()
    steps = range(best - 1, -1, -1) if walk == "down" else range(best + 1, len(t))
    for j in steps:  # walk while the next rate ties the best
        if not ties(j):
            if walk == "down" and j >= 1 and ok[j] and ties(j - 1):  # a dip: said, kept
                dipped = (float(t["lr"][j]), float(t["lr"][j - 1]))
            break
        pick = j
        tied.append(float(t["lr"][j]))
    learned = tuple(float(v) for v in t["lr"][ok])
    up = best + 1  # the raced rates up to half a decade above the best, while they learned
    while up < len(t) and ok[up] and t["lr"][up] <= t["lr"][best] * NEIGHBOUR:
        if held and walk == "down" and tied and abs(scores[up] - scores[best]) <= max(
                noise, swing * (back[best] + back[up]) / 2):
            # a rate above holds up as well as the best: no edge next to it to walk away from
            return Choice(float(t["lr"][best]), float(t["lr"][best]), learned, (),
                          held=(float(t["lr"][up]), float(t["lr"][pick])))
        up += 1
    return Choice(float(t["lr"][pick]), float(t["lr"][best]), learned, tuple(tied),
                  dipped=dipped)


#: A stable rate blew up when its training loss ended its race (or the longer race) more than
#: this factor above the untrained model's (see ``edge_moved`` in ``auto``): past the edge, not
#: on a plateau's wobble (a tanh RNN's rates that blew up ended 2.3-12x above, those that crept
#: over 5% above 1.07-1.33x, and one of them learned in the next epoch). :func:`by_loss`
#: ranks no such rate.
BLOWN = 2.0

#: A rate none of whose scores learned is still a candidate for a longer training when its
#: last epoch's mean training loss is below its first epoch's and at most this factor above
#: the untrained model's (1%: an LSTM at a rate 3x too high sat 2-5% above for good; the
#: rates that learned later ended within 0.6%).
HOLD = 1.01


def falling(table: pd.DataFrame, hold: float = HOLD, untrained: float = math.nan,
            rise: float = 1.0) -> float:
    """The rate most likely to learn in a longer training when none learned yet: the
    highest one whose training loss still fell (its last epoch's mean below its first
    epoch's; after a race of one epoch, below the untrained model's: ``auto`` gives such a
    race ``first`` = 1) and ended within ``hold`` of the untrained model's; ``nan`` when
    none did. With ``rise`` above 1, "fell" reads "did not rise to ``rise`` times its first
    epoch's": ``auto`` gives a race of two epochs or more :data:`HOLD` (1%), the noise of two
    epochs' means on a plateau (see ``_Race.pick``).

    ``table`` has ``lr``, ``diverged`` and the ``first`` and ``last`` epochs' mean training
    loss as a share of the untrained model's (``stable`` too, where known). A rate that
    learned nothing is too low (its loss creeps down), too high (its steps keep the loss
    above where it started: stuck, not diverged) or on a plateau it leaves later (a
    recurrent net's memory). Only the trend tells them apart: a too-high rate's loss stays
    above the untrained model's however long the race, so "stable" (it came back within 5%
    at some epoch) is not enough; the highest rate still falling is the one nearest the
    edge that is not past it. With the ``untrained`` model's validation loss (and ``vloss``
    in the table), a rate whose validation loss ended over :data:`BLOWN` times it is past
    that edge too, whatever its training loss (a ResNet with BatchNorm under momentum 0.9, a
    race of 12 steps: 0.242 fell to 0.95 of the untrained training loss with a validation
    loss of 37,000 from 1.38, 0.0242 to 0.83 with 2.0; over the full training 0.242 scored
    57%, 0.0242 98%).

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 1.0, 3.16], "diverged": [False] * 3,
        ...                   "first": [0.996, 1.004, 1.03], "last": [0.994, 0.999, 1.02]})
        >>> falling(t)  # 3.16 still falls but sits 2% above the untrained model's loss
        1.0
        >>> flat = t.assign(first=[0.994, 0.9936, 1.03], last=[0.992, 0.9939, 1.02])
        >>> falling(flat), falling(flat, rise=1.01)  # 1.0 rose 0.03%: a plateau's noise
        (0.1, 1.0)
    """
    t = table.sort_values("lr")
    ok = _falling_mask(t, hold, untrained, rise)
    return float(t["lr"].to_numpy(float)[ok][-1]) if ok.any() else math.nan


def not_falling(table: pd.DataFrame, hold: float = HOLD, untrained: float = math.nan,
                rise: float = 1.0) -> list[str]:
    """Why :func:`falling` may not pick each row of ``table``, in words, in its order; ``""``
    where it may. The first reason that holds: it diverged; it was unstable; its last
    training loss ended above ``hold`` of the untrained model's; its validation loss ended
    over :data:`BLOWN` times the ``untrained`` model's; its training loss did not fall (with
    ``rise`` above 1: rose to ``rise`` times its first epoch's or more). (A
    row ``stuck`` above the untrained model's losses, unstable for that, says how far above
    its training loss ended: ``auto``'s ``stuck_above``.)

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 1.0, 3.16], "diverged": [False] * 3,
        ...                   "first": [0.996, 1.004, 1.03], "last": [0.998, 0.999, 1.02]})
        >>> not_falling(t)
        ['did not fall', '', "ended its training loss 2% above the untrained model's"]
    """
    reasons = []
    for row in table.to_dict("records"):
        last = float(row["last"])
        if bool(row["diverged"]):
            reasons.append("diverged")
        elif not bool(row.get("stable", True)) and row.get("stuck") is not True:
            reasons.append("was unstable (its loss never came back to the untrained model's)")
        elif last > hold:
            reasons.append(f"ended its training loss {100 * (last - 1):.2g}% above the "
                           "untrained model's")
        elif math.isfinite(untrained) and float(row.get("vloss", math.nan)) > BLOWN * untrained:
            reasons.append("blew up on the validation data")  # no rate to train
        elif not last < float(row["first"]) * rise:
            reasons.append("did not fall" if rise <= 1 else
                           f"did not fall (its training loss rose {100 * (rise - 1):.2g}% or "
                           "more over the race)")
        else:
            reasons.append("")
    return reasons


def _falling_mask(t: pd.DataFrame, hold: float, untrained: float, rise: float = 1.0
                  ) -> np.ndarray:
    """The rows :func:`falling` may pick (see there): those :func:`not_falling` finds no
    reason against."""
    return np.array([not why for why in not_falling(t, hold, untrained, rise)], dtype=bool)


def furthest(table: pd.DataFrame, hold: float = HOLD, untrained: float = math.nan) -> float:
    """Among the rates :func:`falling` may pick, the highest whose last training loss
    (``last``) ended within ``hold`` (1%) of the lowest; ``nan`` when none may be picked.

    For an adaptive rule's race that learned nothing, kept at or below its placement
    (``auto``): with Adam and its kin a higher rate leaves a plateau sooner, so the highest
    rate still falling, :func:`falling`'s pick, is the placement itself whatever the race
    saw; a lower rate whose training loss clearly fell further shows the placement past
    where the rule trains fastest (a character LM's race kept at 0.0125: 0.00397 ended at
    0.81 of the untrained loss, 0.0125 at 0.87; over the full training 0.00397 scored 70%,
    0.0125 37%), and within 1% the placement holds. Also ``nan`` when none fell more than
    ``hold`` below its first loss (``first``): a rate that did not train shows nothing about
    the placement (a post-norm encoder's race under a warm-up schedule: 0.000103 ended at
    0.9995 of the untrained loss while the rates above it rose 0.5-1.8% in the warm-up; over
    the full training 0.000103 scored chance, 0.01 98.6%).

    Example:
        >>> t = pd.DataFrame({"lr": [0.00125, 0.00397, 0.0125], "diverged": [False] * 3,
        ...                   "first": [1.0] * 3, "last": [0.925, 0.814, 0.873]})
        >>> falling(t), furthest(t)
        (0.0125, 0.00397)
        >>> furthest(t.assign(last=[0.94, 0.933, 0.934]))  # within 1%: the highest
        0.0125
        >>> furthest(t.assign(last=[0.9995, 1.0048, 1.0175]))  # none fell clearly
        nan
    """
    t = table.sort_values("lr")
    ok = _falling_mask(t, hold, untrained)
    last = t["last"].to_numpy(float)
    if not (ok & (last * hold < t["first"].to_numpy(float))).any():
        return math.nan
    near = ok & (last <= hold * last[ok].min())
    return float(t["lr"].to_numpy(float)[near][-1])


def by_loss(table: pd.DataFrame, *, untrained: float, n: int, walk: str = "down") -> float:
    """When no rate beat chance on the score: the rate whose validation loss is lowest, when
    that loss stands clearly apart, ``nan`` otherwise (:func:`choose` on the loss, ties
    walking as ``walk``).

    The bar a loss must clear by two noise units of a loss (:func:`score_noise`) is the
    untrained model's loss or, when lower, the median loss of the stable rates: the loss
    ranks the rates only where it separates them. A share such as accuracy moves only when
    an answer flips: on a classifier whose majority class holds 90% of the examples a
    one-epoch race left every rate within two noise units of always answering it, while
    the loss already ordered them (0.19 at 1 and 3.16, 0.25-0.30 lower, 0.62 at 10, from
    an untrained 0.70; the highest rate whose loss fell at all, 10, lost 4 points over the
    full epochs). Rates that all learned the class frequencies alone, or a recurrent net on
    its plateau, sit within the noise of one level: ``nan``, and :func:`falling` decides (an
    LSTM's one-epoch race on 70/30 labels: 0.57-0.63 from an untrained 0.69; the lowest was
    a third of the best rate).

    A rate whose training loss ended its race over :data:`BLOWN` times the untrained
    model's (``last``, where the table has it) is left out: past the edge, a net can fall
    back to answering the class frequencies, whose loss is low (a sum-pooled graph net's
    one-epoch race: 0.215 ended at 27x the untrained training loss and at a validation loss
    of 0.570, the 0.559 of answering 75/25; it never left chance in the full training, where
    0.0215, at 1.3x and 0.649, scored 97%).

    ``table`` has ``lr``, ``vloss`` (each rate's validation loss), ``diverged`` and
    optionally ``stable`` and ``last``.

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.316, 1.0, 3.16], "vloss": [0.30, 0.25, 0.19, 0.62],
        ...                   "diverged": [False] * 4})
        >>> by_loss(t, untrained=0.70, n=500)
        1.0
        >>> by_loss(t.assign(vloss=[0.60, 0.57, 0.61, 0.60]), untrained=0.69, n=400)
        nan
    """
    if not (math.isfinite(untrained) and "vloss" in table):
        return math.nan
    steady = ~table["diverged"].to_numpy(bool) & np.isfinite(table["vloss"].to_numpy(float))
    if "stable" in table:
        steady &= table["stable"].to_numpy(bool)
    if "last" in table:  # blew up, then answered the class frequencies: a low loss, no learning
        kept = ~(table["last"].to_numpy(float) > BLOWN)
        table, steady = table[kept], steady[kept]
    if not steady.any():
        return math.nan
    bar = min(untrained, float(np.median(table["vloss"].to_numpy(float)[steady])))
    t = table.assign(score=table["vloss"])
    c = choose(t, higher_is_better=False, chance=bar, monitor="loss", n=n, walk=walk)
    return c.lr if c.learned else math.nan


def lone(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
         monitor: str, n: int, binomial: bool | None = None,
         untrained: float = math.nan) -> float:
    """The next lower stable rate when ``lr`` learned alone, ``nan`` otherwise.

    A pick learned alone when raced rates lie within half a decade (:data:`NEIGHBOUR`) on
    both sides of it and none of them learned (:func:`learned_mask`). A learning rate's
    neighbours learn too, slower or faster; one rate above chance between rates at chance
    is a flicker of a short race more often than a rate that trains: a CNN's race of 14
    steps put 0.316 at 20% (chance 12%) between 0.178 and 0.562 at 9%, and 0.316 sat at
    chance over the full training, where 0.14 reached 85%; a tanh RNN's 0.316 beat chance by
    one flicker with its neighbours at chance, and collapsed by its fourth epoch. The lower
    neighbour is the safer guess (a rate above the pick lies nearer divergence); ``nan``
    when none below is stable, or when the pick's last training loss (``last``, a share of
    the untrained model's, where the table has it) ended more than :data:`HOLD` below every
    neighbour's: its score rose because it learned (a deep sigmoid net's 3.16 ended at
    0.93 where its neighbours sat at 0.95-0.99, and 3.16 was the best rate; the two
    flickers above ended within 0.1% of their neighbours or above them). Also ``nan`` when
    a stable neighbour shares the pick's level: it scored within the noise
    of the pick's score (:func:`score_noise`, the race's tie band) and its training loss
    ended within :data:`HOLD` of the pick's. The pick then crossed the bar of
    :data:`LEARNED` by the noise; it did not stand alone (a GRU's race put 0.316 at 0.541
    against chance 0.504, 2.1 noise units, its neighbours at 0.524-0.534 with training
    losses within 0.2% of the pick's; 0.316 lost 3.6 points over the full training, its
    lower neighbour 31.4; a transformer's 11-step race: 0.0714 at 0.627, its neighbours at
    0.610-0.613, 5.7 points against 9.0). The lone rates whose move helped stood 1.6 to 19
    noise units clear of their stable neighbours; one 1.1 units clear had blown up, its
    training loss ending at 8.6x theirs. Also ``nan`` when a stable neighbour above the pick
    trained further while its validation lagged: its training loss ended more than
    :data:`HOLD` below the pick's, which fell below the untrained model's, and its
    validation loss (``vloss``) over :data:`BLOWN` times the ``untrained`` model's (where
    given). Its score at chance
    then says that its validation lags its training, not that it failed, and a move down
    goes against what the training loss shows (a ResNet with BatchNorm, momentum 0.9, a race
    of 12 steps: 0.0635 ended at 0.88 of the untrained training loss with a validation loss
    of 65 from 1.38, its running statistics behind its weights; the pick 0.0201, at 0.997
    and 1.30, scored 43% against chance 29%; over the full training 0.0201 scored 98%, the
    move's 0.00636 84%). A rate above that overshoots ends with a validation loss higher
    than the pick's but not past the untrained model's (a deep tanh net on 80/20 labels:
    0.89 at 0.50 of the untrained training loss, the pick 0.282 at 0.62; validation 0.59
    and 0.28 from 0.68), and graph nets' one-epoch races differ by 2-15% in training loss
    either way: those move as before. Also ``nan`` when the raced rates above the pick show no
    sign of the edge of stability (:func:`lone_kept`: the pick stays, and ``auto`` warns).

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.178, 0.316, 0.562, 1.0],
        ...                   "score": [0.09, 0.09, 0.20, 0.09, 0.09], "diverged": [False] * 5})
        >>> lone(t, 0.316, higher_is_better=True, chance=0.119, monitor="accuracy", n=1000)
        0.178
        >>> lone(t.assign(score=[0.09, 0.16, 0.20, 0.09, 0.09]), 0.316, higher_is_better=True,
        ...      chance=0.119, monitor="accuracy", n=1000)
        nan
    """
    t = table.sort_values("lr").reset_index(drop=True)
    if _calm_above(t, lr):  # no sign of the edge above it: it stays (see :func:`lone_kept`)
        return math.nan
    return _lower_of_lone(t, lr, higher_is_better=higher_is_better, chance=chance,
                          monitor=monitor, n=n, binomial=binomial, untrained=untrained)


def lone_kept(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
              monitor: str, n: int, binomial: bool | None = None,
              untrained: float = math.nan) -> bool:
    """Whether ``lr`` learned alone as :func:`lone` reads it, and stays: the raced rate next
    above it shows no sign of the edge of stability. The pick's own training loss (``last``,
    a share of the untrained model's) ended below the untrained model's, and that rate is
    stable, its training loss ended below the untrained model's too and no more than
    :data:`HOLD` below the pick's (it trained no further than the pick, and did not fail).

    :func:`lone`'s move down rests on the pick being a flicker next to the edge (a rate
    above it lies nearer divergence): in the runs where the move helped, a rate above
    showed that edge (a CNN's 0.562 unstable next to 0.316, a tanh RNN's 0.562 ended its
    race at 2.1x the untrained loss) or the pick's own loss had not fallen. Where none
    does, the rates above the pick trained alike or less and simply had not crossed chance
    yet, and the lower neighbour is a rate that trained slower still, a guess with nothing
    for it: a new user's BatchNorm CNN on noisy bars (3 epochs of plain SGD, an 11-step
    race) put 0.316 at 0.4675 (chance 0.3575, 4.6 noise units), its neighbours 0.178 and
    0.562 at 0.325, training losses 0.990, 0.992 (the pick) and 0.998 of the untrained
    model's (1.0, half a decade up, 1.019); over the full training 0.316 is that seed's best
    rate (0.5825), the move's 0.178 scores 0.4575. A rate above whose training loss fell clearly further while its
    score stayed at chance overshot (a deep tanh net's 0.89 at 0.50 of the untrained loss,
    the pick's 0.62): the move stands.

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.178, 0.316, 0.562, 1.0],
        ...                   "score": [0.325, 0.325, 0.4675, 0.325, 0.325],
        ...                   "diverged": [False] * 5,
        ...                   "last": [0.990, 0.990, 0.992, 0.998, 1.019]})
        >>> lone_kept(t, 0.316, higher_is_better=True, chance=0.3575, monitor="accuracy",
        ...           n=400)
        True
        >>> lone(t.assign(last=[0.990, 0.990, 0.992, 1.001, 1.019]), 0.316,
        ...      higher_is_better=True, chance=0.3575, monitor="accuracy", n=400)
        0.178
    """
    t = table.sort_values("lr").reset_index(drop=True)
    return _calm_above(t, lr) and math.isfinite(_lower_of_lone(
        t, lr, higher_is_better=higher_is_better, chance=chance, monitor=monitor, n=n,
        binomial=binomial, untrained=untrained))


def _lower_of_lone(t: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
                   monitor: str, n: int, binomial: bool | None, untrained: float) -> float:
    """The next lower stable rate when ``lr`` learned alone (``t`` sorted by rate; every
    condition of :func:`lone` but :func:`lone_kept`'s), ``nan`` otherwise."""
    if not _alone(t, lr, higher_is_better=higher_is_better, chance=chance, monitor=monitor,
                  n=n, top=False, binomial=binomial) or _level(
            t, lr, higher_is_better=higher_is_better, monitor=monitor, n=n,
            binomial=binomial) or _faster_above(t, lr, untrained):
        return math.nan
    lrs = t["lr"].to_numpy(float)
    steady = ((lrs < lr) & (lrs >= lr / NEIGHBOUR) & ~np.isclose(lrs, lr)
              & ~t["diverged"].to_numpy(bool))
    if "stable" in t:
        steady &= t["stable"].to_numpy(bool)
    return float(lrs[steady][-1]) if steady.any() else math.nan


def lone_at_top(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
                monitor: str, n: int, binomial: bool | None = None) -> bool:
    """Whether ``lr`` learned alone at the top of the raced rates: raced rates lie within
    half a decade below it (:data:`NEIGHBOUR`) and none of them learned
    (:func:`learned_mask`), none was raced above it within half a decade, and its last
    training loss (``last``, where the table has it) did not end more than :data:`HOLD`
    below every neighbour's (as :func:`lone` reads it).

    The shape of :func:`lone` where nothing was raced above (the range test reached no
    higher): the lower neighbour is then no safer guess than the rate itself, since the
    rates raced below it sat at chance too. A thresholded score such as a macro-F1 on 7%
    positives stays at always answering the majority class while a short race's rates
    learn the class frequencies, and a rate too high leaves it first by overshooting: on a
    new user's MLP (one epoch of 14 steps) 10 alone scored 0.656 against 0.483 below it,
    with a training loss of 0.74 of the untrained model's where 3.16 ended at 0.38; over
    the full training 10 scored 0.71 and 0.48 on two seeds, where 1-2 scored 0.96-0.97.
    ``auto`` then ranks the other rates by their validation loss (:func:`by_loss`).

    Example:
        >>> t = pd.DataFrame({"lr": [0.316, 1.0, 3.16, 10.0],
        ...                   "score": [0.483, 0.483, 0.483, 0.656], "diverged": [False] * 4,
        ...                   "last": [0.53, 0.39, 0.38, 0.74]})
        >>> lone_at_top(t, 10.0, higher_is_better=True, chance=0.483, monitor="f1", n=200)
        True
        >>> lone_at_top(t.assign(last=[0.53, 0.39, 0.38, 0.30]), 10.0, higher_is_better=True,
        ...             chance=0.483, monitor="f1", n=200)  # its loss fell furthest: it learned
        False
    """
    return _alone(table.sort_values("lr").reset_index(drop=True), lr,
                  higher_is_better=higher_is_better, chance=chance, monitor=monitor, n=n,
                  top=True, binomial=binomial)


def _alone(t: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float, monitor: str,
           n: int, top: bool, binomial: bool | None = None) -> bool:
    """``lr`` learned alone among the raced rates within half a decade of it (``t`` sorted
    by rate): rates on both sides (``top``: below it, none above), none of them learned,
    and its training loss not clearly lower than theirs (see :func:`lone`)."""
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n, binomial=binomial))
    lrs = t["lr"].to_numpy(float)
    near = (lrs <= lr * NEIGHBOUR) & (lrs >= lr / NEIGHBOUR) & ~np.isclose(lrs, lr)
    below, above = near & (lrs < lr), near & (lrs > lr)
    if not below.any() or above.any() != (not top) or ok[near].any():
        return False
    if "last" in t:  # its training loss fell clearly further than theirs: it learned
        last = t["last"].to_numpy(float)
        i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
        if last[i] * HOLD < np.nanmin(np.where(near, last, np.inf)):
            return False
    return True


def _level(t: pd.DataFrame, lr: float, *, higher_is_better: bool, monitor: str, n: int,
           binomial: bool | None = None) -> bool:
    """Whether a stable raced rate within half a decade of ``lr`` (``t`` sorted by rate)
    shares its level: a best score no worse than ``lr``'s by more than the noise of that
    score, and (where ``t`` has ``last``) a last training loss within :data:`HOLD` of
    ``lr``'s either way (see :func:`lone`)."""
    lrs, score = t["lr"].to_numpy(float), t["score"].to_numpy(float)
    i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
    sign = 1.0 if higher_is_better else -1.0
    level = ((lrs <= lr * NEIGHBOUR) & (lrs >= lr / NEIGHBOUR) & ~np.isclose(lrs, lr)
             & ~t["diverged"].to_numpy(bool)
             & (sign * (score[i] - score) <= score_noise(score[i], monitor, n,
                                                           binomial=binomial)))
    if "stable" in t:
        level &= t["stable"].to_numpy(bool)
    if "last" in t:
        last = t["last"].to_numpy(float)
        level &= (last <= HOLD * last[i]) & (last[i] <= HOLD * last)
    return bool(level.any())


def _calm_above(t: pd.DataFrame, lr: float) -> bool:
    """Whether the raced rate next above ``lr`` (``t`` sorted by rate, with ``last``; within
    half a decade) shows no sign of the edge of stability (see :func:`lone_kept`): ``lr``'s
    own last training loss ended below the untrained model's (1), and that rate is stable,
    did not diverge, and ended below 1 and no more than :data:`HOLD` below ``lr``'s."""
    if "last" not in t:
        return False
    lrs, last = t["lr"].to_numpy(float), t["last"].to_numpy(float)
    i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
    above = np.flatnonzero((lrs > lr) & (lrs <= lr * NEIGHBOUR) & ~np.isclose(lrs, lr))
    if not (last[i] < 1 and above.size):
        return False
    j = int(above[0])
    stable = bool(t["stable"].to_numpy(bool)[j]) if "stable" in t else True
    return bool(stable and not t["diverged"].to_numpy(bool)[j] and last[j] < 1
                and last[j] * HOLD >= last[i])


def _faster_above(t: pd.DataFrame, lr: float, untrained: float) -> bool:
    """Whether a stable raced rate within half a decade above ``lr`` (``t`` sorted by rate)
    trained further while its validation lagged: its last training loss (``last``) ended
    more than :data:`HOLD` below ``lr``'s, which itself ended below the untrained model's,
    and its validation loss (``vloss``) over :data:`BLOWN` times the ``untrained`` model's
    (see :func:`lone`)."""
    if "last" not in t or "vloss" not in t or not math.isfinite(untrained):
        return False
    lrs, last = t["lr"].to_numpy(float), t["last"].to_numpy(float)
    vloss = t["vloss"].to_numpy(float)
    i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
    above = ((lrs > lr) & (lrs <= lr * NEIGHBOUR) & ~np.isclose(lrs, lr)
             & ~t["diverged"].to_numpy(bool) & (last * HOLD < last[i])
             & (vloss > BLOWN * untrained))
    if "stable" in t:
        above &= t["stable"].to_numpy(bool)
    return bool(last[i] < 1 and above.any())


def setback(curve: np.ndarray, higher_is_better: bool) -> float:
    """How far a validation curve goes backwards: the mean step against the better
    direction between consecutive epochs (0 for a curve that only improves).

    A short race scores each rate by its best epoch, and that best is only as sure as the
    curve is steady: SGD near its stability edge swings from epoch to epoch far beyond the
    validation set's noise (an MSE regression's loss at its best rate went 0.68, 1.32, 0.55
    in three epochs), so two rates within such swings are a tie.

    Example:
        >>> round(setback(np.array([0.5, 0.7, 0.6, 0.8]), higher_is_better=True), 4)
        0.0333
    """
    c = np.asarray(curve, float)
    c = c[np.isfinite(c)]
    if len(c) < 2:
        return 0.0
    d = np.diff(c)
    return float(np.maximum(0.0, -d if higher_is_better else d).mean())


def pace(curve: np.ndarray, higher_is_better: bool) -> float:
    """How fast a validation curve still improves at its end: its last finite epoch-to-epoch
    step in the better direction (negative: it went backwards; 0 with fewer than two
    epochs).

    Example:
        >>> round(pace(np.array([0.9, 0.5, 0.4]), higher_is_better=False), 4)
        0.1
    """
    c = np.asarray(curve, float)
    c = c[np.isfinite(c)]
    if len(c) < 2:
        return 0.0
    return float(c[-1] - c[-2]) * (1.0 if higher_is_better else -1.0)


@dataclass(frozen=True)
class Confidence:
    """How sure a search is of its pick.

    Attributes:
        margin: the pick's score minus the best other rate's (positive: the pick is ahead;
            in the monitor's units, sign turned so that positive is better).
        noise: the noise of the pick's score (:func:`score_noise`).
        runner_up: the best other rate (``nan`` if none).
        chance: the score of a model that learned nothing.
        warnings: one line per weakness of the evidence (empty: none), each a
            :class:`~lrlab.search.Finding`: its text, and its ``kind`` (:attr:`kinds`) for
            a program to test.
        lr: the pick (``nan`` if not given): says which side of the best a tie went.
        notes: what the evidence showed that is no weakness but worth a sentence (a
            neighbour that never learned above a pick that held), for the explanation.
        scored: for a pick that was never raced (``auto``'s move a quarter decade below a
            raced rate whose neighbour blew up, or below a plateau's guess), the raced rate whose margin, noise and
            runner-up these are; ``nan``: the pick's own.
        behind: why a pick behind the best was taken, when no tie took it (``auto``: the
            lower rate trained as fast); empty otherwise.
        next_step: where two or more warnings each said what to do, the one thing to do
            (:func:`one_next_step`), the warnings then keeping their facts; empty otherwise
            (none advises, or the one that does says it).
    """

    margin: float
    noise: float
    runner_up: float
    chance: float
    warnings: tuple[str, ...] = field(default=())
    lr: float = math.nan
    notes: tuple[str, ...] = field(default=())
    scored: float = math.nan
    behind: str = ""
    next_step: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kind of each warning (:class:`~lrlab.search.Finding`; ``""``: a plain line)."""
        return kinds_of(self.warnings)

    @property
    def sure(self) -> bool:
        """No warning, the pick raced, and ahead of the runner-up by more than the noise."""
        return not self.warnings and self.margin > self.noise and math.isnan(self.scored)

    def text(self) -> str:
        """One clause: the margin against the noise. A pick behind the best (a tie the rule
        gave to the other rate) reads as that tie, not as a negative margin; a pick not
        raced says so, and whose race the clause reads."""
        if math.isfinite(self.scored):
            pick = f"{self.lr:.3g} " if math.isfinite(self.lr) else ""
            return (f"{pick}not raced, its evidence {self.scored:.3g}'s race: "
                    f"{replace(self, scored=math.nan, lr=self.scored).text()}")
        if not math.isfinite(self.runner_up):
            return ("no rate beat chance" if {"no_rate_learned", "race_unlearned"} & set(
                self.kinds) else "no other rate to compare")
        if not math.isfinite(self.margin):
            return f"the runner-up {self.runner_up:.3g} has no score"
        if self.margin < 0 and self.behind:
            return (f"{-self.margin:.4f} behind the best, {self.runner_up:.3g}, against noise "
                    f"{self.noise:.4f}: {self.behind}")
        if self.margin < 0:
            side = ("lower " if self.lr < self.runner_up else "higher ") if math.isfinite(
                self.lr) else ""
            within = ("within noise" if -self.margin <= self.noise else
                      "beyond the validation noise but within the race's epoch-to-epoch swings")
            return (f"a tie: {-self.margin:.4f} behind the best, {self.runner_up:.3g}, "
                    f"{within} ({self.noise:.4f}); took the {side}rate")
        how = ("clear" if self.margin > 2 * self.noise else
               "within noise" if self.margin <= self.noise else "narrow")
        return (f"margin {self.margin:+.4f} over {self.runner_up:.3g} against noise "
                f"{self.noise:.4f} ({how})")

    def to_dict(self) -> dict[str, Any]:
        def plain(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"margin": plain(self.margin), "noise": plain(self.noise),
                "runner_up": plain(self.runner_up), "chance": plain(self.chance),
                "scored": plain(self.scored), "behind": self.behind or None, "sure": self.sure,
                "warnings": list(self.warnings), "warning_kinds": list(self.kinds),
                "notes": list(self.notes), "note_kinds": list(kinds_of(self.notes)),
                "next_step": self.next_step or None}

    def explained(self, text: str) -> str:
        """``text`` (an explanation ending in a sentence) with the notes appended."""
        notes = " ".join(f"{n[0].upper()}{n[1:]}." for n in self.notes)
        return f"{text} {notes}" if notes else text


#: Whose advice :func:`one_next_step` keeps when several warnings advise, first first:
#: a race that learned nothing (the pick is a guess: a larger budget, the targets); the
#: lowest raced rate's pair (measured on 7 runs: the full training's best lay at the pick or
#: above it, never below; :func:`at_edge`); a loss-ranked race's quarter-decade three
#: (measured on the finder-quality regression, ``loss_advice.py``: the rates half a decade
#: either side, the blanket lines' advice, bought nothing there); the rates this run's own
#: evidence names (an edge, a lone learner, a tie, the range test's bottom); then the
#: blanket "half a decade either side" of a short or unclear race.
ADVICE_ORDER = ("race_unlearned", "learned_longer", "lowest_searched", "short_on_loss",
                "edge_moved", "lone_learner", "lone_at_top", "lone_kept", "wide_tie",
                "moving_tie", "past_bottom", "short_of_bottom", "highest_searched",
                "spike_recovered", "early_race", "few_steps", "before_peak",
                "no_clear_descent")


def one_next_step(confidence: Confidence) -> Confidence:
    """``confidence`` with one thing to do: where two or more warnings each end with advice
    (:func:`~lrlab.search._findings.split_advice`), each keeps its fact (and its kind) and
    the advice of the first by :data:`ADVICE_ORDER` becomes :attr:`Confidence.next_step`, so
    a user is not told to train the rates a quarter decade either side in one line and half a
    decade in the next. One warning that advises keeps its advice (unchanged).

    Example:
        >>> c = Confidence(0.1, 0.01, 0.3, 1.0, warnings=(
        ...     Finding("no clear descent: placed from the top; check the pick against the "
        ...             "rates half a decade either side", "no_clear_descent"),
        ...     Finding("ranked by a loss: it falls late; where a few percent matter, train "
        ...             "0.059, 0.105 and 0.187", "short_on_loss")))
        >>> one = one_next_step(c)
        >>> one.warnings
        ('no clear descent: placed from the top', 'ranked by a loss: it falls late')
        >>> one.kinds, one.next_step
        (('no_clear_descent', 'short_on_loss'), 'where a few percent matter, train 0.059, 0.105 and 0.187')
    """
    # an edge's "search on to" a tenth away ranks with the blanket advice, behind the rest
    place = by_kind(ADVICE_ORDER)

    def rank(line: str) -> int:
        if kind_of(line).endswith("_searched") and split_advice(line)[1].startswith("search"):
            return ADVICE_ORDER.index("spike_recovered")
        return place(line)

    facts, advice = one_advice(confidence.warnings, rank, it="the pick")
    return replace(confidence, warnings=facts, next_step=advice) if advice else confidence


def assess(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
           monitor: str, n: int, searched: tuple[float, float] | None = None,
           extra: tuple[str, ...] = (), binomial: bool | None = None,
           raced: bool = False) -> Confidence:
    """The :class:`Confidence` of picking ``lr`` from ``table``.

    Args:
        table: one row per rate: ``lr``, ``score``, ``final`` (last validation monitor),
            ``diverged``.
        lr: the pick.
        higher_is_better, chance, monitor, n: as :func:`choose`.
        searched: the lowest and highest rate the search could have picked (default: the
            table's); a pick at either end gets a warning where the scores still rise
            towards it (:func:`at_edge`), else a note.
        extra: warnings the procedure adds itself.
        raced: the scores are a short race's, not full trainings' (:func:`at_edge`).

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.3], "score": [0.90, 0.905], "final": [0.9, 0.25],
        ...                   "diverged": [False, False]})
        >>> c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
        >>> len(c.warnings)  # 0.3 collapsed to chance; 0.1 is the lowest rate searched
        2
    """
    t = table.sort_values("lr").reset_index(drop=True)
    sign = 1.0 if higher_is_better else -1.0
    lrs = t["lr"].to_numpy(float)
    scores = t["score"].to_numpy(float)
    i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
    noise = score_noise(scores[i], monitor, n, binomial=binomial)
    warnings = list(extra)
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n, binomial=binomial))
    # the runner-up among the rates that learned (an unstable rate's lucky score is no rival)
    others = [j for j in range(len(t)) if j != i and math.isfinite(scores[j])
              and (ok[j] or not ok.any())]
    if others and ok.any():
        j = max(others, key=lambda k: sign * scores[k])
        margin, runner = sign * (scores[i] - scores[j]), float(lrs[j])
    else:
        margin, runner = math.nan, math.nan
    notes: list[str] = []
    if not ok.any():
        warnings.append(Finding(f"no rate learned: every score is within noise of chance "
                                f"({chance:.4g}, the untrained model or the majority class)",
                                "no_rate_learned"))
    elif (math.isfinite(margin) and abs(margin) <= noise
          and abs(math.log10((far := _farthest_tie(lrs, scores, i, others, noise)) / lr))
          > math.log10(NEIGHBOUR)):
        # a tie with a neighbour (half a decade or less) is in the margin line: either rate
        # trains about as well. A tie reaching a rate further away (the runner-up, or any
        # rate within noise: a walk down a tie may stop a quarter decade from the runner-up
        # while the tie spans a decade) means the scores cannot tell a wide range apart:
        # worth a user's look (a longer budget, another seed)
        warnings.append(Finding(f"a tie across more than half a decade: {far:.3g} scored "
                                f"within noise ({noise:.4f}) of the pick: train the pick and "
                                f"{far:.3g} for the full epochs and keep the better", "wide_tie"))
    elif math.isfinite(margin) and monitor == "loss" and (tie := moving_tie(
            t, i, int(np.flatnonzero(lrs == runner)[0]), margin, noise)):
        warnings.append(tie)
    if ok.any() and i + 1 < len(t) and lrs[i + 1] <= lr * NEIGHBOUR:
        line, weak = edge_failed(t, i, higher_is_better=higher_is_better, chance=chance,
                                 noise=noise,
                                 chance_noise=score_noise(chance, monitor, n, binomial=binomial),
                                 untrained=monitor == "loss")
        if line:
            (warnings if weak else notes).append(line)
    low, high = searched if searched is not None else (lrs[0], lrs[-1])
    if len(t) > 1 and ok.any():
        top = math.isclose(lr, high) or lr >= high
        if top or math.isclose(lr, low) or lr <= low:
            line, weak = at_edge(t, i, "highest" if top else "lowest", ok,
                                 higher_is_better=higher_is_better, chance=chance, noise=noise,
                                 chance_noise=score_noise(chance, monitor, n, binomial=binomial),
                                 raced=raced)
            (warnings if weak else notes).append(line)
    return Confidence(float(margin), float(noise), runner, float(chance), tuple(warnings),
                      float(lr), tuple(notes))


def _farthest_tie(lrs: np.ndarray, scores: np.ndarray, i: int, others: list[int],
                  noise: float) -> float:
    """Of the rates ``others`` whose score lies within ``noise`` of the pick's (row ``i``),
    the one furthest from the pick in log rate (the pick's own rate when none)."""
    tied = [j for j in others if abs(scores[j] - scores[i]) <= noise]
    if not tied:
        return float(lrs[i])
    return float(lrs[max(tied, key=lambda j: abs(math.log(lrs[j] / lrs[i])))])


def edge_failed(table: pd.DataFrame, i: int, *, higher_is_better: bool, chance: float,
                noise: float, chance_noise: float, untrained: bool = False
                ) -> tuple[str, bool]:
    """What the next higher rate (row ``i + 1`` of ``table``, sorted by rate) says about the
    pick (row ``i``): ``("", False)`` when it held; else its line, and whether that line is a
    warning (True) or a note (False).

    An SGD pick sits just below the stability edge by design (the best rate of a long
    training does), so a higher neighbour that diverged at once or never learned is the edge
    itself, seen: no weakness while the pick's own curve held (a note). The weak shape is a
    failure that grows with training: the neighbour learned (its best score beat chance by
    :data:`LEARNED` noise units) and then diverged or fell back to chance (a race can flatter
    a rate that collapses later; so can it the pick, a longer training nearer that
    collapse), or the pick's own score already fell back from its best by more than the
    noise by the last epoch. ``untrained``: ``chance`` is the untrained model's loss (a race
    ranked by its loss), which a line names as such: a VAE's neighbour whose loss ended 7%
    below it, within the noise, had "collapsed to chance".

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.3], "score": [0.90, 0.26], "final": [0.9, 0.25],
        ...                   "diverged": [False, False]})
        >>> edge_failed(t, 0, higher_is_better=True, chance=0.25, noise=0.01,
        ...             chance_noise=0.014)[1]  # 0.3 never learned; 0.1 held: a note
        False
        >>> edge_failed(t.assign(score=[0.90, 0.95]), 0, higher_is_better=True, chance=0.25,
        ...             noise=0.01, chance_noise=0.014)[1]  # 0.3 learned, then collapsed
        True
    """
    sign = 1.0 if higher_is_better else -1.0
    up, mine = table.iloc[i + 1], table.iloc[i]
    final = float(up.get("final", up["score"]))
    gone = bool(up["diverged"]) or not math.isfinite(final)
    if not (gone or sign * (final - chance) <= LEARNED * chance_noise):
        return "", False
    what = ("diverged" if gone else "did not end clearly below the untrained model's loss"
            if untrained else "collapsed to chance")
    best = float(up["score"])
    learned = math.isfinite(best) and sign * (best - chance) > LEARNED * chance_noise
    score, last = float(mine["score"]), float(mine.get("final", mine["score"]))
    fell = math.isfinite(last) and sign * (score - last) > noise
    if learned:
        return Finding(f"the next higher rate {up['lr']:.3g} {what} after it had learned (best "
                       f"{best:.4g}): the pick sits near the edge of stability, and a longer "
                       "training than the one scored may take it there too", "next_failed"), True
    if fell:
        return Finding(f"the next higher rate {up['lr']:.3g} {what}, and the pick's own score "
                       f"fell back from {score:.4g} to {last:.4g} by its last epoch: the pick "
                       "sits near the edge of stability", "next_failed"), True
    return Finding(f"the next higher rate {up['lr']:.3g} {what} without having learned: the "
                   "pick sits just below the edge of stability, and its own curve held",
                   "next_failed"), False


def at_edge(table: pd.DataFrame, i: int, side: str, ok: np.ndarray, *, higher_is_better: bool,
            chance: float, noise: float, chance_noise: float,
            raced: bool = False) -> tuple[str, bool]:
    """The line for a pick (row ``i``) at the ``side`` (``"highest"`` or ``"lowest"``) end of
    the searched rates, and whether it is a warning (True) or a note (False).

    A rate beyond the edge might be better when the scores still rise towards it: the pick
    ahead of its inner neighbour by more than the noise, or that neighbour never learned
    or did not hold (its last score back at chance). A pick whose inner neighbour held and
    scored within the noise of it sits on a plateau that reaches the edge, where a tie put
    it (an LSTM with Adam scored 100% from 0.0038 to 0.21): nothing says a rate past it
    would do better (a note).

    ``raced``: the scores are a short race's (``auto``), not full trainings'. A race's lowest
    rate ahead of an inner neighbour that held is the short-horizon bias more often than a
    sign to search lower: on the 7 ``auto`` runs measured where it warned (new_user.py's
    dwsep adam, clip adamw, droppath momentum, specnorm adam; docs/benchmarks.md) the full
    training's best lay at the pick or 2-6x above it, never below, and a tenth of the pick
    (what the line advised before: "search on to" it) scored 2-31 points or percent worse
    than the pick. The line then names what helped there: the pick and that neighbour
    trained in full, the better of which lost 0-4 points or 0-2% where the pick lost up to
    16 points or 5%.

    Example:
        >>> t = pd.DataFrame({"lr": [0.01, 0.1], "score": [0.99, 0.99], "final": [0.99, 0.99],
        ...                   "diverged": [False, False]})
        >>> at_edge(t, 0, "lowest", np.array([True, True]), higher_is_better=True,
        ...         chance=0.5, noise=0.01, chance_noise=0.02)[1]
        False
    """
    sign = 1.0 if higher_is_better else -1.0
    lr = float(table["lr"].iloc[i])
    j = i - 1 if side == "highest" else i + 1
    kind = f"{side}_searched"
    line = Finding(f"the pick {lr:.3g} is the {side} rate searched: a "
                   f"{'higher' if side == 'highest' else 'lower'} one might be better; "
                   f"search on to {lr * 10 if side == 'highest' else lr / 10:.3g}", kind)
    if not 0 <= j < len(table) or not ok[j]:
        return line, True
    inner = table.iloc[j]
    last = float(inner.get("final", inner["score"]))
    held = math.isfinite(last) and sign * (last - chance) > LEARNED * chance_noise
    rising = sign * (float(table["score"].iloc[i]) - float(inner["score"])) > noise
    if raced and side == "lowest" and held and rising:
        return Finding(f"the pick {lr:.3g} is the lowest rate raced and scored ahead of "
                       f"{inner['lr']:.3g} above it, but a short race favours low rates, so the full "
                       "training's best may lie above it; train the pick and "
                       f"{inner['lr']:.3g} for the full epochs and keep the better", kind), True
    if rising or not held:
        return line, True
    return Finding(f"the pick {lr:.3g} is the {side} rate searched, on a plateau: "
                   f"{inner['lr']:.3g} beside it scored within the noise", kind), False


#: A tie on a loss is still moving when both rates' losses fell by more than this many noise
#: units in the race's last epoch (see :func:`moving_tie`).
MOVING = 2.0


def moving_tie(table: pd.DataFrame, i: int, j: int, margin: float, noise: float) -> str:
    """A warning when the pick (row ``i``) ties its runner-up (row ``j``, half a decade or
    less away) within the noise on a loss while both losses still fell by more than
    :data:`MOVING` noise units in the last epoch (the ``pace`` column, :func:`pace`; ``""``
    otherwise, and without that column).

    A loss keeps falling through a whole training, with no ceiling both rates approach as
    an accuracy has, so two rates tied while each still falls fast are tied only at the
    epoch the race stopped: which falls further is not yet shown. An Adam regression on
    unscaled targets (around 200) tied 0.364 and 0.647 at a loss of 1,500 after 2 of 10
    epochs, both still falling by 2,000-3,000 an epoch, and the pick, the lower, left 22%
    more loss than the best rate over the full epochs; on the benchmark's two regressions
    (5 seeds, SGD and Adam) the four such ties lost 12%, 9.3%, 4.9% and 0.8%, where the
    other 16 runs lost 2.1% on average (one, an SGD tie warned otherwise, 26%).

    Example:
        >>> t = pd.DataFrame({"lr": [0.36, 0.65], "score": [1517.0, 1474.0],
        ...                   "pace": [3337.0, 2387.0]})
        >>> moving_tie(t, 0, 1, -43.0, 76.0).split(":")[0]
        'a tie still moving'
    """
    if "pace" not in table or not abs(margin) <= noise:
        return ""
    paces = table["pace"].to_numpy(float)[[i, j]]
    if not (np.isfinite(paces).all() and paces.min() > MOVING * noise):
        return ""
    runner = float(table["lr"].iloc[j])
    return Finding(f"a tie still moving: {runner:.3g} scored within noise ({noise:.4g}) of the "
                   f"pick while both losses still fell by more than {MOVING:g}x that in the "
                   f"last epoch ({paces[0]:.4g} and {paces[1]:.4g}): the race stopped before it "
                   f"could rank them; train the pick and {runner:.3g} for the full epochs", "moving_tie")


def scored_table(summary: pd.DataFrame, monitor: str) -> pd.DataFrame:
    """``lr, score, final, diverged`` from a :meth:`~lrlab.train.SweepResult.summary`."""
    return pd.DataFrame({
        "lr": summary["lr"].to_numpy(float),
        "score": summary[f"best_val_{monitor}"].to_numpy(float),
        "final": summary[f"final_val_{monitor}"].to_numpy(float),
        "diverged": summary["diverged_epoch"].notna().to_numpy(bool),
    })
