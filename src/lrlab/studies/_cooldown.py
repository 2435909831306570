"""The cooldown sweep: train the constant phase once, fork K cooldowns from it, judge them.

``cooldown(task, lr=..., at=(0.7, 0.8, 0.9), shapes=("linear", "1-sqrt"))`` trains one
member per seed at the constant rate up to the last epoch boundary before the earliest fork
point, then forks it (:func:`lrlab.train.fork`) into one population: a member that keeps
the rate (the baseline) and one warmup-stable-decay member per fork point and shape
(``wsd:cooldown_frac=1-at,shape=...``), trained to the end together. Each member equals a
run of its schedule from scratch, so the sweep costs about one run plus its cooldowns.

The claims (Hägele et al. 2024, arXiv 2405.18392), judged from the records: a cooldown ends
at a lower validation loss than holding the rate; ``1-sqrt`` beats ``linear`` at the same
fork point.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import pandas as pd

from lrlab._checks import number
from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab._once import warn_once
from lrlab.reproduce import Claim, claims_frame, graded, margin, mean_se
from lrlab.schedules import CooldownShape, parse_schedule
from lrlab.tasks import Task
from lrlab.train import EpochReport, SweepResult, fit, fork, validated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CooldownResult", "cooldown", "plot_cooldown"]

_SHAPES: tuple[str, ...] = get_args(CooldownShape)
#: A difference in final validation loss smaller than this fraction of the baseline's, or
#: than two standard errors over seeds, is not counted.
FLOOR = 0.005
Z = 2.0


def _fork_points(at: Sequence[float], epochs: int) -> tuple[tuple[float, ...], int]:
    points = tuple(sorted({round(float(a), 6) for a in at}))
    if not points:
        raise LrlabError("give at least one fork point, e.g. --at 0.8")
    for a in points:
        if not 0 < a < 1:
            raise LrlabError(f"fork point {a:g} is outside training; give fractions of "
                             "training in (0, 1), e.g. --at 0.7,0.8,0.9")
    first = math.floor(points[0] * epochs + 1e-9)
    if first < 1:
        raise LrlabError(f"fork point {points[0]:g} of {epochs} epochs falls in the first "
                         "epoch; fork later or train longer (--epochs)")
    return points, first


@warn_once()
def cooldown(task: Task, *, lr: float, at: Sequence[float] = (0.7, 0.8, 0.9),
             shapes: Sequence[str] = ("linear", "1-sqrt"),
             callbacks: Sequence[Callable[[EpochReport], None]] = (),
             **settings: Any) -> CooldownResult:
    """Train the constant phase once and fork one cooldown per fork point and shape.

    Args:
        task: the task.
        lr: the rate of the stable phase.
        at: where each cooldown starts, as fractions of training in ``(0, 1)``.
        shapes: cooldown shapes, of ``linear``, ``cosine``, ``1-sqrt``.
        callbacks: called after every epoch of both phases.
        **settings: fields of :class:`lrlab.train.SweepConfig` (``epochs``, ``optimizer``,
            ``hparams``, ``seeds``, ``batch_size``, ``device``, ...; not ``lrs`` or
            ``schedules``, which the study sets).

    Returns:
        a :class:`CooldownResult`.

    Example:
        >>> from lrlab.tasks import get_task
        >>> result = cooldown(get_task("blobs"), lr=0.1, at=[0.5], shapes=["linear"], epochs=4)
        >>> result.table()["schedule"].tolist()
        ['constant', 'wsd:cooldown_frac=0.5,shape=linear']
    """
    for key in ("lrs", "schedules"):
        if key in settings:
            raise LrlabError(f"the cooldown study sets {key} itself; give lr, at and shapes")
    number("lr", lr, low=0, strict=True, hint="; e.g. lr=0.1")  # was "lrs.0: learning ..."
    unknown = [s for s in shapes if s not in _SHAPES]
    if unknown or not shapes:
        raise LrlabError(f"unknown cooldown shape {unknown[0] if unknown else ''!r}; choose "
                         f"from {', '.join(_SHAPES)}")
    epochs = int(settings.pop("epochs", None) or task.epochs)
    points, first = _fork_points(at, epochs)
    specs = ["constant"] + [f"wsd:cooldown_frac={1 - a:.6g},shape={s}"
                            for a in points for s in dict.fromkeys(shapes)]
    stable_config = validated(lrs=[lr], epochs=first, **settings)
    config = validated(lrs=[lr], epochs=epochs, schedules=specs, **settings)
    saved = []
    fit(task, stable_config.members(), stable_config, callbacks=callbacks,
        on_checkpoint=saved.append)
    seeds = [m.seed for m in stable_config.members()]
    members = config.members()
    ckpt = fork(saved[-1], [seeds.index(m.seed) for m in members], task, members, config)
    run = fit(task, members, config, callbacks=callbacks, resume=ckpt)
    return CooldownResult(run, float(lr), points, tuple(dict.fromkeys(shapes)), first, epochs)


@dataclass
class CooldownResult:
    """A cooldown sweep: its population's records and what was forked where.

    Attributes:
        run: the forked population (records from epoch 1: the shared phase is every
            member's), members ``constant`` and one ``wsd:...`` per fork point and shape.
        lr: the stable rate.
        at: the fork points (fractions of training).
        shapes: the cooldown shapes.
        fork_epoch: the epoch after which the members were forked.
        epochs: the length of training.
    """

    run: SweepResult
    lr: float
    at: tuple[float, ...]
    shapes: tuple[str, ...]
    fork_epoch: int
    epochs: int

    def table(self) -> pd.DataFrame:
        """One row per schedule: fork point, shape, seeds, final validation loss (mean, se)
        and monitor (mean), and the loss gained over holding the rate."""
        s = self.run.summary()
        s["schedule"] = self.run.members["schedule"].to_numpy()
        m = self.run.monitor
        rows = []
        for schedule, group in s.groupby("schedule", sort=False):
            loss, se = mean_se(group["final_val_loss"])
            at, shape = _fork_of(str(schedule))
            rows.append({"schedule": schedule, "at": at, "shape": shape, "seeds": len(group),
                         "final_val_loss": loss, "final_val_loss_se": se,
                         f"final_val_{m}": mean_se(group[f"final_val_{m}"])[0]})
        out = pd.DataFrame(rows)
        base = out.loc[out["schedule"] == "constant", "final_val_loss"].iloc[0]
        out["gain_over_constant"] = base - out["final_val_loss"]
        return out

    def claims(self) -> list[Claim]:
        """The literature's claims, judged from the records (see the module docstring)."""
        t = self.table()
        base = t[t["schedule"] == "constant"].iloc[0]
        cool = t[t["schedule"] != "constant"]
        floor = FLOOR * abs(base["final_val_loss"])
        better = [g > margin([base["final_val_loss_se"], se], Z, floor)
                  for g, se in zip(cool["gain_over_constant"], cool["final_val_loss_se"])]
        best = cool.loc[cool["final_val_loss"].idxmin()]
        claims = [Claim(
            "a cooldown at the end ends at a lower validation loss than holding the rate "
            "(Hägele et al. 2024)",
            f"constant {base['final_val_loss']:.4f}; cooldowns {cool['final_val_loss'].min():.4f}"
            f" (best: {best['schedule']}) to {cool['final_val_loss'].max():.4f}; "
            f"{sum(better)} of {len(better)} lower by more than the margin",
            graded(all(better), any(better)),
            f"holds: every cooldown lower than constant by more than max({FLOOR:.1%} of "
            f"constant, {Z:g} standard errors over seeds); partly: some",
            {"constant": float(base["final_val_loss"]), "best": float(best["final_val_loss"]),
             "better": float(sum(better)), "cooldowns": float(len(better))})]
        claims.append(self._shape_claim(cool, floor))
        return claims

    def _shape_claim(self, cool: pd.DataFrame, floor: float) -> Claim:
        text = "1-sqrt cools down better than linear at the same fork point (Hägele et al.)"
        pairs = []
        for at in self.at:
            here = cool[cool["at"] == at].set_index("shape")
            if {"linear", "1-sqrt"} <= set(here.index):
                a, b = here.loc["1-sqrt"], here.loc["linear"]
                gain = b["final_val_loss"] - a["final_val_loss"]
                pairs.append((at, gain, gain > margin([a["final_val_loss_se"],
                                                       b["final_val_loss_se"]], Z, floor)))
        if not pairs:
            return Claim(text, "needs both shapes (--shapes linear,1-sqrt)", "not run", "")
        wins = sum(p[2] for p in pairs)
        measured = "; ".join(f"at {at:g}: linear - 1-sqrt = {g:+.4f}" for at, g, _ in pairs)
        return Claim(text, measured, graded(wins == len(pairs), wins > 0),
                     "holds: 1-sqrt lower at every fork point by more than the margin; "
                     "partly: at some", {"wins": float(wins), "pairs": float(len(pairs))})

    def verdict(self) -> str:
        """One line: the best schedule and the claims' verdicts."""
        t = self.table()
        best = t.loc[t["final_val_loss"].idxmin()]
        verdicts = ", ".join(c.verdict for c in self.claims())
        return (f"cooldown at lr={self.lr:g}: best {best['schedule']} (final validation loss "
                f"{best['final_val_loss']:.4f}, {best['gain_over_constant']:+.4f} over "
                f"constant); claims: {verdicts}")

    # -- files -------------------------------------------------------------------------

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write the population (``run/``), ``cooldown.json`` and ``claims.csv``."""
        out = Path(out)
        written = self.run.save(out / "run")
        meta = {"study": "cooldown", "lr": self.lr, "at": list(self.at),
                "shapes": list(self.shapes), "fork_epoch": self.fork_epoch,
                "epochs": self.epochs, "verdict": self.verdict()}
        frame = claims_frame(self.claims())
        written.append(atomic_write(out / "claims.csv", lambda p: frame.to_csv(p, index=False)))
        written.append(atomic_write(out / "cooldown.json",
                                    lambda p: p.write_text(json.dumps(meta, indent=2) + "\n")))
        return written

    @classmethod
    def load(cls, out: str | os.PathLike) -> CooldownResult:
        """Read back :meth:`save`; the claims are recomputed from the records."""
        path = Path(out) / "cooldown.json"
        if not path.is_file():
            raise LrlabError(f"{out} holds no cooldown study (no cooldown.json); give the "
                             "--out folder of lrlab cooldown")
        meta = json.loads(path.read_text())
        return cls(SweepResult.load(Path(out) / "run"), float(meta["lr"]), tuple(meta["at"]),
                   tuple(meta["shapes"]), int(meta["fork_epoch"]), int(meta["epochs"]))

    def write_report(self, path: str | os.PathLike) -> Path:
        """The study's HTML page: verdict, claims, the cooldown table, its plot, the curves."""
        from lrlab.report import curves_info, plot_curves, write_page

        settings = {"task": self.run.task, "lr": self.lr, "fork points": list(self.at),
                    "shapes": list(self.shapes), "epochs": self.epochs,
                    "forked after epoch": self.fork_epoch,
                    "optimizer": self.run.config.get("optimizer")}
        return write_page(path, title=f"lrlab: cooldown sweep on {self.run.task}",
                          verdict=self.verdict(), settings=settings,
                          tables=[("claims, judged from the records", claims_frame(
                              self.claims())), ("per schedule (mean over seeds)", self.table())],
                          figures=[(("validation loss after the fork, and at the end per fork "
                                    "point"), plot_cooldown(self)),
                                   ("loss per epoch", plot_curves(curves_info(self.run,
                                                                              "loss")))])


def _fork_of(schedule: str) -> tuple[float, str]:
    """``(fork point, shape)`` of a member's schedule; ``(nan, "constant")`` for constant."""
    if schedule == "constant":
        return math.nan, "constant"
    options = parse_schedule(schedule).options
    return round(1 - float(options["cooldown_frac"]), 6), str(options["shape"])


def plot_cooldown(result: CooldownResult) -> Figure:
    """Left: the validation loss per epoch from the fork on (mean over seeds; constant
    dashed). Right: the final validation loss against the fork point, one line per shape,
    constant as a horizontal line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    curve = result.run.curve("loss", "val")
    curve.columns = result.run.members["schedule"].to_numpy()
    mean = curve.T.groupby(level=0, sort=False).mean().T
    shown = mean[mean.index >= result.fork_epoch]
    for name in mean.columns:
        style = {"linestyle": "--", "color": "black"} if name == "constant" else {}
        left.plot(shown.index, shown[name], label=name, **style)
    left.set(xlabel="epoch", ylabel="validation loss", title="after the fork")
    left.grid(alpha=0.3)
    table = result.table()
    cool = table[table["schedule"] != "constant"]
    for shape, group in cool.groupby("shape", sort=False):
        right.errorbar(group["at"], group["final_val_loss"], yerr=group["final_val_loss_se"],
                       marker="o", capsize=3, label=shape)
    base = table.loc[table["schedule"] == "constant", "final_val_loss"].iloc[0]
    right.axhline(base, color="black", linestyle="--", label="constant")
    right.set(xlabel="fork point (fraction of training)", ylabel="final validation loss",
              title="at the end")
    right.grid(alpha=0.3)
    left.legend(fontsize="x-small")
    right.legend(fontsize="x-small")
    return fig

