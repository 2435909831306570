"""``optimizers-surface``: update rules racing on one loss surface (the brief's section E).

The playground (:func:`lrlab.playground.trajectories`) runs SGD, momentum, Nesterov,
AdaGrad, RMSProp and Adam from one start at one rate, all in one ``(K, 2)`` state, on
Rosenbrock's curved valley and on a saddle between two minima. The claim of the brief:
momentum overshoots but reaches the minimum faster; the usual picture adds that adaptive
rules escape a saddle sooner than plain SGD.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lrlab.playground import Trajectories, draw, get_surface, trajectories
from lrlab.reproduce._claims import Claim, graded
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import Context, Experiment
from lrlab.reproduce._figures import plot_bands

__all__ = ["EXPERIMENT", "RULES", "THRESHOLDS", "SurfaceSize", "Thresholds", "judge",
           "overshoot", "reached", "rebuild"]

RULES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
ADAPTIVE = ("adagrad", "rmsprop", "adam")


@dataclass(frozen=True)
class SurfaceSize:
    """How many updates each rule gets on Rosenbrock and on the saddle."""

    rosenbrock: int
    saddle: int


SIZES = {
    "test": SurfaceSize(rosenbrock=300, saddle=150),
    "reduced": SurfaceSize(rosenbrock=3000, saddle=400),
    "full": SurfaceSize(rosenbrock=10000, saddle=1000),
}


@dataclass(frozen=True)
class Thresholds:
    """The constants that turn the trajectories into verdicts.

    Attributes:
        tol: a point within this distance of a minimum has reached it (and must stay).
        overshoot: momentum overshoots when it passes the minimum (see :func:`overshoot`)
            by at least this much ...
        ratio: ... and at least this many times as far as SGD.
        escape: a rule has left the saddle's ridge (``y = 0``) once ``|y|`` reaches this.
    """

    tol: float = 1e-2
    overshoot: float = 1e-2
    ratio: float = 2.0
    escape: float = 0.5


THRESHOLDS = Thresholds()


def train(ctx: Context) -> Evidence:
    """The race on each surface, at the surface's own rate, from its own start."""
    size: SurfaceSize = ctx.knobs
    tables, settings = {}, {"rules": list(RULES), **asdict(size)}
    for name, steps in (("rosenbrock", size.rosenbrock), ("saddle", size.saddle)):
        ctx.say(f"{name}: {len(RULES)} rules, {steps} steps")
        race = trajectories(name, RULES, steps=steps)
        tables[name] = _tidy(race)
        surface = get_surface(name)
        settings[f"{name}_lr"], settings[f"{name}_start"] = surface.lr, list(surface.start)
    return Evidence("optimizers-surface", ctx.size, settings, tables=tables)


def _tidy(race: Trajectories) -> pd.DataFrame:
    """Every member's path: ``label, rule, lr, step, x, y, loss`` (NaN after divergence)."""
    k, t = race.loss.shape
    return pd.DataFrame({
        "label": np.repeat(race.labels, t), "rule": np.repeat(race.rules, t),
        "lr": np.repeat(race.lrs, t), "step": np.tile(np.arange(t), k),
        "x": race.path[:, :, 0].reshape(-1), "y": race.path[:, :, 1].reshape(-1),
        "loss": race.loss.reshape(-1)})


def rebuild(evidence: Evidence, name: str) -> Trajectories:
    """The race on surface ``name`` as :class:`~lrlab.playground.Trajectories`, from the
    saved paths (for drawing)."""
    table = evidence.table(name)
    labels = list(dict.fromkeys(table["label"]))
    rows = [table[table["label"] == label].sort_values("step") for label in labels]
    path = np.stack([r[["x", "y"]].to_numpy(dtype=np.float64) for r in rows])
    loss = np.stack([r["loss"].to_numpy(dtype=np.float64) for r in rows])
    lost = ~np.isfinite(path).all(axis=2)
    diverged = np.where(lost.any(axis=1), lost.argmax(axis=1), -1)
    return Trajectories(surface=get_surface(name), rules=tuple(r["rule"].iloc[0] for r in rows),
                        lrs=np.array([r["lr"].iloc[0] for r in rows], dtype=np.float64),
                        labels=tuple(labels), path=path, loss=loss, diverged_at=diverged,
                        hparams={})


def _paths(evidence: Evidence, name: str) -> dict[str, np.ndarray]:
    """Each rule's points, ``(steps + 1, 2)``."""
    table = evidence.table(name)
    return {rule: rows.sort_values("step")[["x", "y"]].to_numpy(dtype=np.float64)
            for rule, rows in table.groupby("rule", sort=False)}


def _distance(path: np.ndarray, minima) -> np.ndarray:
    """Distance to the minimum nearest the path's last finite point, per step."""
    finite = path[np.isfinite(path).all(axis=1)]
    minima = np.asarray(minima, dtype=np.float64)
    target = minima[np.argmin(np.linalg.norm(minima - finite[-1], axis=1))]
    return np.linalg.norm(path - target, axis=1)


def reached(path: np.ndarray, minima, tol: float) -> int | None:
    """The first step from which the path stays within ``tol`` of its minimum, or None."""
    inside = _distance(path, minima) < tol  # NaN (diverged) is outside
    if not inside[-1]:
        return None
    outside = np.nonzero(~inside)[0]
    return int(outside[-1]) + 1 if len(outside) else 0


