"""Wilson & Martinez (2001): rule out the too-large rates, then go slower while it pays.

Phase 1 trains one epoch at rates of widely different magnitudes, all from the same initial
weights and order of presentation, and scores each by the SSE summed during that epoch; the
lowest is the "fastest" rate and every larger rate is dropped. Phase 2 trains at the fastest
rate and successively slower ones, each stopped by holdout accuracy, and stops going slower
once the best holdout accuracy no longer improves. On a regression task the SSE of phase 1
is the summed squared error (the paper defines it for any output) and phase 2 stops by the
holdout loss instead (lower is better). The decisions are pure functions of the records
(:func:`phase1_sse`, :func:`early_stop`, :func:`holdout_stops`, :func:`walk_slower`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import pandas as pd

from lrlab._checks import number, positive_rates, whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.search._common import (
    Callback,
    Plan,
    SearchResult,
    plan,
    rate,
)
from lrlab.search._common import rates_text as _rates
from lrlab.search._confidence import (
    Confidence,
    assess,
    baseline,
    learned_mask,
    scored_table,
)
from lrlab.search._findings import Finding
from lrlab.tasks import Task
from lrlab.train import SweepResult

__all__ = ["FASTEST_LRS", "FastestReplay", "FastestResult", "Walk", "early_stop", "fastest",
           "fastest_of", "holdout_stops", "phase1_sse", "replay_fastest", "slower_rates",
           "walk_slower"]

#: Phase 1's default rates: widely different magnitudes, a decade apart.
FASTEST_LRS = (10.0, 1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5)


@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class FastestResult(SearchResult):
    """What :func:`fastest` found (``evidence``: phase 1, then each phase-2 population).

    Attributes:
        stop_epoch: the epoch to stop training at ``lr`` (its best holdout accuracy).
        fastest_lr: phase 1's winner, the largest rate phase 2 tried.
        sse: per phase-1 rate (largest first): ``lr``, ``sse`` (summed over the epoch),
            ``diverged`` and ``status`` (``fastest``, ``dropped``, ``kept``).
        phase2: per phase-2 rate (fastest first): ``lr``, ``best_accuracy`` (a
            regression: ``best_loss``), ``best_epoch``, ``stopped_epoch``, ``population``
            (index into ``evidence``) and ``walked`` (whether the one-rate-at-a-time
            procedure would have trained it).
    """

    procedure: ClassVar[str] = "fastest"
    stop_epoch: int
    fastest_lr: float
    sse: pd.DataFrame
    phase2: pd.DataFrame

    def verdict(self) -> str:
        """One line: the rate and the epoch to stop at."""
        row = self.phase2[self.phase2["lr"] == self.lr].iloc[0]
        metric = "accuracy" if "best_accuracy" in self.phase2 else "loss"
        return (f"fastest: lr={rate(self.lr)}, stop at epoch {self.stop_epoch} (validation "
                f"{metric} {row[f'best_{metric}']:.4f}; fastest rate {rate(self.fastest_lr)}"
                f"{self.sureness()})")


def phase1_sse(records: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Each member's training SSE summed over epoch 1, largest rate first.

    Args:
        records: a population's tidy records (``member, epoch, split, metric, value``).
        members: its members table (``member, lr, diverged``).

    Returns:
        ``lr, sse, diverged, score``: ``score`` is the SSE, or ``inf`` for a member that
        diverged or has no finite SSE (the worst).
    """
    rows = records[(records["split"] == "train") & (records["metric"] == "sse")
                   & (records["epoch"] == 1)]
    sse = rows.set_index("member")["value"].reindex(members["member"])
    out = pd.DataFrame({"lr": members["lr"].to_numpy(float), "sse": sse.to_numpy(float),
                        "diverged": members["diverged"].to_numpy(bool)})
    bad = out["diverged"] | ~out["sse"].apply(math.isfinite)
    out["score"] = out["sse"].where(~bad, math.inf)
    return out.sort_values("lr", ascending=False, kind="stable").reset_index(drop=True)


def fastest_of(table: pd.DataFrame) -> float:
    """The lowest-SSE rate of :func:`phase1_sse` (ties: the smaller rate)."""
    if not table["score"].apply(math.isfinite).any():
        raise LrlabError(f"fastest: every phase-1 rate diverged ({_rates(table['lr'])}); "
                         "try smaller learning rates")
    return float(table.sort_values(["score", "lr"], kind="stable").iloc[0]["lr"])


