"""Start large and halve (Karpathy, cs231n): the largest rate whose loss does not diverge.

On a small subset, every halving ``start, start/2, start/4, ...`` down to ``min_lr`` trains
as one population for a few iterations; the chosen rate is the largest that did not
diverge, with a schedule that decays it by about ``decay`` (100x) over the full training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from lrlab._checks import number, whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.schedules import parse_schedule
from lrlab.search._common import Callback, Plan, SearchResult, examples, plan, rate
from lrlab.tasks import Task
from lrlab.train import MAX_EPOCHS, SweepResult, mean_loss

__all__ = ["HalvingResult", "halving", "halving_table", "halvings", "subset_losses"]

#: The share of the largest loss fall a halving must reach to count as not diverging.
PROGRESS = 0.5

@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class HalvingResult(SearchResult):
    """What :func:`halving` found.

    Attributes:
        schedule: the proposed schedule as a spec (``"exp:decay=100"``; see
            :func:`lrlab.schedules.parse_schedule`), to be built with ``lr``.
        schedule_description: the schedule in words, with its start and end rates.
        rates: per halving (largest first): ``lr``, ``start_loss`` and ``end_loss`` (over
            the search examples, at the initial weights and after the run), ``frozen``
            (stopped by the population) and ``diverged`` (frozen, or the loss did not fall).
        steps: optimizer steps each member trained.
        examples: the training examples searched on.
    """

    procedure: ClassVar[str] = "halving"
    schedule: str
    schedule_description: str
    rates: pd.DataFrame
    steps: int
    examples: int

    def verdict(self) -> str:
        """One line: the rate and the schedule."""
        return (f"halving: lr={rate(self.lr)} (largest of {len(self.rates)} halvings not "
                f"diverging in {self.steps} steps); schedule {self.schedule}")


def halvings(start: float, min_lr: float) -> list[float]:
    """``start / 2**i`` for ``i = 0, 1, ...`` while at least ``min_lr``.

    Example:
        >>> halvings(1.0, 0.1)
        [1.0, 0.5, 0.25, 0.125]
    """
    count = math.floor(math.log2(start / min_lr) + 1e-9) + 1
    return [start / 2 ** i for i in range(count)]


def halving_table(members: pd.DataFrame, start_loss: float, end_loss: Sequence[float], *,
                  progress: float = PROGRESS) -> pd.DataFrame:
    """Which members diverged.

    A member diverged if the population froze it (``members["diverged"]``: NaN/Inf, or a
    batch loss beyond ``divergence_factor`` times its first), or if its loss over the search
    examples did not go down, or if it is larger than the rate with the largest fall and fell
    by less than ``progress`` of that fall
    (``start_loss - end_loss < progress * (start_loss - min(end_loss))``), ``start_loss``
    being the loss over the same examples at the initial weights every member shared. A rate
    that bounces the loss down a little while smaller rates bring it far down is not
    training: it is at the edge of divergence. Rates *below* the best one that move the loss
    little are merely slow, not diverged.

    Args:
        members: the members table (``member, lr, diverged``), in member order.
        start_loss: the mean loss over the search examples at the initial weights.
        end_loss: each member's mean loss over the same examples after the run.
        progress: the share of the best member's fall a rate must reach, in [0, 1).

    Returns:
        ``lr, start_loss, end_loss, progress, frozen, diverged``, largest rate first;
        ``progress`` is each member's fall as a share of the largest.

    Example:
        >>> members = pd.DataFrame({"member": [0, 1, 2], "lr": [2.0, 1.0, 0.5],
        ...                         "diverged": [False, False, False]})
        >>> halving_table(members, 2.3, [2.2, 1.1, 1.3])["diverged"].tolist()
        [True, False, False]
    """
    end = np.asarray(end_loss, dtype=float)
    lrs = members["lr"].to_numpy(float)
    frozen = members["diverged"].to_numpy(bool)
    fall = np.where(frozen | ~np.isfinite(end), -np.inf, start_loss - end)
    best = float(fall.max()) if len(fall) else 0.0
    share = fall / best if best > 0 else np.full_like(fall, np.nan)
    above = lrs > lrs[int(np.argmax(fall))] if len(fall) else np.zeros(0, bool)
    with np.errstate(invalid="ignore"):  # below the best rate, a small fall is slowness
        enough = (fall > 0) & ((fall >= progress * best) | ~above)
    table = pd.DataFrame({"lr": members["lr"].to_numpy(float), "start_loss": float(start_loss),
                          "end_loss": end, "progress": np.where(np.isfinite(share), share,
                                                                np.nan),
                          "frozen": frozen, "diverged": frozen | ~enough})
    return table.sort_values("lr", ascending=False, kind="stable").reset_index(drop=True)


def _mean_loss(module: torch.nn.Module, task: Task, seed: int) -> float:
    """The float64 mean loss of ``module`` over ``task``'s training examples (what it draws
    drawn from ``seed``)."""
    return mean_loss(module.double(), task, task.train, seed=seed)


def subset_losses(result: SweepResult, task: Task, seed: int) -> tuple[float, np.ndarray]:
    """The loss over ``task``'s training examples at the initial weights (the model built
    under ``seed``, as :func:`lrlab.train.fit` builds it), and each member's at the end.

    Both are computed the same way (float64, one module at a time), so a rate too small to
    move the weights is not mistaken for one that raised the loss.
    """
    initial = task.init_model(seed)
    pop = result.population
    end = [_mean_loss(pop.member_module(k), task, seed) for k in range(pop.members)]
    return _mean_loss(initial, task, seed), np.array(end)


def _check(start: float, min_lr: float, iterations: int, decay: float,
           progress: float) -> None:
    number("start", start, low=0.0, strict=True)
    number("min_lr", min_lr, low=0.0, strict=True)
    if start <= min_lr:
        raise LrlabError(f"start={start:g} must be above min_lr={min_lr:g}: the rate is "
                         "halved from start down to min_lr")
    whole("iterations", iterations, low=2, high=MAX_EPOCHS)  # as many epochs at worst
    number("decay", decay, low=1.0, strict=True)
    number("progress", progress, low=0.0)
    if progress >= 1:
        raise LrlabError(f"progress must be below 1 (a share of the largest loss fall), "
                         f"got {progress:g}")


def _search_plan(p: Plan, iterations: int) -> tuple[Plan, int]:
    """At most ``iterations * batch_size`` examples, and the epochs that give ``iterations``
    steps (one epoch when the subset holds that many, else more passes over it)."""
    cap = iterations * p.batch_size
    if examples(p.task) > cap:
        p = dataclasses.replace(p, task=p.full.subset(cap, seed=p.seed))
    per_epoch = math.ceil(examples(p.task) / p.batch_size)
    return p, math.ceil(iterations / per_epoch)


def _span(values: Sequence[float]) -> str:
    values = list(values)
    if len(values) <= 4:
        return ", ".join(rate(v) for v in values)
    return f"{rate(values[0])} down to {rate(values[-1])} ({len(values)} rates)"


@warn_once()
def halving(task: Task | str, *, start: float = 10.0, min_lr: float = 1e-7,
            subset: float | None = 0.1, iterations: int = 50, decay: float = 100.0,
            progress: float = PROGRESS, epochs: int | None = None, optimizer: str = "sgd", seed: int = 0,
            confirm: bool = False, callbacks: Sequence[Callback] = (),
            **settings: Any) -> HalvingResult:
    """Start with a large rate and halve it until the loss no longer diverges.

    Every halving ``start, start/2, ...`` down to ``min_lr`` trains as one population (same
    weights and order) for about ``iterations`` steps on a subset: the search trains on at
    most ``iterations * batch_size`` examples of ``subset``, so that one epoch is
    ``iterations`` steps (a smaller subset is passed over again until ``iterations`` steps,
    rounded up to whole epochs). A rate diverges as :func:`halving_table` defines; the
    chosen rate is the largest that does not. The proposed schedule is ``exp:decay=<decay>``:
    ``lr * exp(-k t)`` with ``k = ln(decay) / epochs`` per epoch, so the rate falls by
    ``decay`` (about 100x) over the planned training.

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name.
        start: the first (largest) rate; min_lr: the smallest halving tried (< start).
        subset: the search's share of the training data (count or fraction; default 10%).
        iterations: steps per member (>= 2).
        decay: the total decay of the proposed schedule over ``epochs`` (> 1).
        progress: a halving that brings the loss down by less than this share of the
            largest fall is counted as diverging (see :func:`halving_table`), in [0, 1).
        epochs: the planned training length (default: the task's).
        optimizer, seed, confirm, callbacks, **settings: as :func:`~lrlab.search.grid`;
            ``confirm`` trains ``lr`` with the schedule on all the data for ``epochs``.

    Returns:
        a :class:`HalvingResult`.

    Example:
        >>> result = halving("blobs", start=100.0, min_lr=1e-3, iterations=10)
        >>> result.schedule
        'exp:decay=100'

    Reference: Karpathy, cs231n "Neural Networks Part 3: Learning and Evaluation".
    """
    _check(start, min_lr, iterations, decay, progress)
    p = plan("halving", task, subset=subset, epochs=epochs, optimizer=optimizer, seed=seed,
             callbacks=callbacks, settings=settings)
    p, search_epochs = _search_plan(p, iterations)
    result = p.train(halvings(start, min_lr), epochs=search_epochs)
    table = halving_table(result.members, *subset_losses(result, p.task, p.seed),
                          progress=progress)
    steps = search_epochs * math.ceil(examples(p.task) / p.batch_size)
    ok = table[~table["diverged"]]
    if ok.empty:
        raise LrlabError(f"halving: every rate from {start:g} down to {min_lr:g} diverged in "
                         f"{steps} steps; lower min_lr")
    lr = float(ok.iloc[0]["lr"])
    spec = f"exp:decay={decay:g}"
    parse_schedule(spec).build(lr, epochs=p.epochs)  # the spec must build
    description = (f"exponential decay lr(t) = {rate(lr)} * exp(-k t), k = ln({decay:g}) / "
                   f"{p.epochs} per epoch: from {rate(lr)} to {rate(lr / decay)} over "
                   f"{p.epochs} epochs ({decay:g}x)")
    return HalvingResult(
        lr=lr, evidence=(result,),
        explanation=_explain(table, lr, steps, examples(p.task), p, description, progress),
        compute=p.cost(result), confirmation=p.confirm(lr, schedules=[spec]) if confirm else None,
        schedule=spec, schedule_description=description, rates=table, steps=steps,
        examples=examples(p.task))


def _explain(table: pd.DataFrame, lr: float, steps: int, examples: int, p: Plan,
             description: str, progress: float) -> str:
    factor = p.settings.get("divergence_factor", 1e3)
    bound = f"a batch loss beyond {factor:g}x its first" if factor else "only NaN/Inf"
    text = (f"Trained the halvings {_span(table['lr'])} as one population from the same "
            f"weights, {steps} steps each (batch {p.batch_size}) on {examples} training "
            f"examples. A rate diverges if the population froze it (NaN/Inf, or {bound}) or "
            f"its loss over those examples fell by less than {progress:g} of the largest fall "
            f"(from {table['start_loss'].iloc[0]:.4g} at the initial weights to "
            f"{table['end_loss'].min():.4g}).")
    above = table[table["lr"] > lr]
    if len(above):
        frozen = above[above["frozen"]]["lr"]
        text += (f" {_span(above['lr'])} diverged"
                 + (f" ({len(frozen)} frozen by the population)." if len(frozen) else "."))
    row = table[table["lr"] == lr].iloc[0]
    text += (f" {rate(lr)} is the largest that did not (loss {row['start_loss']:.4g} -> "
             f"{row['end_loss']:.4g}), so lr={rate(lr)}. Proposed schedule: {description}.")
    return text
