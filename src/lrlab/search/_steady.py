"""A stability check below a flat range test's break: train a few rates for a short while.

A range test that stays flat and then breaks upwards at ``B`` says only where one step at
a rising rate first hurts. How far below ``B`` a network trains stably for many steps
depends on the network: a GRU, an LSTM or deep sigmoid layers train well a factor 2-8 below
their break, a tanh RNN's loss climbs and then explodes (gradients grow through the
recurrence) at a quarter of it, and trains best 20-50x below. One curve cannot tell these
apart; a short training at constant rates can. :func:`steady` trains candidate rates as one
population from the same weights and batches for :data:`HORIZON` optimizer steps and reads
each one's training loss: a candidate whose running mean (over :data:`WINDOW` steps) rises
more than :data:`RISE` above its first window's mean (the loss it started from), or that
diverges, is unstable.

Stable for a hundred steps is not trained well for the full epochs (a rate a factor 1.5
below one that exploded after 150 steps may still wander), so the check mostly rules rates
out; what remains is weak evidence and is printed as such.

One shape raises a reading instead: a *catapult* (:func:`catapult`). The loss shoots up in
the first few steps (1.5x where it started or more: the rate is above what the starting
curvature allows) and settles back to its start within the first window, then stays: the
network moved to a flatter region where the rate is stable (Lewkowycz et al. 2020, "The
large learning rate phase of deep learning: the catapult mechanism"). Deep sigmoid layers
do this at a quarter of their break (2-5x) and train best at a third to half of it; no GRU,
LSTM, tanh RNN or deep tanh network measured did (their first steps stay within 21% of the
start). A catapult says the rate is stable past its first steps, not how close to the break
the network trains best (a GRU with a large output layer catapults too, and trains best
well below half its break), so the raise is modest
(:data:`~lrlab.search._task_range.RAISE`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from lrlab._once import warn_once
from lrlab.tasks import Task

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11

__all__ = ["CATAPULT", "HORIZON", "RISE", "WINDOW", "Curves", "Steady", "Training", "catapult",
           "peak_rise", "steady"]

#: Optimizer steps each candidate trains (at least; whole epochs, or one epoch on a subset).
#: The tanh RNNs measured showed a quarter of their break to be unstable after 75-110 steps;
#: at 60 none did.
HORIZON = 100

#: A candidate is unstable when its loss's running mean rises above its first window's mean
#: by more than this fraction of it. Over 114-128 steps a quarter of the break rose 7-29% on
#: the table's tanh RNN seeds where it trains badly (0-4%: where it trains well), at most
#: 1.3% on GRUs, LSTMs and deep sigmoid or tanh layers (25 runs, the table's and my own).
RISE = 0.05

#: Steps of the running mean; the first window (the start's transient) is not read.
WINDOW = 20

#: A loss that peaks within its first window at this multiple of its first step's loss, then
#: settles back, catapulted (:func:`catapult`). At a quarter of their break, 3 to 4 sigmoid
#: layers: 2.1-5.1x (10 of 11 runs, the benchmark's and scratch ones); GRUs, LSTMs, tanh RNNs
#: and 12 tanh layers: at most 1.21x (33 runs); a GRU whose output layer starts 5x larger
#: catapults as well.
CATAPULT = 1.5


def _running(x: np.ndarray, window: int) -> np.ndarray:
    """The running means of ``window`` steps, one per full window."""
    return np.convolve(x, np.ones(window) / window, mode="valid")


def peak_rise(losses: Sequence[float], window: int = WINDOW) -> float:
    """How far a training loss rose above where it started: with ``start`` the mean of its
    first ``window`` steps and ``mean`` the highest running mean of ``window`` steps from
    the window starting at step ``window`` on, ``(mean - start) / |start|``; ``inf`` when a
    loss is not finite (``window`` shrinks to a third of a shorter curve).

    Its own start, not the untrained model's validation loss: the same batches, the same
    train mode (dropout), and a first rise that settles again (deep sigmoid layers) is not
    read as instability.

    Example:
        >>> round(peak_rise([1.0] * 40 + [1.5] * 20, window=10), 3)
        0.5
    """
    x = np.asarray(losses, dtype=float)
    if not len(x) or not np.all(np.isfinite(x)):
        return math.inf
    w = max(1, min(window, len(x) // 3))
    means = _running(x, w)
    start = means[0]
    means = means[w:] if len(means) > w else means
    return float((means.max() - start) / abs(start)) if start else math.inf


def catapult(losses: Sequence[float], window: int = WINDOW) -> bool:
    """Whether a training loss catapulted: within its first ``window`` steps it peaked at
    :data:`CATAPULT` x its first step's loss or more, and every running mean of ``window``
    steps from step ``window`` on stays within :data:`RISE` of that first loss (it settled
    back where it started and stayed). ``False`` for a loss that is not finite, not
    positive at its first step, or shorter than two windows.

    Example:
        >>> catapult([1.0, 2.5, 4.0, 2.0] + [1.0] * 40, window=10)
        True
        >>> catapult([1.0, 2.5, 4.0, 2.0] + [1.2] * 40, window=10)   # did not settle
        False
    """
    x = np.asarray(losses, dtype=float)
    if len(x) < 2 * window or not np.all(np.isfinite(x)) or not x[0] > 0:
        return False
    means = _running(x, window)[window:]  # from step ``window`` on
    return bool(x[:window].max() >= CATAPULT * x[0] and means.max() <= (1 + RISE) * x[0])


@dataclass(frozen=True)
class Steady:
    """What the stability check saw.

    Attributes:
        lrs: the candidates trained, highest first.
        rises: per candidate, :func:`peak_rise` of its training loss (over its start).
        steps: optimizer steps each candidate trained.
        cost: member-epochs of the full training data the check cost.
        catapults: per candidate, whether its loss catapulted (:func:`catapult`; empty:
            not read).
        raised: the first candidate lies above the reading, tried because the reading
            catapulted; it counts as stable only when it catapulted too.
    """

    lrs: tuple[float, ...]
    rises: tuple[float, ...]
    steps: int
    cost: float
    catapults: tuple[bool, ...] = ()
    raised: bool = False

    @property
    def stable(self) -> tuple[bool, ...]:
        """Per candidate: whether its loss stayed within :data:`RISE` of its start (a raised
        candidate: and catapulted, settling back where it started)."""
        ok = [r <= RISE for r in self.rises]
        if self.raised:
            ok[0] = ok[0] and bool(self.catapults[:1]) and self.catapults[0]
        return tuple(ok)

    @property
    def lr(self) -> float:
        """The highest stable candidate; ``nan`` when none was."""
        ok = [lr for lr, s in zip(self.lrs, self.stable) if s]
        return max(ok) if ok else math.nan

    def then(self, other: Steady) -> Steady:
        """This check followed by ``other`` (lower candidates), as one."""
        flags = (self.catapults + other.catapults
                 if len(self.catapults) == len(self.lrs) and len(other.catapults) == len(other.lrs)
                 else ())
        return Steady(self.lrs + other.lrs, self.rises + other.rises, other.steps,
                      self.cost + other.cost, flags, self.raised)

    def text(self) -> str:
        """One clause per candidate: ``0.8 rose 9% (unstable)``; a raised candidate that held
        but did not catapult: ``2.8 never rose, no catapult (not taken)``."""
        def one(lr: float, rise: float, ok: bool, jumped: bool, up: bool) -> str:
            if not math.isfinite(rise):
                return f"{lr:.3g} diverged"
            how = f"rose {rise:.0%}" if rise > 0 else "never rose"
            if up and not jumped and rise <= RISE:  # held, but it stands only if it catapulted
                return f"{lr:.3g} {how}, no catapult (not taken)"
            verdict = "stable" if ok else "unstable"
            return f"{lr:.3g} {how}{', catapulted' if jumped else ''} ({verdict})"
        jumps = self.catapults if len(self.catapults) == len(self.lrs) else (False,) * len(self.lrs)
        ups = (self.raised,) + (False,) * (len(self.lrs) - 1)
        return ", ".join(one(*c) for c in zip(self.lrs, self.rises, self.stable, jumps, ups))


class Training(TypedDict, total=False):
    """How a check trains its rates (:func:`steady`, :func:`~lrlab.search._below.below`): as
    the range test before it trained. Left out: no hyperparameters, seed 0, the task's batch
    size, fit's device (CUDA when available), no clipping."""

    hparams: Mapping[str, float] | None
    seed: int
    batch_size: int | None
    device: str | None
    clip_grad_norm: float | None