def early_stop(accuracy: Sequence[float], patience: int) -> tuple[int | None, float, int]:
    """Stop by holdout accuracy: after ``patience`` epochs without a strict improvement.

    Args:
        accuracy: validation accuracy after epochs 1, 2, ... (NaN never improves).
        patience: epochs without improvement before stopping.

    Returns:
        ``(best_epoch, best_accuracy, stopped_epoch)``; ``(None, nan, n)`` if no epoch had a
        finite accuracy.

    Example:
        >>> early_stop([0.5, 0.7, 0.7, 0.6, 0.8], patience=2)
        (2, 0.7, 4)
    """
    best, best_epoch, since, stopped = -math.inf, None, 0, len(accuracy)
    for epoch, value in enumerate(accuracy, start=1):
        if value > best:
            best, best_epoch, since = float(value), epoch, 0
            continue
        since += 1
        if since >= patience:
            stopped = epoch
            break
    return best_epoch, (best if best_epoch else math.nan), stopped


def holdout_stops(records: pd.DataFrame, members: pd.DataFrame, patience: int,
                  metric: str = "accuracy") -> pd.DataFrame:
    """:func:`early_stop` applied to each member's validation ``metric`` records
    (``"accuracy"``, higher is better, or ``"loss"``, lower is better).

    Returns:
        one row per member: ``member, lr, best_<metric>, best_epoch, stopped_epoch``.
    """
    val = records[(records["split"] == "val") & (records["metric"] == metric)]
    sign = -1.0 if metric == "loss" else 1.0
    rows = []
    for member, lr in zip(members["member"], members["lr"]):
        curve = val[val["member"] == member].sort_values("epoch")["value"].tolist()
        best_epoch, best, stopped = early_stop([sign * v for v in curve], patience)
        rows.append({"member": int(member), "lr": float(lr), f"best_{metric}": sign * best,
                     "best_epoch": best_epoch, "stopped_epoch": stopped})
    table = pd.DataFrame(rows)
    table["best_epoch"] = table["best_epoch"].astype("Int64")
    return table


class Walk(NamedTuple):
    """Where the walk to slower rates ended: ``chosen`` and ``trained`` index the rates in
    walk order; ``stopped`` is False when the rates ran out before accuracy stopped rising."""

    chosen: int
    trained: int
    stopped: bool


def walk_slower(best_accuracy: Sequence[float], *, higher_is_better: bool = True) -> Walk:
    """Go slower while the best holdout score improves on the previous (faster) rate.

    Example:
        >>> walk_slower([0.80, 0.85, 0.84, 0.90])
        Walk(chosen=1, trained=3, stopped=True)
        >>> walk_slower([0.5, 0.3, 0.4], higher_is_better=False)
        Walk(chosen=1, trained=3, stopped=True)
    """
    if not best_accuracy:
        raise LrlabError("walk_slower needs at least one rate's best accuracy")
    sign = 1.0 if higher_is_better else -1.0
    score = [sign * v if math.isfinite(v) else -math.inf for v in best_accuracy]
    for i in range(1, len(score)):
        if not score[i] > score[i - 1]:
            return Walk(chosen=i - 1, trained=i + 1, stopped=True)
    return Walk(chosen=len(score) - 1, trained=len(score), stopped=False)


@dataclass(frozen=True, eq=False)
class FastestReplay:
    """The procedure's decisions recomputed from its populations' records alone.

    Attributes:
        sse: phase 1 per rate, largest first (:func:`phase1_sse`: ``lr, sse, diverged,
            score``).
        fastest_lr: the lowest-SSE rate (:func:`fastest_of`).
        phase2: every phase-2 member in walk order (:func:`holdout_stops`).
        walk: where going slower stopped (:func:`walk_slower`).
        lr: the rate the walk chose.
    """

    sse: pd.DataFrame
    fastest_lr: float
    phase2: pd.DataFrame
    walk: Walk
    lr: float


def replay_fastest(phase1: SweepResult, phase2: Sequence[SweepResult], *,
                   patience: int) -> FastestReplay:
    """:func:`fastest`'s decisions read again from the records of its populations (its
    ``evidence``, or the same runs loaded from files): phase 1's SSE table and fastest rate,
    phase 2's holdout stops, the walk to slower rates and the chosen rate."""
    sse = phase1_sse(phase1.records, phase1.members)
    table = pd.concat([holdout_stops(r.records, r.members, patience) for r in phase2],
                      ignore_index=True)
    walk = walk_slower(table["best_accuracy"].tolist())
    return FastestReplay(sse=sse, fastest_lr=fastest_of(sse), phase2=table, walk=walk,
                         lr=float(table.iloc[walk.chosen]["lr"]))


def slower_rates(fastest_lr: float, factor: float, floor: float) -> list[float]:
    """``fastest_lr * factor**i`` (3 significant digits) for ``i = 0, 1, ...`` down to ``floor``.

    Example:
        >>> slower_rates(0.1, 10 ** -0.5, 1e-3)
        [0.1, 0.0316, 0.01, 0.00316, 0.001]
    """
    count = math.floor(math.log(floor / fastest_lr) / math.log(factor) + 1e-9) + 1
    return [float(f"{fastest_lr * factor ** i:.3g}") for i in range(max(1, count))]


