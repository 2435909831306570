"""Batch size and the rate: the best rate per batch size, a fitted exponent, and which rule holds.

``scaling(task, batch_sizes=[32, 64, 128, 256], lrs=[...])`` trains one population (the
rates x seeds) per batch size, for the same number of epochs. Per batch size the optimum is
the rate with the best final validation metric (mean over seeds), refined by the vertex of
a parabola in ``log10(lr)`` through it and its two neighbours when both exist (the grid's
spacing would otherwise quantise the exponent). A least-squares line through
``log10(optimum)`` against ``log10(batch size)`` gives the exponent ``k``: ``lr* ~ B^k``.

The claims, judged from the records: for SGD the linear rule, ``k = 1`` (Goyal et al. 2017,
"Accurate, Large Minibatch SGD"); for adaptive rules (Adam, RMSProp, ...) the square-root
rule, ``k = 1/2`` (Malladi et al. 2022, "On the SDEs and Scaling Rules for Adaptive Gradient
Algorithms"). A rule holds when the fitted ``k`` is within ``TOLERANCE`` of its exponent
and nearer to it than to the other rule's; partly within twice that and nearer.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError, ResultWarning
from lrlab._io import atomic_write
from lrlab._once import warn_once
from lrlab.reproduce import Claim, claims_frame, graded
from lrlab.tasks import Task
from lrlab.train import EpochReport, SweepResult, fit, validated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ScalingResult", "optimum", "plot_scaling", "scaling"]

#: |fitted exponent - a rule's exponent| within this counts as that rule holding.
TOLERANCE = 0.25
#: The rules: exponent of the batch size, and who proposed it.
RULES_OF_THUMB = {"linear": (1.0, "Goyal et al. 2017"), "square root": (0.5, "Malladi et al. 2022")}
_SGD = ("sgd", "momentum", "nesterov", "sgd_hd", "sf_sgd")


def optimum(lrs: Sequence[float], values: Sequence[float], higher: bool) -> tuple[float, float]:
    """The best rate of a curve ``values(lrs)`` and its refinement: the vertex of the
    parabola in ``log10(lr)`` through the best point and its neighbours (when both exist
    and the parabola opens the right way), else the best rate itself.

    Example:
        >>> optimum([0.01, 0.1, 1.0], [0.5, 0.9, 0.7], higher=True)[1] > 0.1
        True
    """
    rates, y = np.asarray(lrs, float), np.asarray(values, float)
    order = np.argsort(rates)
    rates, y = rates[order], y[order]
    x = np.log10(rates)
    scored = np.where(np.isfinite(y), y, -np.inf if higher else np.inf)
    i = int(np.argmax(scored) if higher else np.argmin(scored))
    best = float(rates[i])
    if 0 < i < len(x) - 1 and np.isfinite(y[i - 1:i + 2]).all():
        a, b, _ = np.polyfit(x[i - 1:i + 2], y[i - 1:i + 2], 2)
        if (a < 0) == higher and a != 0:
            vertex = float(np.clip(-b / (2 * a), x[i - 1], x[i + 1]))
            return best, float(10**vertex)
    return best, best


def edge_warnings(best: Mapping[str, float], lrs: Sequence[float]) -> list[str]:
    """One line per edge of the rates swept (``lrs``) that holds a best rate (``best``: each
    population's best rate by its name, ``{"batch 16": 0.1}``): an optimum there may lie
    beyond the rates, so what the claims measure from it (a drift, an exponent) is not
    measured there; ``[]`` when every best rate lies inside.

    Example:
        >>> edge_warnings({"batch 16": 0.1, "batch 32": 0.03}, [0.1, 0.03, 0.01])[0]
        'the best rate of batch 16 is the highest swept, 0.1: its optimum may lie above it, and the claims read it as 0.1; sweep rates above 0.1 too'
    """
    lines = []
    for edge, word, side in ((max(lrs), "highest", "above"), (min(lrs), "lowest", "below")):
        at = [name for name, lr in best.items() if math.isclose(lr, edge, rel_tol=1e-9)]
        if at:
            its = "its optimum" if len(at) == 1 else "their optima"
            names = at[0] if len(at) == 1 else f"{', '.join(at[:-1])} and {at[-1]}"
            lines.append(f"the best rate of {names} is the {word} swept, {edge:g}: "
                         f"{its} may lie {side} it, and the claims read "
                         f"{'it' if len(at) == 1 else 'them'} as {edge:g}; sweep rates {side} "
                         f"{edge:g} too")
    return lines


def _warn(lines: Sequence[str]) -> None:
    for line in lines:  # a ResultWarning: the command line says it after the study's tables
        warnings.warn(f"lrlab: {line}", ResultWarning, stacklevel=4)


@warn_once()
def scaling(task: Task, *, batch_sizes: Sequence[int], lrs: Sequence[float],
            callbacks: Sequence[Callable[[EpochReport], None]] = (), **settings: Any
            ) -> ScalingResult:
    """One population per batch size over the same rates; the exponent of the best rate.

    Args:
        task: the task.
        batch_sizes: two or more batch sizes, each at most the training set.
        lrs: the rates every batch size sweeps (three or more, a decade or more apart in all).
        callbacks: called after every epoch.
        **settings: other :class:`lrlab.train.SweepConfig` fields (``epochs``, ``optimizer``,
            ``hparams``, ``seeds``, ``device``, ...; not ``batch_size``).

    Example:
        >>> from lrlab.tasks import get_task
        >>> r = scaling(get_task("blobs"), batch_sizes=[64, 256], lrs=[10, 3, 1, 0.3, 0.1],
        ...             epochs=2)
        >>> sorted(r.runs)
        [64, 256]
    """
    if "batch_size" in settings:
        raise LrlabError("scaling sets batch_size itself; give batch_sizes")
    sizes = sorted({int(b) for b in batch_sizes})
    if len(sizes) < 2:
        raise LrlabError(f"give two or more distinct batch sizes to fit an exponent, got "
                         f"{list(batch_sizes)}")
    n = task.train_size  # examples (a DataLoader's len counts batches); None: no length
    if sizes[0] < 1:
        raise LrlabError(f"batch size {sizes[0]} must be at least 1")
    if n is not None and sizes[-1] > n:
        raise LrlabError(f"batch size {sizes[-1]} is more than the {n} training examples; "
                         "lower it")
    if len(set(lrs)) < 3:
        raise LrlabError("give three or more rates so each batch size has an optimum inside them")
    configs = {b: validated(lrs=list(lrs), batch_size=b, **settings) for b in sizes}
    runs = {b: fit(task, c.members(), c, callbacks=callbacks) for b, c in configs.items()}
    result = ScalingResult(runs, str(configs[sizes[0]].optimizer))
    _warn(result.warnings)
    return result


@dataclass
class ScalingResult:
    """One population per batch size, and the rule they were trained with.

    Attributes:
        runs: batch size -> its population (every rate x seed).
        optimizer: the update rule.
    """

    runs: dict[int, SweepResult]
    optimizer: str

    def curves(self) -> pd.DataFrame:
        """Final validation metric per batch size and rate (mean over seeds; NaN diverged)."""
        rows = []
        for b, run in self.runs.items():
            s = run.summary()
            value = s[f"final_val_{run.monitor}"].where(~run.members["diverged"].to_numpy())
            for lr, v in value.groupby(s["lr"]).mean().items():
                rows.append({"batch_size": b, "lr": float(lr), "value": float(v)})
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """Per batch size: the grid's best rate, the refined optimum, the best value."""
        higher = next(iter(self.runs.values())).higher_is_better
        rows = []
        for b, group in self.curves().groupby("batch_size"):
            best, refined = optimum(group["lr"], group["value"], higher)
            top = group["value"].max() if higher else group["value"].min()
            rows.append({"batch_size": int(b), "best_lr": best, "optimum": refined,
                         "best_value": float(top)})
        return pd.DataFrame(rows)

    @property
    def warnings(self) -> list[str]:
        """A line per edge of the rates that holds a batch size's best rate
        (:func:`edge_warnings`)."""
        t = self.table()
        best = {f"batch {b}": float(lr) for b, lr in zip(t["batch_size"], t["best_lr"])}
        return edge_warnings(best, self.curves()["lr"].unique().tolist())

    def exponent(self) -> tuple[float, float]:
        """``(k, intercept)`` of ``log10(optimum) = intercept + k log10(batch size)``."""
        t = self.table()
        k, c = np.polyfit(np.log10(t["batch_size"]), np.log10(t["optimum"]), 1)
        return float(k), float(c)

    def claims(self) -> list[Claim]:
        """The rule the literature gives for this optimizer, judged from the fitted k."""
        k, _ = self.exponent()
        expected = "linear" if self.optimizer in _SGD else "square root"
        other = "square root" if expected == "linear" else "linear"
        want, who = RULES_OF_THUMB[expected]
        off = abs(k - want)
        closer = off < abs(k - RULES_OF_THUMB[other][0])
        verdict = graded(off <= TOLERANCE and closer, off <= 2 * TOLERANCE and closer)
        return [Claim(f"for {self.optimizer}, the best rate follows the {expected} rule, "
                      f"lr ~ B^{want:g} ({who})",
                      f"fitted exponent k = {k:.2f} over batch sizes "
                      f"{', '.join(str(b) for b in sorted(self.runs))}",
                      verdict, f"holds: |k - {want:g}| <= {TOLERANCE:g} and k nearer {want:g} "
                      f"than the {other} rule's {RULES_OF_THUMB[other][0]:g}; partly: within "
                      f"{2 * TOLERANCE:g} and nearer", {"k": k})]

    def verdict(self) -> str:
        """One line: the exponent and which rule it is nearer."""
        k, _ = self.exponent()
        nearest = min(RULES_OF_THUMB, key=lambda r: abs(k - RULES_OF_THUMB[r][0]))
        return (f"scaling ({self.optimizer}): best rate ~ batch size^{k:.2f}, nearer the "
                f"{nearest} rule; claim: {self.claims()[0].verdict}")

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write each population (``bs{B}/``), ``scaling.json`` and ``claims.csv``."""
        out = Path(out)
        written = [p for b, run in self.runs.items() for p in run.save(out / f"bs{b}")]
        frame = claims_frame(self.claims())
        meta = {"study": "scaling", "optimizer": self.optimizer,
                "batch_sizes": sorted(self.runs), "verdict": self.verdict()}
        written.append(atomic_write(out / "claims.csv", lambda p: frame.to_csv(p, index=False)))
        written.append(atomic_write(out / "scaling.json",
                                    lambda p: p.write_text(json.dumps(meta, indent=2) + "\n")))
        return written

    @classmethod
    def load(cls, out: str | os.PathLike) -> ScalingResult:
        """Read back :meth:`save`; the claims are recomputed from the records."""
        path = Path(out) / "scaling.json"
        if not path.is_file():
            raise LrlabError(f"{out} holds no scaling study (no scaling.json); give the --out "
                             "folder of lrlab scaling")
        meta = json.loads(path.read_text())
        return cls({int(b): SweepResult.load(Path(out) / f"bs{b}") for b in meta["batch_sizes"]},
                   str(meta["optimizer"]))

    def write_report(self, path: str | os.PathLike) -> Path:
        """The study's HTML page: verdict, claim, per batch size table, the plot."""
        from lrlab.report import write_page

        k, _ = self.exponent()
        first = next(iter(self.runs.values()))
        return write_page(path, title=f"lrlab: batch size and the rate on {first.task}",
                          verdict=self.verdict(), warnings=self.warnings,
                          settings={"task": first.task, "optimizer": self.optimizer,
                                    "batch sizes": sorted(self.runs), "exponent": round(k, 3),
                                    "epochs": first.config.get("epochs")},
                          tables=[("claim, judged from the records", claims_frame(self.claims())),
                                  ("per batch size", self.table())],
                          figures=[(("final validation metric against the rate per batch size; "
                                    "the optimum against the batch size"), plot_scaling(self))])


def plot_scaling(result: ScalingResult) -> Figure:
    """Left: final validation metric against the rate, one line per batch size (optimum
    marked). Right: the optimum against the batch size (log-log), the fitted line, and the
    linear and square-root rules through the smallest batch size's optimum."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    table = result.table().set_index("batch_size")
    monitor = next(iter(result.runs.values())).monitor
    for b, group in result.curves().groupby("batch_size"):
        line, = left.plot(group["lr"], group["value"], marker="o", label=f"batch {b}")
        left.axvline(table.loc[b, "optimum"], color=line.get_color(), alpha=0.4, linestyle=":")
    left.set(xscale="log", xlabel="learning rate", ylabel=f"final validation {monitor}")
    left.legend(fontsize="x-small")
    sizes = table.index.to_numpy(float)
    k, c = result.exponent()
    right.scatter(sizes, table["optimum"], color="black", zorder=4, label="optimum")
    right.plot(sizes, 10 ** (c + k * np.log10(sizes)), label=f"fit: k = {k:.2f}")
    for name, (power, _) in RULES_OF_THUMB.items():
        right.plot(sizes, table["optimum"].iloc[0] * (sizes / sizes[0]) ** power,
                   linestyle="--", label=f"{name} rule (k = {power:g})")
    right.set(xscale="log", yscale="log", xlabel="batch size", ylabel="best learning rate")
    right.legend(fontsize="x-small")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return fig