@dataclass(frozen=True)
class Curves:
    """What a check's short training left: each member's per-step training losses, whether
    it diverged, the steps per member and the cost in member-epochs of the full data."""

    losses: list[np.ndarray]
    diverged: list[bool]
    steps: int
    cost: float


def _train(task: Task, lrs: Sequence[float], *, optimizer: str, horizon: int,
           **training: Unpack[Training]) -> Curves | None:
    """Train ``lrs`` on ``task`` as one population for at least ``horizon`` optimizer steps
    (whole epochs; one epoch on a stratified subset of ``horizon`` batches when an epoch is
    longer); ``None`` when the data has no length."""
    from lrlab.train import fit, plan_run, validated

    seed = training.get("seed", 0)
    extra = {k: v for k, v in training.items() if k != "seed" and v is not None}
    if "hparams" in extra:
        extra["hparams"] = dict(extra["hparams"])
    n = task.train_size
    config = validated(lrs=list(lrs), epochs=1, optimizer=optimizer, seed=seed,
                       record_steps=True, **extra)
    run = plan_run(task, config, config.members())
    per = run.steps_per_epoch
    if n is None or not per:
        return None
    used, epochs = task, math.ceil(horizon / per)
    if per > horizon:  # one epoch on as many examples as the horizon's batches hold
        used, epochs = task.subset(min(n, horizon * run.batch_size), seed=seed), 1
    config = config.model_copy(update={"epochs": epochs})
    result = fit(used, config.members(), config)
    losses = result.steps[result.steps["metric"] == "loss"]
    curves = [losses[losses["member"] == member].sort_values("step")["value"].to_numpy()
              for member in range(len(lrs))]
    diverged = (result.members["diverged"].to_numpy() if "diverged" in result.members
                else np.zeros(len(lrs), dtype=bool))
    steps = int(len(losses) / max(1, len(lrs)))
    cost = len(lrs) * epochs * (used.train_size or n) / n
    return Curves(curves, [bool(d) for d in diverged], steps, cost)


@warn_once()
def steady(task: Task, lrs: Sequence[float], *, optimizer: str = "sgd", horizon: int = HORIZON,
           **training: Unpack[Training]) -> Steady | None:
    """Train ``lrs`` on ``task`` as one population for at least ``horizon`` optimizer steps
    (whole epochs; one epoch on a stratified subset of ``horizon`` batches when an epoch is
    longer; the rest as :class:`Training` says) and measure how far each one's training loss
    rose above its start (:func:`peak_rise`).

    Returns:
        A :class:`Steady`, or ``None`` when the data has no length (the steps per epoch are
        not known).

    Example:
        >>> from lrlab.tasks import get_task
        >>> check = steady(get_task("blobs"), [1e-3], horizon=20)
        >>> check.steps >= 20, len(check.rises)
        (True, 1)
    """
    trained = _train(task, lrs, optimizer=optimizer, horizon=horizon, **training)
    if trained is None:
        return None
    rises = [math.inf if d else peak_rise(x) for x, d in zip(trained.losses, trained.diverged)]
    jumps = [catapult(x) and math.isfinite(r) for x, r in zip(trained.losses, rises)]
    return Steady(tuple(float(v) for v in lrs), tuple(rises), trained.steps, trained.cost,
                  tuple(jumps))