def _check(lrs: Sequence[float], factor: float, patience: int, max_epochs: int | None,
           parallel: int) -> list[float]:
    lrs = positive_rates("fastest lrs", lrs)
    number("factor", factor, low=0.0, strict=True)
    if factor >= 1:
        raise LrlabError(f"factor must be in (0, 1): each slower rate is factor x the last, "
                         f"got {factor!r} (try 0.316 or 0.5)")
    whole("patience", patience, low=1)
    if max_epochs is not None:
        whole("max_epochs", max_epochs, low=1)
    whole("parallel", parallel, low=1)
    return lrs


def _status(lr: float, diverged: bool, fastest_lr: float) -> str:
    if lr == fastest_lr:
        return "fastest"
    if lr > fastest_lr:
        return "dropped (larger, diverged)" if diverged else "dropped (larger)"
    return "slower (diverged)" if diverged else "slower"


def _phase2(p: Plan, rates: list[float], max_epochs: int, patience: int,
            parallel: int, metric: str) -> tuple[list[SweepResult], pd.DataFrame]:
    """Train ``rates`` ``parallel`` at a time until :func:`walk_slower` stops."""
    populations, tables = [], []
    for start in range(0, len(rates), parallel):
        result = p.train(rates[start:start + parallel], epochs=max_epochs)
        populations.append(result)
        tables.append(holdout_stops(result.records, result.members, patience, metric)
                      .assign(population=len(populations)))
        if walk_slower(pd.concat(tables)[f"best_{metric}"].tolist(),
                       higher_is_better=metric != "loss").stopped:
            break
    return populations, pd.concat(tables, ignore_index=True).drop(columns="member")


@warn_once()
def fastest(task: Task | str, *, lrs: Sequence[float] = FASTEST_LRS, factor: float = 10 ** -0.5,
            patience: int = 10, max_epochs: int | None = None, parallel: int = 3,
            epochs: int | None = None, optimizer: str = "sgd", seed: int = 0,
            subset: float | None = None, confirm: bool = False,
            callbacks: Sequence[Callback] = (), **settings: Any) -> FastestResult:
    """Wilson & Martinez' procedure: find the fastest rate, then go slower while it pays.

    1. One epoch at each of ``lrs`` as one population (same weights, same order); each is
       scored by its training SSE summed over that epoch (``sse`` of the train split,
       epoch 1); diverged members score worst. The lowest is the fastest rate; every larger
       rate is dropped.
    2. Train the fastest rate and slower ones, each ``factor`` times the last (default
       ``1/sqrt(10)``: two rates a decade, the paper's 0.1, 0.05, 0.01, 0.005 spacing), down
       to ``min(lrs)``, for up to ``max_epochs`` epochs each. Each run is stopped by holdout
       accuracy (:func:`early_stop`: ``patience`` epochs without a rise) at its best epoch.
       Going slower stops at the first rate whose best accuracy does not beat the previous
       rate's (:func:`walk_slower`); the previous rate wins. The next ``parallel`` rates
       train together as one population; each member's stop is read from its own records,
       so the verdict is the one-rate-at-a-time procedure's, but a population trains every
       member for ``max_epochs`` (all counted in ``compute``).

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task's name (a regression task
            stops by holdout loss).
        lrs: phase 1's rates, of widely different magnitudes.
        factor: the ratio between successive phase-2 rates, in (0, 1).
        patience: epochs without a rise in holdout accuracy before a run stops, >= 1.
        max_epochs: the longest a phase-2 run trains (default: ``epochs``).
        parallel: how many phase-2 rates train at once, >= 1.
        epochs, optimizer, seed, subset, confirm, callbacks, **settings: as
            :func:`~lrlab.search.grid`.

    Returns:
        a :class:`FastestResult`: ``lr``, ``stop_epoch``, the phase-1 ``sse`` per rate, ...

    Example:
        >>> result = fastest("blobs", lrs=[10, 1, 0.1], max_epochs=5, patience=2)
        >>> result.stop_epoch <= 5
        True

    Reference: Wilson & Martinez 2001, "The need for small learning rates on large problems".
    """
    lrs = _check(lrs, factor, patience, max_epochs, parallel)
    p = plan("fastest", task, subset=subset, epochs=epochs, optimizer=optimizer, seed=seed,
             callbacks=callbacks, settings=settings)
    metric = "accuracy" if p.task.num_classes is not None else "loss"
    phase1 = p.train(lrs, epochs=1)
    sse = phase1_sse(phase1.records, phase1.members)
    fast = fastest_of(sse)
    sse["status"] = [_status(lr, d, fast) for lr, d in zip(sse["lr"], sse["diverged"])]
    populations, table = _phase2(p, slower_rates(fast, factor, min(lrs)),
                                 max_epochs or p.epochs, patience, parallel, metric)
    walk = walk_slower(table[f"best_{metric}"].tolist(), higher_is_better=metric != "loss")
    table["walked"] = table.index < walk.trained
    chosen = table.iloc[walk.chosen]
    if pd.isna(chosen["best_epoch"]):
        raise LrlabError(f"fastest: phase 2 at {rate(fast)} and slower gave no finite "
                         f"validation {metric}; try smaller learning rates")
    lr = float(chosen["lr"])
    confidence = _confidence(p, populations, table, walk, lr, metric)
    return FastestResult(
        lr=lr, evidence=(phase1, *populations),
        explanation=confidence.explained(_explain(sse, table, walk, fast, factor, patience,
                                                  max_epochs or p.epochs, metric)),
        confidence=confidence,
        compute=sum(p.cost(r) for r in (phase1, *populations)),
        confirmation=p.confirm(lr) if confirm else None, stop_epoch=int(chosen["best_epoch"]),
        fastest_lr=fast, sse=sse.drop(columns="score"), phase2=table)


