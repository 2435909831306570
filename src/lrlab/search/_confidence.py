"""How sure a search is: the untrained model's score, the noise of a score, and the pick.

A search that ranks rates by a validation score can be fooled three ways: every rate learned
nothing and one of the ties wins; two rates differ by less than the validation set can tell
apart and the larger wins; or the race is too short to show that the winner collapses later.
This module holds the pure rules that guard against those, and the :class:`Confidence` every
search result carries:

* **chance**: the score of a model that learned nothing: the untrained model's validation
  score (:func:`untrained_score`), and for accuracy at least the largest class's share of
  the validation set, for AUC at least 0.5.
* **noise** of a score ``s`` on ``n`` validation examples (:func:`score_noise`): for a
  share (accuracy, error, AUC) the binomial standard error ``sqrt(p (1 - p) / n)`` with
  ``p`` clipped to ``[0.02, 0.98]``; for a loss, ``|s| / sqrt(n)`` (a loss's standard error
  is a multiple of its size over ``sqrt(n)``).
* **learned**: better than chance by more than twice the noise at chance, and not diverged.
* **the pick** (:func:`choose`): among the rates that learned, the best; then, walking down
  to lower rates, the lowest one still within the noise of the best: a tie goes to the
  lower rate, which a short race handicaps and a long training rewards.
* **warnings** (:func:`assess`): a tie with the runner-up, no rate learned, the pick's next
  higher rate (at most half a decade up) diverged or collapsed (its final score back at
  chance), the pick at an edge
  of the searched rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from lrlab.data import num_examples
from lrlab.tasks import Split, Task

__all__ = ["Choice", "Confidence", "assess", "chance_score", "choose", "score_noise",
           "untrained_score", "val_size"]

#: A candidate learned when it beats chance by this many noise units.
LEARNED = 2.0

#: A higher rate at most this factor above the pick is its neighbour (half a decade).
NEIGHBOUR = 10 ** 0.5 * 1.01

_SHARES = ("accuracy", "error", "auc")


def score_noise(score: float, monitor: str, n: int) -> float:
    """The noise of one validation score on ``n`` examples (see the module docstring).

    Example:
        >>> round(score_noise(0.5, "accuracy", 100), 3), round(score_noise(0.2, "loss", 400), 3)
        (0.05, 0.01)
    """
    if not math.isfinite(score):
        return math.inf
    if monitor in _SHARES:
        p = min(max(score, 0.02), 0.98)
        return math.sqrt(p * (1 - p) / n)
    return abs(score) / math.sqrt(n)


def val_size(task: Task) -> int:
    """Validation examples: the split's rows, a Dataset's or a DataLoader's dataset's length
    (1000 when the data cannot say, an iterable dataset)."""
    if isinstance(task.val, Split):
        return len(task.val)
    n = num_examples(task.val)  # a DataLoader's len() counts batches, not examples
    return 1000 if n is None else n


def untrained_score(task: Task, seed: int) -> float:
    """The validation ``task.monitor`` of the model as initialised from ``seed`` (``nan``
    for a task whose data is a Dataset or DataLoader, or whose monitor is one of its own
    metrics: chance is then not checked)."""
    from lrlab.metrics import EpochMetrics

    if not task.in_memory or task.monitor in task.metrics:
        return math.nan

    model = task.init_model(seed)
    model.eval()
    metrics = EpochMetrics(1, num_classes=task.num_classes, auc=task.monitor == "auc")
    x = task.val.x if not task.val.x.is_floating_point() else task.val.x.to(torch.float32)
    with torch.no_grad():
        for xb, yb in zip(x.split(4096), task.val.y.split(4096)):
            out = model(xb).unsqueeze(0)
            metrics.update(out, yb, task.loss(out, yb))
    value = float(metrics.compute()[task.monitor][0])
    return value


def chance_score(task: Task, untrained: float) -> float:
    """The score of a model that learned nothing: the untrained one's, or the majority
    class's accuracy (0.5 for AUC) when that is better."""
    if not math.isfinite(untrained):
        return untrained
    if task.monitor == "accuracy" and task.num_classes is not None:
        counts = torch.bincount(task.val.y.reshape(-1).long(), minlength=task.num_classes)
        return max(untrained, float(counts.max()) / int(counts.sum()))
    if task.monitor == "error" and task.num_classes is not None:
        counts = torch.bincount(task.val.y.reshape(-1).long(), minlength=task.num_classes)
        return min(untrained, 1 - float(counts.max()) / int(counts.sum()))
    if task.monitor == "auc":
        return max(untrained, 0.5)
    return untrained


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` decided.

    Attributes:
        lr: the pick (the best raced rate when none learned).
        best_lr: the best-scoring rate that learned (``nan`` when none did).
        learned: the rates that learned, increasing.
        tied: the rates within the noise of the best that the pick walked down through.
    """

    lr: float
    best_lr: float
    learned: tuple[float, ...]
    tied: tuple[float, ...]


def _better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def learned_mask(table: pd.DataFrame, *, higher_is_better: bool, chance: float, noise: float
                 ) -> np.ndarray:
    """Per row of ``table`` (``lr``, ``score``, ``diverged``): whether it learned."""
    sign = 1.0 if higher_is_better else -1.0
    score = table["score"].to_numpy(float)
    ok = np.isfinite(score) & ~table["diverged"].to_numpy(bool)
    if not math.isfinite(chance):  # chance unknown (a loader task): every finite score
        return ok
    return ok & (sign * (score - chance) > LEARNED * noise)


def choose(table: pd.DataFrame, *, higher_is_better: bool, chance: float, monitor: str,
           n: int) -> Choice:
    """The pick among raced rates (see the module docstring).

    Args:
        table: one row per rate: ``lr``, ``score`` (best validation monitor), ``diverged``.
        higher_is_better: whether a larger score is better.
        chance: the score of a model that learned nothing (:func:`chance_score`).
        monitor: the score's metric name (for :func:`score_noise`).
        n: validation examples.

    Example:
        >>> t = pd.DataFrame({"lr": [0.01, 0.1, 1.0], "score": [0.80, 0.905, 0.91],
        ...                   "diverged": [False, False, False]})
        >>> choose(t, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000).lr
        0.1
    """
    t = table.sort_values("lr").reset_index(drop=True)
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n))
    scores = t["score"].to_numpy(float)
    if not ok.any():
        finite = np.where(np.isfinite(scores), scores, -np.inf if higher_is_better else np.inf)
        i = int(np.argmax(finite) if higher_is_better else np.argmin(finite))
        return Choice(float(t["lr"][i]), math.nan, (), ())
    idx = np.flatnonzero(ok)
    best = int(idx[np.argmax(scores[idx])] if higher_is_better else idx[np.argmin(scores[idx])])
    band = score_noise(scores[best], monitor, n)
    pick, tied = best, []
    for j in range(best - 1, -1, -1):  # walk down while the lower rate ties the best
        if not ok[j] or abs(scores[j] - scores[best]) > band:
            break
        pick = j
        tied.append(float(t["lr"][j]))
    return Choice(float(t["lr"][pick]), float(t["lr"][best]),
                  tuple(float(v) for v in t["lr"][ok]), tuple(tied))


@dataclass(frozen=True)
class Confidence:
    """How sure a search is of its pick.

    Attributes:
        margin: the pick's score minus the best other rate's (positive: the pick is ahead;
            in the monitor's units, sign turned so that positive is better).
        noise: the noise of the pick's score (:func:`score_noise`).
        runner_up: the best other rate (``nan`` if none).
        chance: the score of a model that learned nothing.
        warnings: one line per weakness of the evidence (empty: none).
    """

    margin: float
    noise: float
    runner_up: float
    chance: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def sure(self) -> bool:
        """No warning, and the pick ahead of the runner-up by more than the noise."""
        return not self.warnings and self.margin > self.noise

    def text(self) -> str:
        """One clause: the margin against the noise."""
        if not math.isfinite(self.runner_up):
            return "no other rate to compare"
        if not math.isfinite(self.margin):
            return f"the runner-up {self.runner_up:.3g} has no score"
        how = ("clear" if self.margin > 2 * self.noise else
               "within noise" if abs(self.margin) <= self.noise else
               "behind, a lower rate within noise" if self.margin < 0 else "narrow")
        return (f"margin {self.margin:+.4f} over {self.runner_up:.3g} against noise "
                f"{self.noise:.4f} ({how})")

    def to_dict(self) -> dict[str, Any]:
        def plain(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"margin": plain(self.margin), "noise": plain(self.noise),
                "runner_up": plain(self.runner_up), "chance": plain(self.chance),
                "sure": self.sure, "warnings": list(self.warnings)}


def assess(table: pd.DataFrame, lr: float, *, higher_is_better: bool, chance: float,
           monitor: str, n: int, searched: tuple[float, float] | None = None,
           extra: tuple[str, ...] = ()) -> Confidence:
    """The :class:`Confidence` of picking ``lr`` from ``table``.

    Args:
        table: one row per rate: ``lr``, ``score``, ``final`` (last validation monitor),
            ``diverged``.
        lr: the pick.
        higher_is_better, chance, monitor, n: as :func:`choose`.
        searched: the lowest and highest rate the search could have picked (default: the
            table's); a pick at either end gets a warning.
        extra: warnings the procedure adds itself.

    Example:
        >>> t = pd.DataFrame({"lr": [0.1, 0.3], "score": [0.90, 0.905], "final": [0.9, 0.25],
        ...                   "diverged": [False, False]})
        >>> c = assess(t, 0.1, higher_is_better=True, chance=0.25, monitor="accuracy", n=1000)
        >>> len(c.warnings)
        3
    """
    t = table.sort_values("lr").reset_index(drop=True)
    sign = 1.0 if higher_is_better else -1.0
    lrs = t["lr"].to_numpy(float)
    scores = t["score"].to_numpy(float)
    i = int(np.flatnonzero(np.isclose(lrs, lr))[0])
    noise = score_noise(scores[i], monitor, n)
    others = [j for j in range(len(t)) if j != i and math.isfinite(scores[j])]
    if others:
        j = max(others, key=lambda k: sign * scores[k])
        margin, runner = sign * (scores[i] - scores[j]), float(lrs[j])
    else:
        margin, runner = math.nan, math.nan
    warnings = list(extra)
    ok = learned_mask(t, higher_is_better=higher_is_better, chance=chance,
                      noise=score_noise(chance, monitor, n))
    if not ok.any():
        warnings.append(f"no rate learned: every score is within noise of chance "
                        f"({chance:.4g}, the untrained model or the majority class)")
    elif math.isfinite(margin) and abs(margin) <= noise:
        warnings.append(f"a tie: {runner:.3g} scored within noise ({noise:.4f}) of the pick")
    if ok.any() and i + 1 < len(t) and lrs[i + 1] <= lr * NEIGHBOUR:
        up = t.iloc[i + 1]
        final = float(up.get("final", up["score"]))
        gone = bool(up["diverged"]) or not math.isfinite(final)
        collapsed = not gone and sign * (final - chance) <= LEARNED * score_noise(
            chance, monitor, n)
        if gone or collapsed:
            warnings.append(f"the next higher rate {up['lr']:.3g} "
                            f"{'diverged' if gone else 'collapsed to chance'}: the pick sits "
                            "near the edge of stability")
    low, high = searched if searched is not None else (lrs[0], lrs[-1])
    if len(t) > 1 and ok.any():
        if math.isclose(lr, high) or lr >= high:
            warnings.append(f"the pick {lr:.3g} is the highest rate searched: a higher one "
                            "might be better")
        elif math.isclose(lr, low) or lr <= low:
            warnings.append(f"the pick {lr:.3g} is the lowest rate searched: a lower one "
                            "might be better")
    return Confidence(float(margin), float(noise), runner, float(chance), tuple(warnings))


def scored_table(summary: pd.DataFrame, monitor: str) -> pd.DataFrame:
    """``lr, score, final, diverged`` from a :meth:`~lrlab.train.SweepResult.summary`."""
    return pd.DataFrame({
        "lr": summary["lr"].to_numpy(float),
        "score": summary[f"best_val_{monitor}"].to_numpy(float),
        "final": summary[f"final_val_{monitor}"].to_numpy(float),
        "diverged": summary["diverged_epoch"].notna().to_numpy(bool),
    })