def overshoot(path: np.ndarray, minima) -> float:
    """How far the path goes past its minimum in the direction it came from: the largest
    ``(p_t - m) . u`` with ``u`` the unit vector from the start to the minimum ``m``
    (``0`` if it never passes it)."""
    finite = path[np.isfinite(path).all(axis=1)]
    minima = np.asarray(minima, dtype=np.float64)
    target = minima[np.argmin(np.linalg.norm(minima - finite[-1], axis=1))]
    u = (target - finite[0]) / np.linalg.norm(target - finite[0])
    return float(max(0.0, np.max((finite - target) @ u)))


def escaped(path: np.ndarray, level: float) -> int | None:
    """The first step with ``|y| >= level`` (off the saddle's ridge), or None."""
    off = np.abs(path[:, 1]) >= level
    return int(off.argmax()) if off.any() else None


def judge(evidence: Evidence, th: Thresholds = THRESHOLDS) -> list[Claim]:
    """The claims, each decided from the saved paths (see :class:`Thresholds`)."""
    rosen, saddle = _paths(evidence, "rosenbrock"), _paths(evidence, "saddle")
    minima = {n: get_surface(n).minima for n in ("rosenbrock", "saddle")}
    return [_overshoots(rosen, minima["rosenbrock"], th),
            _faster("rosenbrock", rosen, minima["rosenbrock"], th),
            _faster("saddle", saddle, minima["saddle"], th),
            _escape(saddle, th)]


def _steps(value: int | None) -> str:
    return "never" if value is None else f"step {value}"


def _overshoots(paths: dict, minima, th: Thresholds) -> Claim:
    past = {rule: overshoot(p, minima) for rule, p in paths.items()}
    m, s = past["momentum"], past["sgd"]
    return Claim(
        "momentum overshoots (Rosenbrock)",
        f"furthest past (1, 1) in the direction of travel: momentum {m:.3g}, SGD {s:.3g}, "
        f"Nesterov {past['nesterov']:.3g}",
        graded(m >= th.overshoot and m >= th.ratio * s, m > s),
        f"holds if momentum passes the minimum by >= {th.overshoot:g} and >= {th.ratio:g}x "
        "as far as SGD; partly if further than SGD at all",
        {f"overshoot_{rule}": v for rule, v in past.items()})


def _faster(name: str, paths: dict, minima, th: Thresholds) -> Claim:
    when = {rule: reached(p, minima, th.tol) for rule, p in paths.items()}
    end = {rule: float(_distance(p, minima)[-1]) for rule, p in paths.items()}
    m, s = when["momentum"], when["sgd"]
    sooner = m is not None and (s is None or m < s)
    closer = end["momentum"] < end["sgd"]
    shown = ", ".join(f"{rule} {_steps(v)}" for rule, v in when.items())
    return Claim(
        f"momentum reaches the minimum faster than SGD ({name.capitalize()})",
        f"within {th.tol:g} of the minimum for good from: {shown}; final distance momentum "
        f"{end['momentum']:.3g}, SGD {end['sgd']:.3g}",
        graded(sooner, closer),
        f"holds if momentum reaches (and stays within {th.tol:g} of) the minimum before SGD; "
        "partly if it only ends closer",
        {f"reached_{rule}": float(v) if v is not None else float("nan")
         for rule, v in when.items()} | {"end_momentum": end["momentum"],
                                         "end_sgd": end["sgd"]})


def _escape(paths: dict, th: Thresholds) -> Claim:
    when = {rule: escaped(p, th.escape) for rule, p in paths.items()}
    s = when["sgd"]
    sooner = [r for r in ADAPTIVE if when[r] is not None and (s is None or when[r] < s)]
    shown = ", ".join(f"{rule} {_steps(v)}" for rule, v in when.items())
    return Claim(
        "adaptive rules (AdaGrad, RMSProp, Adam) leave a saddle sooner than SGD",
        f"first step with |y| >= {th.escape:g}: {shown}",
        graded(len(sooner) == len(ADAPTIVE), bool(sooner)),
        "holds if all three leave the ridge before SGD; partly if some do",
        {f"escape_{rule}": float(v) if v is not None else float("nan")
         for rule, v in when.items()})


def figures(evidence: Evidence) -> list:
    """Each race over its surface's contours, and the loss per step."""
    out = []
    for name in ("rosenbrock", "saddle"):
        race = rebuild(evidence, name)
        out.append(((f"{name}: {', '.join(RULES)} at lr={race.lrs[0]:g} from "
                    f"{tuple(race.path[0, 0])}"), draw(race)))
        table = evidence.table(name)
        info = pd.DataFrame({"group": table["rule"], "source": "playground",
                             "epoch": table["step"], "low": table["loss"],
                             "mid": table["loss"], "high": table["loss"]})
        log = name == "rosenbrock"
        out.append((f"{name}: loss per step", plot_bands(
            info, title=f"{name}: loss per step", ylabel="loss", log=log, xlabel="step")))
    return out


def tables(evidence: Evidence) -> list:
    """Per surface and rule: where it ended, when it reached the minimum."""
    rows = []
    for name in ("rosenbrock", "saddle"):
        minima = get_surface(name).minima
        for rule, p in _paths(evidence, name).items():
            rows.append({"surface": name, "rule": rule, "final distance":
                         float(_distance(p, minima)[-1]),
                         "reached": reached(p, minima, THRESHOLDS.tol),
                         "overshoot": overshoot(p, minima)})
    frame = pd.DataFrame(rows)
    frame["reached"] = frame["reached"].astype("Int64")
    return [("per rule: distance to the minimum at the end, the step it was reached for good",
             frame)]


EXPERIMENT = Experiment(
    name="optimizers-surface", section="E",
    summary="SGD, momentum, NAG, AdaGrad, RMSProp, Adam racing on Rosenbrock and a saddle "
            "(the playground)",
    sizes=SIZES, train=train, judge=judge, figures=figures, tables=tables)