def _confidence(p: Plan, populations: list[SweepResult], table: pd.DataFrame, walk: Walk,
                lr: float, metric: str) -> Confidence:
    """The pick against the walked rates: scores are phase 2's best holdout ``metric``."""
    walked = table[table["walked"]]
    frames = [scored_table(r.summary(), r.monitor) for r in populations]
    diverged = pd.concat(frames).set_index("lr")["diverged"]
    t = pd.DataFrame({"lr": walked["lr"].to_numpy(float),
                      "score": walked[f"best_{metric}"].to_numpy(float),
                      "final": walked[f"best_{metric}"].to_numpy(float),
                      "diverged": [bool(diverged.get(v, False)) for v in walked["lr"]]})
    task = p.task.replace(monitor=metric)
    base = baseline(task, p.seed)
    chance = base.chance
    slowest = Finding(f"the score still improved at {rate(lr)}, the slowest rate tried: add "
                      "smaller lrs", "slowest_improving")
    extra = () if walk.stopped else (slowest,)
    noise = base.noise(chance, metric)
    if not learned_mask(t, higher_is_better=metric != "loss", chance=chance, noise=noise).any():
        # then phase 1 ranked noise, and neither direction of its walk can help
        nothing = Finding("no rate learned: phase 1's one epoch cannot rank rates that need "
                          "longer to move off chance; search with several epochs per rate "
                          "instead (lrlab grid or auto)", "no_rate_learned")
        extra = (nothing,)
    return assess(t, lr, higher_is_better=metric != "loss", chance=chance, monitor=metric,
                  n=base.score_n, extra=extra, binomial=base.binomial)


def _explain(sse: pd.DataFrame, table: pd.DataFrame, walk: Walk, fast: float, factor: float,
             patience: int, max_epochs: int, metric: str = "accuracy") -> str:
    best_sse = sse.loc[sse["lr"] == fast, "sse"].iloc[0]
    text = (f"Phase 1 trained one epoch at each of {_rates(sse['lr'])} from the same initial "
            f"weights and example order; {rate(fast)} summed the lowest training SSE "
            f"({best_sse:.4g}), so it is the fastest rate.")
    larger = sse[sse["lr"] > fast]
    if len(larger):
        gone = larger[larger["diverged"]]["lr"]
        text += (f" Dropped as larger: {_rates(larger['lr'])}"
                 + (f" ({_rates(gone)} diverged)." if len(gone) else "."))
    walked = table[table["walked"]]
    seen = ", ".join(f"{rate(r['lr'])}: {r[f'best_{metric}']:.4f} at epoch {r['best_epoch']}"
                     for _, r in walked.iterrows())
    change = "a rise in validation accuracy" if metric == "accuracy" else "a fall in validation loss"
    text += (f" Phase 2 trained {rate(fast)} and rates {1 / factor:.3g}x slower for up to "
             f"{max_epochs} epochs, each stopped after {patience} epochs without {change}; "
             f"best {metric} {seen}.")
    chosen = table.iloc[walk.chosen]
    stop = f"lr={rate(chosen['lr'])}, stop at epoch {chosen['best_epoch']}"
    if walk.stopped:
        nxt = table.iloc[walk.trained - 1]
        text += (f" {rate(nxt['lr'])} did not improve on {rate(chosen['lr'])}, so going slower "
                 f"stopped: {stop}.")
    else:
        text += (f" The score still improved at {rate(chosen['lr'])}, the slowest rate tried (the "
                 f"smallest phase-1 rate): {stop}; add smaller lrs to go further.")
    extra = len(table) - walk.trained
    if extra:
        text += f" ({extra} slower rate(s) trained alongside were not needed.)"
    return text
