"""Width and the rate: the standard parametrisation (SP) against muP, on an MLP of the task.

``width(task, widths=[64, 128, 256, 512], lrs=[...])`` builds the MLP ``d_in -> w -> w ->
classes`` (ReLU) at each width twice, under SP (PyTorch's default initialisation, one rate)
and under muP (Yang et al. 2022, Tensor Programs V), trains one population per width and
parametrisation over the rates, and finds each one's optimum (as :func:`optimum` does).
muP here is the ``mup`` package's formulation with ``m = width / base_width``: its
``MuReadout`` (output ``W (x / m) + b``, weights and biases initialised ``sqrt(m)`` larger)
is folded into a standard ``Linear`` (``W' = W / m``, initialised ``1/sqrt(m)`` times the
default), so every layer stays a standard layer and the population's fast path applies.
The per-layer rates are the existing layer-wise multipliers:

=================  ===========  ===============  ==============
parameter          init scale   Adam-like rate   SGD-like rate
=================  ===========  ===============  ==============
input weight, bias 1            1                m
hidden weight      1            1/m              1
hidden bias        sqrt(m)      1                m
readout weight     1/sqrt(m)    1/m              1/m
readout bias       sqrt(m)      1                1
=================  ===========  ===============  ==============

(``MuAdam`` divides the rate of weights with two infinite dimensions by ``m``; ``MuSGD``
multiplies the rate of those with one by ``m``; folding the readout's ``1/m`` into ``W'``
turns its rate into ``1/m`` for both, exactly for SGD and up to Adam's ``eps``.)

A coordinate check trains each width for a few steps at one rate and records the mean
absolute output of every layer per step: under muP it stays put as the width grows, under
SP it grows. The claims, judged from the records: muP keeps the optimal rate within
``STABLE`` decades across the widths; SP's optimum drifts by more.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import torch
from torch import nn

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab._once import warn_once
from lrlab.reproduce import Claim, claims_frame, graded
from lrlab.studies._scaling import _warn, edge_warnings, optimum
from lrlab.tasks import Task
from lrlab.train import EpochReport, SweepConfig, SweepResult, fit, validated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WidthResult", "coordinate_check", "mup_multipliers", "plot_width", "width",
           "width_mlp"]

Parametrisation = Literal["sp", "mup"]
#: An optimum that moves by at most this many decades over the widths counts as stable.
STABLE = 0.3
_ADAM_LIKE = ("adam", "adamw", "rmsprop", "adagrad", "adam_hd")
_SGD_LIKE = ("sgd", "momentum", "nesterov")


def _layers(task: Task) -> tuple[int, int, bool]:
    """Input size, output size, and whether the input needs flattening."""
    if not task.in_memory:
        raise LrlabError(f"task {task.name!r}: the width study builds its own MLP from the "
                         "input tensors' shape, and this task's data is a "
                         f"{type(task.train).__name__}, not tensors (lrlab.Split); give it "
                         "Split(x, y) data, or sweep your own model at each width")
    shape = tuple(task.train.x.shape[1:])
    classes = task.num_classes or (task.train.y.shape[1] if task.train.y.dim() > 1 else 1)
    return math.prod(shape), int(classes), len(shape) > 1


def width_mlp(d_in: int, hidden: int, out: int, *, flatten: bool = False,
              parametrisation: Parametrisation = "sp", base_width: int | None = None
              ) -> nn.Sequential:
    """The MLP ``d_in -> hidden -> hidden -> out`` (ReLU), initialised under SP or muP
    (see the module docstring; ``base_width`` defaults to ``hidden``, i.e. ``m = 1``).

    Example:
        >>> width_mlp(4, 32, 3, parametrisation="mup", base_width=8)[4].weight.shape
        torch.Size([3, 32])
    """
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    layers += [nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
               nn.Linear(hidden, out)]
    model = nn.Sequential(*layers)
    if parametrisation == "mup":
        m = hidden / (base_width or hidden)
        hidden_layer, readout = model[-3], model[-1]
        with torch.no_grad():
            hidden_layer.bias.mul_(math.sqrt(m))
            readout.weight.mul_(1 / math.sqrt(m))
            readout.bias.mul_(math.sqrt(m))
    return model


def mup_multipliers(optimizer: str, hidden: int, base_width: int, *,
                    flatten: bool = False) -> dict[str, float]:
    """The layer-wise rate multipliers of muP for :func:`width_mlp` (parameter name ->
    multiplier; see the module docstring's table).

    Example:
        >>> mup_multipliers("adam", 256, 64)
        {'2.weight': 0.25, '4.weight': 0.25}
    """
    m = hidden / base_width
    first = 1 if flatten else 0
    names = [f"{first + i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")]
    if optimizer in _ADAM_LIKE:
        table = [1, 1, 1 / m, 1, 1 / m, 1]
    elif optimizer in _SGD_LIKE:
        table = [m, m, 1, m, 1 / m, 1]
    else:
        raise LrlabError(f"muP's rates are known here for Adam-like ({', '.join(_ADAM_LIKE)}) "
                         f"and SGD-like ({', '.join(_SGD_LIKE)}) rules, not {optimizer!r}")
    return {n: float(v) for n, v in zip(names, table) if v != 1}


def coordinate_check(task: Task, widths: Sequence[int], *, lr: float, optimizer: str,
                     steps: int = 5, seed: int = 0) -> pd.DataFrame:
    """Mean absolute output of every Linear layer after each of ``steps`` steps, per width
    and parametrisation: ``parametrisation, width, step, layer, l1`` (step 0: at init).

    Trained with ``torch.optim`` (``Adam``, or ``SGD`` with momentum 0.9 but for ``sgd``) on
    the first batch of the training data, again and again, the rates of muP's layers multiplied as in
    :func:`mup_multipliers`: an independent loop, not the population.
    """
    d_in, out, flat = _layers(task)
    base = min(widths)
    rows = []
    for parametrisation in ("sp", "mup"):
        for w in widths:
            torch.manual_seed(seed)
            model = width_mlp(d_in, w, out, flatten=flat, parametrisation=parametrisation,
                              base_width=base)
            mult = mup_multipliers(optimizer, w, base, flatten=flat) \
                if parametrisation == "mup" else {}
            groups = [{"params": [p], "lr": lr * mult.get(n, 1.0)}
                      for n, p in model.named_parameters()]
            opt = (torch.optim.Adam(groups) if optimizer in _ADAM_LIKE else
                   torch.optim.SGD(groups, momentum=0.9 if optimizer != "sgd" else 0.0))
            linears = [(i, m) for i, m in enumerate(model) if isinstance(m, nn.Linear)]
            x, y = task.train.x[:task.batch_size].float(), task.train.y[:task.batch_size]
            for step in range(steps + 1):
                h = x
                for i, layer in enumerate(model):
                    h = layer(h)
                    if isinstance(layer, nn.Linear):
                        rows.append({"parametrisation": parametrisation, "width": w,
                                     "step": step, "layer": [j for j, _ in linears].index(i),
                                     "l1": float(h.detach().abs().mean())})
                if step < steps:
                    opt.zero_grad()
                    task.loss(h.unsqueeze(0), y).mean().backward()
                    opt.step()
    return pd.DataFrame(rows)


@warn_once()
def width(task: Task, *, widths: Sequence[int], lrs: Sequence[float], optimizer: str = "adam",
          coord_lr: float | None = None, coord_steps: int = 5,
          callbacks: Sequence[Callable[[EpochReport], None]] = (), **settings: Any
          ) -> WidthResult:
    """Sweep the rates at every width under SP and muP; find each optimum; check coordinates.

    Args:
        task: a task of tensors (``Split``) with flat or image inputs (the study builds
            its own MLP for it).
        widths: two or more hidden widths; the smallest is muP's base width.
        lrs: the rates every width sweeps (three or more).
        optimizer: an Adam-like or SGD-like rule (see :func:`mup_multipliers`).
        coord_lr: the coordinate check's rate (default: the middle of ``lrs``).
        coord_steps: its steps.
        callbacks: called after every epoch.
        **settings: other :class:`lrlab.train.SweepConfig` fields (``epochs``, ``seeds``, ...).

    Example:
        >>> from lrlab.tasks import get_task
        >>> r = width(get_task("blobs"), widths=[8, 32], lrs=[1, 0.3, 0.1, 0.03, 0.01],
        ...           epochs=1)
        >>> sorted(r.table()["width"].unique().tolist())
        [8, 32]
    """
    sizes = sorted({int(w) for w in widths})
    if len(sizes) < 2 or sizes[0] < 1:
        raise LrlabError(f"give two or more distinct positive widths, got {list(widths)}")
    if len(set(lrs)) < 3:
        raise LrlabError("give three or more rates so each width has an optimum inside them")
    for key in ("lr_mults", "lrs", "optimizer"):
        if key in settings:
            raise LrlabError(f"the width study sets {key} itself")
    d_in, out, flat = _layers(task)
    mup_multipliers(optimizer, sizes[0], sizes[0])  # an unknown rule: refused before training
    _check_memory(task, sizes, d_in, out, flat, validated(lrs=list(lrs), optimizer=optimizer,
                                                          **settings))
    runs = {}
    for parametrisation in ("sp", "mup"):
        for w in sizes:
            mult = mup_multipliers(optimizer, w, sizes[0], flatten=flat) \
                if parametrisation == "mup" else {}
            model = (lambda w=w, p=parametrisation: width_mlp(
                d_in, w, out, flatten=flat, parametrisation=p, base_width=sizes[0]))
            config = validated(lrs=list(lrs), optimizer=optimizer,
                               lr_mults=[mult] if mult else None, **settings)
            runs[(parametrisation, w)] = fit(replace(task, model=model), config.members(),
                                             config, callbacks=callbacks)
    ordered = sorted(lrs)
    coords = coordinate_check(task, sizes, lr=coord_lr or ordered[len(ordered) // 2],
                              optimizer=optimizer, steps=coord_steps)
    result = WidthResult(runs, optimizer, coords)
    _warn(result.warnings)
    return result


def _check_memory(task: Task, sizes: Sequence[int], d_in: int, out: int, flat: bool,
                  config: SweepConfig) -> None:
    """Every width's model built and one member's memory estimated before the first width
    trains: a width too large for this machine failed only once the smaller ones had
    trained (10**8 on blobs: "building the model failed ... can't allocate 4e16 bytes")."""
    from lrlab.train import estimate_memory, size_text

    for w in sizes:
        mlp = replace(task, model=lambda w=w: width_mlp(d_in, w, out, flatten=flat))
        try:
            estimate = estimate_memory(mlp, config, config.members()[:1])
        except LrlabError as err:
            raise LrlabError(f"width {w}: {err}; give smaller widths") from None
        if estimate.members_that_fit() < 1:
            raise LrlabError(f"width {w}: one member needs about {size_text(estimate.total(1))} "
                             f"but {size_text(estimate.limit)} may be used here; give "
                             "smaller widths")


@dataclass
class WidthResult:
    """The populations per (parametrisation, width), the rule, and the coordinate check."""

    runs: dict[tuple[str, int], SweepResult]
    optimizer: str
    coordinates: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """Per parametrisation and width: the best rate, the refined optimum, its value."""
        rows = []
        for (param, w), run in self.runs.items():
            s = run.summary()
            value = s[f"final_val_{run.monitor}"].where(~run.members["diverged"].to_numpy())
            curve = value.groupby(s["lr"]).mean()
            best, refined = optimum(curve.index, curve.to_numpy(), run.higher_is_better)
            top = curve.max() if run.higher_is_better else curve.min()
            rows.append({"parametrisation": param, "width": w, "best_lr": best,
                         "optimum": refined, "best_value": float(top)})
        return pd.DataFrame(rows)

    @property
    def warnings(self) -> list[str]:
        """A line per edge of the rates that holds a width's best rate
        (:func:`~lrlab.studies._scaling.edge_warnings`)."""
        t = self.table()
        best = {f"{'SP' if p == 'sp' else 'muP'} width {w}": float(lr)
                for p, w, lr in zip(t["parametrisation"], t["width"], t["best_lr"])}
        lrs = {float(lr) for run in self.runs.values() for lr in run.summary()["lr"]}
        return edge_warnings(best, sorted(lrs))

    def drift(self) -> dict[str, float]:
        """Per parametrisation: how far the optimum moves over the widths, in decades
        (``log10`` of the largest over the smallest optimum)."""
        t = self.table()
        return {p: float(math.log10(g["optimum"].max() / g["optimum"].min()))
                for p, g in t.groupby("parametrisation", sort=False)}

    def claims(self) -> list[Claim]:
        """muP's optimum stays within ``STABLE`` decades; SP's moves more (Yang et al.)."""
        d = self.drift()
        widths = sorted({w for _, w in self.runs})
        span = f"widths {widths[0]} to {widths[-1]}"
        return [
            Claim("under muP the optimal rate stays put as the width grows (Yang et al. 2022)",
                  f"muP's optimum moves {d['mup']:.2f} decades over {span}",
                  graded(d["mup"] <= STABLE, d["mup"] <= 2 * STABLE),
                  f"holds: <= {STABLE:g} decades; partly: <= {2 * STABLE:g}",
                  {"drift": d["mup"]}),
            Claim("under the standard parametrisation the optimal rate moves with the width",
                  f"SP's optimum moves {d['sp']:.2f} decades, muP's {d['mup']:.2f}",
                  graded(d["sp"] > STABLE and d["sp"] > d["mup"] + STABLE / 2,
                         d["sp"] > d["mup"]),
                  f"holds: SP moves more than {STABLE:g} decades and {STABLE / 2:g} more than "
                  "muP; partly: more than muP", {"drift": d["sp"]}),
        ]

    def verdict(self) -> str:
        """One line: each parametrisation's drift and the claims' verdicts."""
        d = self.drift()
        return (f"width ({self.optimizer}): the optimum moves {d['sp']:.2f} decades under SP, "
                f"{d['mup']:.2f} under muP; claims: "
                + ", ".join(c.verdict for c in self.claims()))

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write each population (``sp-W/``, ``mup-W/``), ``coordinates.csv``,
        ``width.json`` and ``claims.csv``."""
        out = Path(out)
        written = [p for (param, w), run in self.runs.items()
                   for p in run.save(out / f"{param}-{w}")]
        frame = claims_frame(self.claims())
        meta = {"study": "width", "optimizer": self.optimizer,
                "runs": [[p, w] for p, w in self.runs], "verdict": self.verdict()}
        written.append(atomic_write(out / "coordinates.csv",
                                    lambda p: self.coordinates.to_csv(p, index=False)))
        written.append(atomic_write(out / "claims.csv", lambda p: frame.to_csv(p, index=False)))
        written.append(atomic_write(out / "width.json",
                                    lambda p: p.write_text(json.dumps(meta, indent=2) + "\n")))
        return written

    @classmethod
    def load(cls, out: str | os.PathLike) -> WidthResult:
        """Read back :meth:`save`; the claims are recomputed from the records."""
        path = Path(out) / "width.json"
        if not path.is_file():
            raise LrlabError(f"{out} holds no width study (no width.json); give the --out "
                             "folder of lrlab width")
        meta = json.loads(path.read_text())
        runs = {(p, int(w)): SweepResult.load(Path(out) / f"{p}-{w}") for p, w in meta["runs"]}
        return cls(runs, str(meta["optimizer"]), pd.read_csv(Path(out) / "coordinates.csv"))

    def write_report(self, path: str | os.PathLike) -> Path:
        """The study's HTML page: verdict, claims, per width table, the plot."""
        from lrlab.report import write_page

        first = next(iter(self.runs.values()))
        return write_page(path, title=f"lrlab: width and the rate on {first.task} (SP vs muP)",
                          verdict=self.verdict(), warnings=self.warnings,
                          settings={"task": first.task, "optimizer": self.optimizer,
                                    "widths": sorted({w for _, w in self.runs}),
                                    "epochs": first.config.get("epochs")},
                          tables=[("claims, judged from the records", claims_frame(self.claims())),
                                  ("per parametrisation and width", self.table())],
                          figures=[(("final validation metric against the rate per width (SP, "
                                    "muP) and the coordinate check"), plot_width(self))])


def plot_width(result: WidthResult) -> Figure:
    """Top: final validation metric against the rate per width, SP left, muP right.
    Bottom: the coordinate check, mean |output| of the last hidden layer per step, by width."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 8.0), layout="constrained")
    axes = fig.subplots(2, 2)
    table = result.table()
    for col, param in enumerate(("sp", "mup")):
        ax = axes[0, col]
        for (p, w), run in sorted(result.runs.items()):
            if p != param:
                continue
            s = run.summary()
            value = s[f"final_val_{run.monitor}"].where(~run.members["diverged"].to_numpy())
            curve = value.groupby(s["lr"]).mean()
            line, = ax.plot(curve.index, curve.to_numpy(), marker="o", label=f"width {w}")
            opt = table[(table["parametrisation"] == p) & (table["width"] == w)]["optimum"]
            ax.axvline(float(opt.iloc[0]), color=line.get_color(), alpha=0.4, linestyle=":")
        ax.set(xscale="log", xlabel="learning rate", title=f"{param.upper()}: final "
               f"validation {run.monitor}")
        ax.legend(fontsize="x-small")
        coords = result.coordinates
        mine = coords[(coords["parametrisation"] == param)
                      & (coords["layer"] == coords["layer"].max() - 1)]
        ax = axes[1, col]
        for w, group in mine.groupby("width"):
            ax.plot(group["step"], group["l1"], marker="o", label=f"width {w}")
        ax.set(yscale="log", xlabel="step", ylabel="mean |hidden output|",
               title=f"{param.upper()}: coordinate check (last hidden layer)")
        ax.legend(fontsize="x-small")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    return fig
